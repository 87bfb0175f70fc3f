/** `blvnet compare tam tsm`: temporal modules on equal terms (bench's `compare`), printed as a table. */

import { COMPARE_DEFAULTS, compare, compareLevels, TEMPORAL_MODULES, toMarkdown } from "@blvnet/bench";
import { SYNTH_CLASSES, SYNTH_LEVELS } from "@blvnet/data";
import { ENGINES, type EngineKind } from "@blvnet/train";
import type { Command } from "commander";
import { choice, FlagError, int, intList, num } from "../flags/parsers.js";

interface CompareFlags {
  backbone: number;
  blvnetDepth: number;
  level: number;
  classes: string;
  perClass: number;
  valPerClass: number;
  warmup: number;
  levels?: number[];
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

/** "8" = the first 8 synthetic classes; "grow,shrink" = those classes. */
function classList(value: string): string[] {
  const v = value.trim();
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n < 2 || n > SYNTH_CLASSES.length)
      throw new FlagError(`--classes must be 2..${SYNTH_CLASSES.length} or a list of ${SYNTH_CLASSES.join(", ")}`);
    return SYNTH_CLASSES.slice(0, n);
  }
  return v
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
}

/** "3" = seeds 0, 1, 2; "0,4" = those seeds. */
function seedList(value: string): number[] {
  return /^\d+$/.test(value.trim()) ? [...Array(Number(value)).keys()] : intList("--seeds", { min: 0 })(value);
}

export function registerCompareCommand(program: Command): void {
  const d = COMPARE_DEFAULTS;
  program
    .command("compare")
    .description(
      "compare temporal modules on equal terms (same backbone, frames, data, schedule, seeds): accuracy, MACs, params, memory, speed",
    )
    .argument(
      "[modules...]",
      `temporal modules: ${Object.keys(TEMPORAL_MODULES).join(", ")} (TSN = no temporal module is always included)`,
      [...d.modules],
    )
    .option("--backbone <depth>", "ResNet depth of tam, tsm, tsn", int("--backbone"), d.backbone)
    .option("--blvnet-depth <depth>", "bLResNet depth of blvnet-tam and blvnet (50, 101, 152)", int("--blvnet-depth"), d.blvnetDepth)
    .option("--width <w>", "base channel width (64 = the official ResNet; 16 trains in minutes on a CPU)", int("--width"), d.width)
    .option("--frames <n>", "frames per clip", int("--frames"), d.frames)
    .option("--size <n>", "input height = width", int("--size"), d.size)
    .option(
      "--data <dir>",
      "dataset folder (default: the synthetic temporal benchmark, rendered in memory, new clips every epoch, each seed its own clips)",
    )
    .option(
      "--level <n>",
      `synthetic difficulty: ${SYNTH_LEVELS.map((n, i) => `${i} ${n}`).join(", ")}`,
      int("--level", { min: 0, max: SYNTH_LEVELS.length - 1 }),
      d.level,
    )
    .option(
      "--levels <list>",
      "sweep these levels (e.g. 0,1,2,3,4): the comparison at each, plus <out>/levels.md, levels.csv, levels.svg",
      intList("--levels", { min: 0 }),
    )
    .option("--classes <n|list>", "synthetic classes: the first n, or a comma-separated list", String(d.classes.length))
    .option("--per-class <n>", "synthetic training clips per class per epoch", int("--per-class"), d.perClass)
    .option("--val-per-class <n>", "synthetic validation clips per class", int("--val-per-class"), d.valPerClass)
    .option("--seeds <n>", "number of seeds (0..n-1) or a comma-separated list", String(d.seeds.length))
    .option("--epochs <n>", "training epochs", int("--epochs"), d.epochs)
    .option("--batch <n>", "clips per batch", int("--batch"), d.batch)
    .option("--lr <x>", "base learning rate (cosine schedule)", num("--lr"), d.lr)
    .option("--warmup <epochs>", "linear warm-up epochs before the cosine decay", num("--warmup", { min: 0 }), d.warmup)
    .option("--engine <name>", "training engine: tfjs or ort", choice("--engine", ENGINES), d.engine)
    .option("--speed-backend <name>", "backend of the speed column", d.speedBackend)
    .option("--out <dir>", "run directory (finished rows are skipped on a rerun)", d.out)
    .option("--no-progress", "no progress bars")
    .addHelpText("after", "\nWrites <out>/results.csv, <out>/compare.md, <out>/compare.csv and <out>/compare.svg.")
    .action(async function (this: Command, modules: string[], f: CompareFlags) {
      const config = {
        ...f,
        modules,
        classes: classList(f.classes),
        seeds: seedList(f.seeds),
        backend: this.optsWithGlobals().backend as string | undefined,
      };
      if (f.levels) {
        const l = await compareLevels({ ...config, levels: f.levels });
        console.log(toMarkdown(l.table));
        console.log(`wrote ${l.files.join(", ")}`);
        if (l.failed.length) process.exitCode = 1;
        return;
      }
      const s = await compare(config);
      console.log(toMarkdown(s.table));
      console.log(`wrote ${s.files.join(", ")}`);
      if (s.failed.length) process.exitCode = 1;
    });
}
