/**
 * `blvnet compare tam tsm`: temporal modules on equal terms — the same ResNet backbone, width,
 * frames, input size, data, schedule and seeds with TAM, TSM and no temporal module (TSN) — as a
 * table of accuracy (mean ± std over seeds), MACs, params, training memory and speed, plus a plot.
 */
import { basename, join, resolve } from "node:path";
import type { Command } from "commander";
import { stringify } from "csv-stringify/sync";
import { initBackend, requestedBackend } from "@blvnet/engine-tfjs";
import { isOrtBackend } from "@blvnet/engine-onnx";
import { UserError } from "@blvnet/core";
import { writeFileAtomic } from "@blvnet/io";
import { synthesize } from "@blvnet/data";
import { chart } from "@blvnet/bench";
import { type Table, toMarkdown } from "@blvnet/bench";
import { accuracyGroups, meanStd, num } from "@blvnet/bench";
import type { Row } from "@blvnet/bench";
import { runSweep } from "@blvnet/bench";
import { accuracyRunner } from "@blvnet/bench";
import { runProfile } from "@blvnet/bench";
import { speedRunner } from "@blvnet/bench";
import type { ModelVariant, SweepSpec } from "@blvnet/bench";
import { readRows, writeRows } from "@blvnet/bench";
import { parseSeeds } from "./reproduce.js";

/** Temporal module name -> registry model on the ResNet backbone. */
const MODULES: Record<string, string> = { tam: "tam-resnet", tsm: "tsm", none: "tsn", tsn: "tsn" };

interface CompareArgs {
  backbone: number;
  width: number;
  frames: number;
  size: number;
  data?: string;
  seeds: string;
  epochs: number;
  batch: number;
  lr: number;
  engine: string;
  speedBackend: string;
  out: string;
  progress: boolean;
}

const int = (flag: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`${flag} must be a positive integer, got "${v}"`);
  return n;
};

export function registerCompareCommand(program: Command): void {
  program
    .command("compare")
    .description("compare temporal modules on equal terms (same backbone, frames, data, schedule, seeds): accuracy, MACs, params, memory, speed")
    .argument("[modules...]", `temporal modules: ${Object.keys(MODULES).join(", ")} (TSN = no temporal module is always included)`, ["tam", "tsm"])
    .option("--backbone <depth>", "ResNet depth", int("--backbone"), 50)
    .option("--width <w>", "base channel width (64 = the official ResNet; 16 trains in minutes on a CPU)", int("--width"), 16)
    .option("--frames <n>", "frames per clip", int("--frames"), 8)
    .option("--size <n>", "input height = width", int("--size"), 64)
    .option("--data <dir>", "dataset folder (default: the synthetic temporal benchmark, generated on the fly)")
    .option("--seeds <n>", "number of seeds (0..n-1) or a comma-separated list", "3")
    .option("--epochs <n>", "training epochs", int("--epochs"), 8)
    .option("--batch <n>", "clips per batch", int("--batch"), 8)
    .option("--lr <x>", "base learning rate (cosine schedule)", (v) => Number(v), 0.01)
    .option("--engine <name>", "training engine: tfjs or ort", "tfjs")
    .option("--speed-backend <name>", "backend of the speed column", "ort")
    .option("--out <dir>", "run directory (finished rows are skipped on a rerun)", "results/runs/compare")
    .option("--no-progress", "no progress bars")
    .addHelpText("after", "\nWrites <out>/results.csv, <out>/compare.md, <out>/compare.csv and <out>/compare.svg.")
    .action(async function (this: Command, modules: string[], args: CompareArgs) {
      const code = await runCompare(modules, args, this.optsWithGlobals().backend as string | undefined);
      if (code) process.exitCode = code;
    });
}

function seedList(s: string): number[] {
  return /^\d+$/.test(s.trim()) ? [...Array(Number(s)).keys()] : parseSeeds(s);
}

