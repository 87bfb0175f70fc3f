import {
  buildTarget,
  checkReferenceConfigs,
  defaultCountsFile,
  type Format,
  measuredRows,
  measureMemory,
  moduleRows,
  parseFormat,
  readCounts,
  referenceRows,
  renderRows,
  resolveTarget,
  summaryRows,
  TOLERANCE,
  writeProfileTables,
} from "@blvnet/bench";
import { type ModelOptions, profileModel, UserError } from "@blvnet/core";
import { parseModelOpts } from "@blvnet/models";
import type { Command } from "commander";
import { int } from "../flags/parsers.js";

interface ProfileFlags {
  opt: string[];
  frames?: string;
  size?: string;
  batch: string;
  byModule?: string | boolean;
  format: string;
  referenceConfigs?: boolean;
  check?: boolean;
  counts?: string;
  tables?: string;
  measure?: boolean;
}

const collect = (v: string, acc: string[]) => [...acc, v];
/** Rendered text without its final newline (console.log adds one). */
const print = (text: string) => console.log(text.replace(/\n$/, ""));

export function registerProfileCommand(program: Command): void {
  program
    .command("profile")
    .description("count parameters, MACs, FLOPs and activation memory of a model (shape-only, nothing is allocated)")
    .argument(
      "[model]",
      "registered model (blvnet-tam, tsm, r3d, ...) or official configuration name (blvnet-tam-50-f8x2, tsm-r50-16f, r2plus1d_18-16f)",
    )
    .option("--opt <key=value>", "model option (repeatable), e.g. --opt depth=101", collect, [])
    .option("--frames <n>", "frames per clip (model option `frames`)")
    .option("--size <s>", "input height = width (model option `size`)")
    .option("--batch <b>", "clips per batch", "1")
    .option("--by-module [depth]", "add a per-module breakdown, module paths cut to <depth> segments (default 2)")
    .option("--format <fmt>", "table | csv | md | json", "table")
    .option("--reference-configs", "profile every configuration of the official counts file (one row each)")
    .option(
      "--check",
      `with --reference-configs: print ours, official and relative error; exit 1 if params/MACs/other FLOPs differ by more than ${TOLERANCE.params * 100}% or saved activations by more than ${TOLERANCE.saved_activation_bytes * 100}%`,
    )
    .option(
      "--counts <file>",
      "official counts CSV (default: $BLVNET_COUNTS, ../shared/reference/counts.csv beside the checkout, else results/reference/counts.csv)",
    )
    .option(
      "--measure",
      "also run the model with tfjs (global --backend) and report measured peak tensor bytes (eval forward; train forward+backward) and peak RSS; slow at 224x224",
    )
    .option("--tables <dir>", "write the generated FLOPs/params and memory-vs-frames tables (Markdown + CSV) into <dir>")
    .addHelpText(
      "after",
      [
        "",
        "MACs = multiply-accumulates (what papers call FLOPs); other FLOPs = BN, ReLU, adds, pools, reductions.",
        "Saved for backward = distinct bytes PyTorch autograd keeps in a training step (fp32, parameters excluded).",
        "Inference peak = live activation bytes of an eval forward that frees each tensor after its last use.",
        "",
        "Examples:",
        "  blvnet profile blvnet-tam --frames 16 --by-module",
        "  blvnet profile tsm-r50-16f --batch 8 --format json",
        "  blvnet profile --reference-configs --check",
        "  blvnet profile --tables results/profile",
        "  blvnet profile --tables results/profile --measure --size 64   (adds memory-measured.*: tfjs runs, minutes)",
      ].join("\n"),
    )
    .action(async (model: string | undefined, flags: ProfileFlags) => {
      const format = parseFormat(flags.format);
      const batch = int("--batch")(flags.batch);
      if (flags.tables !== undefined) {
        const measure = flags.measure
          ? { size: flags.size === undefined ? 64 : int("--size")(flags.size), backend: program.opts().backend }
          : undefined;
        for (const f of writeProfileTables(flags.tables, flags.counts ?? defaultCountsFile(), measure)) console.log(`wrote ${f}`);
        return;
      }
      if (flags.referenceConfigs) {
        if (model) throw new UserError("give either a model or --reference-configs, not both");
        if (flags.measure) throw new UserError("--measure applies to one model or to --tables, not to --reference-configs");
        runReferenceConfigs(flags, format);
        return;
      }
      if (flags.check) throw new UserError("--check only applies to --reference-configs");
      if (!model) throw new UserError("name a model to profile (see `blvnet models`), or use --reference-configs / --tables");
      const overrides: ModelOptions = parseModelOpts(flags.opt);
      if (flags.frames !== undefined) overrides.frames = int("--frames")(flags.frames);
      if (flags.size !== undefined) overrides.size = int("--size")(flags.size);
      const built = buildTarget(resolveTarget(model, overrides));
      const profile = profileModel(built, batch);
      const measured = flags.measure ? await measureMemory(built, batch, program.opts().backend) : null;
      const summary = summaryRows(profile, format);
      if (measured) summary.push(...measuredRows(measured, batch, format));
      if (format === "json") {
        const depth = flags.byModule === undefined ? undefined : moduleDepth(flags.byModule);
        const out = {
          ...Object.assign({}, ...summary),
          flops: profile.flops,
          modules: depth === undefined ? undefined : moduleRows(profile, depth, format),
        };
        console.log(JSON.stringify(out, null, 2));
        return;
      }
      print(renderRows(format === "csv" ? [Object.assign({}, ...summary)] : summary, format));
      if (flags.byModule !== undefined) {
        if (format !== "csv") console.log("");
        print(renderRows(moduleRows(profile, moduleDepth(flags.byModule), format), format));
      }
    });
}

function moduleDepth(v: string | boolean): number {
  return v === true ? 2 : int("--by-module")(String(v));
}

function runReferenceConfigs(flags: ProfileFlags, format: Format): void {
  const checks = checkReferenceConfigs(readCounts(flags.counts ?? defaultCountsFile()));
  print(renderRows(referenceRows(checks, format, !!flags.check), format));
  if (flags.check) {
    const failed = checks.filter((c) => !c.ok);
    const summary = failed.length
      ? `${failed.length} of ${checks.length} configurations outside tolerance: ${failed.map((c) => c.config).join(", ")}`
      : `all ${checks.length} configurations within tolerance`;
    console.error(summary);
    if (failed.length) process.exitCode = 1;
  }
}
