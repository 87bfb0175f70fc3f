/** `blvnet compare tam tsm`: temporal modules on equal terms (bench's `compare`), printed as a table. */
import type { Command } from "commander";
import { compare, COMPARE_DEFAULTS, TEMPORAL_MODULES, toMarkdown } from "@blvnet/bench";
import { ENGINES, type EngineKind } from "@blvnet/train";
import { choice, int, intList, num } from "../flags/parsers.js";

interface CompareFlags {
  backbone: number;
  width: number;
  frames: number;
  size: number;
  data?: string;
  seeds: string;
  epochs: number;
  batch: number;
  lr: number;
  engine: EngineKind;
  speedBackend: string;
  out: string;
  progress: boolean;
}

/** "3" = seeds 0, 1, 2; "0,4" = those seeds. */
function seedList(value: string): number[] {
  return /^\d+$/.test(value.trim()) ? [...Array(Number(value)).keys()] : intList("--seeds", { min: 0 })(value);
}

export function registerCompareCommand(program: Command): void {
  const d = COMPARE_DEFAULTS;
  program
    .command("compare")
    .description("compare temporal modules on equal terms (same backbone, frames, data, schedule, seeds): accuracy, MACs, params, memory, speed")
    .argument("[modules...]", `temporal modules: ${Object.keys(TEMPORAL_MODULES).join(", ")} (TSN = no temporal module is always included)`, [...d.modules])
    .option("--backbone <depth>", "ResNet depth", int("--backbone"), d.backbone)
    .option("--width <w>", "base channel width (64 = the official ResNet; 16 trains in minutes on a CPU)", int("--width"), d.width)
    .option("--frames <n>", "frames per clip", int("--frames"), d.frames)
    .option("--size <n>", "input height = width", int("--size"), d.size)
    .option("--data <dir>", "dataset folder (default: the synthetic temporal benchmark, generated on the fly)")
    .option("--seeds <n>", "number of seeds (0..n-1) or a comma-separated list", String(d.seeds.length))
    .option("--epochs <n>", "training epochs", int("--epochs"), d.epochs)
    .option("--batch <n>", "clips per batch", int("--batch"), d.batch)
    .option("--lr <x>", "base learning rate (cosine schedule)", num("--lr"), d.lr)
    .option("--engine <name>", "training engine: tfjs or ort", choice("--engine", ENGINES), d.engine)
    .option("--speed-backend <name>", "backend of the speed column", d.speedBackend)
    .option("--out <dir>", "run directory (finished rows are skipped on a rerun)", d.out)
    .option("--no-progress", "no progress bars")
    .addHelpText("after", "\nWrites <out>/results.csv, <out>/compare.md, <out>/compare.csv and <out>/compare.svg.")
    .action(async function (this: Command, modules: string[], f: CompareFlags) {
      const s = await compare({
        ...f,
        modules,
        seeds: seedList(f.seeds),
        backend: this.optsWithGlobals().backend as string | undefined,
      });
      console.log(toMarkdown(s.table));
      console.log(`wrote ${s.files.join(", ")}`);
      if (s.failed.length) process.exitCode = 1;
    });
}