export async function runCompare(modules: string[], args: CompareArgs, backend?: string): Promise<number> {
  for (const m of modules) if (!MODULES[m]) throw new UserError(`unknown temporal module "${m}"; choose from ${Object.keys(MODULES).join(", ")}`);
  const models = [...new Set([...modules.map((m) => MODULES[m]), "tsn"])];
  const seeds = seedList(args.seeds);
  if (!seeds.length) throw new UserError("--seeds must name at least one seed");
  const outDir = resolve(args.out);
  const dataDir = args.data ? resolve(args.data) : resolve("datasets", "synthetic-compare");
  if (!args.data) {
    const r = await synthesize(dataDir, { train: 24, val: 10, frames: args.frames, size: args.size, seed: 0 });
    console.error(`${r.reused ? "using" : "generated"} synthetic benchmark ${dataDir}`);
  }
  const dataset = args.data ? basename(dataDir) : "synthetic";
  const asked = requestedBackend(backend);
  const trainBackend = args.engine === "ort" ? "ort" : await initBackend(asked && !isOrtBackend(asked) ? asked : undefined);
  const variants: ModelVariant[] = models.map((model) => ({ model, options: { depth: args.backbone, width: args.width } }));
  const base = { frames: [args.frames], sizes: [args.size], models: variants };
  const specs: SweepSpec[] = [
    { ...base, name: "compare-profile", kinds: ["profile"], batches: [1], backends: ["analytic"] },
    { ...base, name: "compare-speed", kinds: ["speed"], batches: [1], backends: [args.speedBackend] },
    { ...base, name: "compare-accuracy", kinds: ["accuracy"], batches: [args.batch], backends: [trainBackend], datasets: [dataset], seeds },
  ];
  const runners = {
    profile: runProfile,
    speed: speedRunner({ warmup: 1, iters: 5, train: false }),
    accuracy: accuracyRunner({
      outDir, dataDir, epochs: args.epochs, lr: args.lr, dropout: 0.5, engine: args.engine,
      backend: trainBackend === "ort" ? undefined : trainBackend, progress: args.progress,
    }),
  };
  let failed = 0;
  for (const spec of specs) failed += (await runSweep(spec, { outDir, runners, progress: args.progress })).failed.length;

  const rows = readRows(join(outDir, "results.csv")).filter((r) => models.includes(String(r.model)) && num(r, "frames") === args.frames && num(r, "size") === args.size);
  const table = compareTable(rows, models);
  writeFileAtomic(join(outDir, "compare.md"), toMarkdown(table));
  writeRows(join(outDir, "compare-rows.csv"), rows);
  writeFileAtomic(join(outDir, "compare.csv"), stringify([table.headers, ...table.rows]));
  writeFileAtomic(join(outDir, "compare.svg"), compareChart(rows, models));
  console.log(toMarkdown(table));
  console.log(`wrote ${["compare.md", "compare.csv", "compare.svg", "results.csv"].map((f) => join(outDir, f)).join(", ")}`);
  return failed ? 1 : 0;
}

export function compareTable(rows: Row[], models: string[]): Table {
  const groups = accuracyGroups(rows);
  const pm = (xs: number[]) => (xs.length ? `${meanStd(xs).mean.toFixed(1)} ± ${meanStd(xs).std.toFixed(1)}` : "");
  return {
    title: "Temporal modules on equal terms",
    headers: ["model", "temporal", "seeds", "top-1 (%)", "top-5 (%)", "pair acc. (%)", "params (M)", "GMACs", "saved act. (MiB)", "latency (ms)", "backend"],
    rows: models.map((m) => {
      const acc = rows.filter((r) => r.model === m && r.kind === "accuracy");
      const g = groups.find((x) => x.row.model === m);
      const prof = rows.find((r) => r.model === m && r.kind === "profile");
      const speed = rows.find((r) => r.model === m && r.kind === "speed");
      const any = prof ?? speed ?? acc[0];
      return [
        String(any?.model_id ?? m), String(any?.temporal ?? ""), acc.length, pm(g?.top1 ?? []), pm(g?.top5 ?? []),
        pm(acc.map((r) => num(r, "pair_accuracy")).filter(Number.isFinite)),
        prof ? +(num(prof, "params") / 1e6).toFixed(3) : "", prof ? +(num(prof, "macs") / 1e9).toFixed(3) : "",
        prof ? +(num(prof, "saved_activation_bytes") / 2 ** 20).toFixed(1) : "", speed ? num(speed, "latency_ms") : "", String(speed?.backend ?? ""),
      ];
    }),
    note: "Same backbone, width, frames, input size, data, schedule and seeds for every row. pair acc. = share of videos whose class outscores its time-reversed partner (synthetic benchmark; chance 50%).",
  };
}

function compareChart(rows: Row[], models: string[]): string {
  const series = models.map((m) => {
    const acc = rows.filter((r) => r.model === m && r.kind === "accuracy");
    const prof = rows.find((r) => r.model === m && r.kind === "profile");
    const x = prof ? num(prof, "macs") / 1e9 : NaN;
    return { name: String(prof?.model_id ?? m), points: acc.map((r) => ({ x, y: num(r, "top1"), label: `seed ${r.seed}` })).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)) };
  });
  return chart(series, { title: "Top-1 per seed vs GMACs (equal terms)", xLabel: "GMACs per clip", yLabel: "top-1 (%)" });
}
