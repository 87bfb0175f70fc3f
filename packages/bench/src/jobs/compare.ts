/**
 * Temporal modules on equal terms: the same ResNet backbone, width, frames, input size, data,
 * schedule and seeds with TAM, TSM and no temporal module (TSN), as a table of accuracy (mean ± std
 * over seeds), MACs, params, training memory and speed, plus a plot.
 */
import { basename, join, resolve } from "node:path";
import { stringify } from "csv-stringify/sync";
import { UserError } from "@blvnet/core";
import { synthesize } from "@blvnet/data";
import { writeFileAtomic } from "@blvnet/io";
import type { EngineKind, LogSink } from "@blvnet/train";
import { chart } from "../publish/svg.js";
import { accuracyGroups, meanStd, num } from "../publish/tables.js";
import { type Table, toMarkdown } from "../publish/table.js";
import { accuracyRunner } from "../runners/accuracy.js";
import { runProfile } from "../runners/profile.js";
import { speedRunner } from "../runners/speed.js";
import type { Row } from "../sweep/rows.js";
import { runSweep, type SweepSummary } from "../sweep/run.js";
import type { ModelVariant, SweepSpec } from "../sweep/spec.js";
import { readStore, writeRows } from "../sweep/store.js";
import { trainBackend } from "./backend.js";
import { checkSpecs } from "./reproduce.js";

/** Temporal module name -> registry model on the ResNet backbone. */
export const TEMPORAL_MODULES: Record<string, string> = { tam: "tam-resnet", tsm: "tsm", none: "tsn", tsn: "tsn" };

export interface CompareConfig {
  /** Temporal modules (keys of TEMPORAL_MODULES); TSN (none) is always included. */
  modules?: string[];
  /** ResNet depth and base channel width (64 = the official ResNet; 16 trains in minutes on a CPU). */
  backbone?: number;
  width?: number;
  frames?: number;
  size?: number;
  /** Dataset folder (default: the synthetic temporal benchmark, generated in datasets/synthetic-compare). */
  data?: string;
  seeds?: number[];
  epochs?: number;
  batch?: number;
  /** Base learning rate (cosine schedule). */
  lr?: number;
  engine?: EngineKind;
  /** tfjs backend of the training runs (an ort name means the best tfjs backend). */
  backend?: string;
  /** Backend of the speed column. */
  speedBackend?: string;
  /** Run directory (finished rows are skipped on a rerun). */
  out?: string;
  progress?: boolean;
  log?: LogSink;
}

export const COMPARE_DEFAULTS = {
  modules: ["tam", "tsm"],
  backbone: 50,
  width: 16,
  frames: 8,
  size: 64,
  seeds: [0, 1, 2],
  epochs: 8,
  batch: 8,
  lr: 0.01,
  engine: "tfjs",
  speedBackend: "ort",
  out: "results/runs/compare",
} as const satisfies CompareConfig;

export interface CompareSummary {
  outDir: string;
  table: Table;
  /** The rows of the compared models (every kind). */
  rows: Row[];
  /** compare.md, compare.csv, compare.svg, results.csv. */
  files: string[];
  failed: SweepSummary["failed"];
}

export async function compare(config: CompareConfig = {}): Promise<CompareSummary> {
  const c = { ...COMPARE_DEFAULTS, ...config };
  const log = config.log ?? ((m: string) => console.error(m));
  for (const m of c.modules) if (!TEMPORAL_MODULES[m]) throw new UserError(`unknown temporal module "${m}"; choose from ${Object.keys(TEMPORAL_MODULES).join(", ")}`);
  const models = [...new Set([...c.modules.map((m) => TEMPORAL_MODULES[m]!), "tsn"])];
  if (!c.seeds.length) throw new UserError("--seeds must name at least one seed");
  const outDir = resolve(c.out);
  const dataDir = config.data ? resolve(config.data) : resolve("datasets", "synthetic-compare");
  const dataset = config.data ? basename(dataDir) : "synthetic";
  const backend = await trainBackend(c.engine, config.backend);
  const variants: ModelVariant[] = models.map((model) => ({ model, options: { depth: c.backbone, width: c.width } }));
  const base = { frames: [c.frames], sizes: [c.size], models: variants };
  const specs: SweepSpec[] = [
    { ...base, name: "compare-profile", kinds: ["profile"], batches: [1], backends: ["analytic"] },
    { ...base, name: "compare-speed", kinds: ["speed"], batches: [1], backends: [c.speedBackend] },
    { ...base, name: "compare-accuracy", kinds: ["accuracy"], batches: [c.batch], backends: [backend], datasets: [dataset], seeds: [...c.seeds] },
  ];
  checkSpecs(specs);
  if (!config.data) {
    const r = await synthesize(dataDir, { train: 24, val: 10, frames: c.frames, size: c.size, seed: 0 });
    log(`${r.reused ? "using" : "generated"} synthetic benchmark ${dataDir}`);
  }
  const runners = {
    profile: runProfile,
    speed: speedRunner({ warmup: 1, iters: 5, train: false }),
    accuracy: accuracyRunner({
      outDir, dataDir, epochs: c.epochs, lr: c.lr, dropout: 0.5, engine: c.engine,
      backend: backend === "ort" ? undefined : backend, progress: c.progress ?? false,
    }),
  };
  const failed: SweepSummary["failed"] = [];
  for (const spec of specs) failed.push(...(await runSweep(spec, { outDir, runners, progress: c.progress, log })).failed);

  const rows = readStore(outDir).rows.filter((r) => models.includes(String(r.model)) && num(r, "frames") === c.frames && num(r, "size") === c.size);
  const table = compareTable(rows, models);
  writeFileAtomic(join(outDir, "compare.md"), toMarkdown(table));
  writeRows(join(outDir, "compare-rows.csv"), rows);
  writeFileAtomic(join(outDir, "compare.csv"), stringify([table.headers, ...table.rows]));
  writeFileAtomic(join(outDir, "compare.svg"), compareChart(rows, models));
  const files = ["compare.md", "compare.csv", "compare.svg", "results.csv"].map((f) => join(outDir, f));
  return { outDir, table, rows, files, failed };
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
