/** The sample-reading flags `train` and `eval` share: decoding parallelism and how many bad samples to tolerate. */
import { DEFAULT_MAX_SKIPPED } from "@blvnet/train";
import type { Command } from "commander";
import { countOrFraction, int } from "./parsers.js";

export interface SampleFlags {
  workers?: number;
  maxSkipped: number;
}

/** Add --workers and --max-skipped to `cmd`; returns `cmd` for chaining. */
export function addSampleOptions(cmd: Command): Command {
  return cmd
    .option("--workers <n>", "samples decoded at once", int("--workers"))
    .option(
      "--max-skipped <n|fraction|%>",
      "stop once more samples than this were skipped (missing/corrupt frames, bad list lines)",
      countOrFraction("--max-skipped"),
      DEFAULT_MAX_SKIPPED,
    );
}
