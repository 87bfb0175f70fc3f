/**
 * Temporal modules on equal terms: the same ResNet backbone, width, frames, input size, data,
 * schedule and seeds with TAM, TSM and no temporal module (TSN), as a table of accuracy (mean ± std
 * and a 95% confidence interval over seeds, and the paired difference of each model against TSN),
 * MACs, params, training memory and speed, plus a plot with error bars. `blvnet-tam` and `blvnet`
 * (the same bLResNet without TAM) run the paper's ablation on the same terms.
 *
 * Default: the CPU recipe (recipe/cpu-recipe.ts) on the synthetic benchmark rendered in memory
 * (level 0, 8 classes, new clips every epoch), each seed with its own clips.
 */
import { basename, join, resolve } from "node:path";
import { UserError } from "@blvnet/core";
import { SYNTH_LEVELS } from "@blvnet/data";
import { writeFileAtomic } from "@blvnet/io";
import type { EngineKind, LogSink } from "@blvnet/train";
import { stringify } from "csv-stringify/sync";
import { formatCi, formatDifference, formatMeanStd, PERCENT, pairedDifference, summarize } from "../publish/stats.js";
import { chart } from "../publish/svg.js";
import { type Table, toMarkdown } from "../publish/table.js";
import { num } from "../publish/tables.js";
import { CPU_RECIPE } from "../recipe/cpu-recipe.js";
import { accuracyRunner } from "../runners/accuracy.js";
import { runProfile } from "../runners/profile.js";
import { speedRunner } from "../runners/speed.js";
import { syntheticDataset } from "../sweep/reproduce.js";
import type { Row } from "../sweep/rows.js";
import { runSweep, type SweepSummary } from "../sweep/run.js";
import type { ModelVariant, SweepSpec } from "../sweep/spec.js";
import { readStore, writeRows } from "../sweep/store.js";
import { trainBackend } from "./backend.js";
import { checkSpecs } from "./reproduce.js";

/** Temporal module name -> registry model on the ResNet backbone. */
export const TEMPORAL_MODULES: Record<string, string> = {
  tam: "tam-resnet",
  tsm: "tsm",
  none: "tsn",
  tsn: "tsn",
  "blvnet-tam": "blvnet-tam",
  blvnet: "blvnet",
};

/** The bLResNet models (depth >= 50). */
const BLVNET_MODELS = new Set(["blvnet-tam", "blvnet"]);

export interface CompareConfig {
  /** Temporal modules (keys of TEMPORAL_MODULES); TSN (none) is always included. */
  modules?: string[];
  /** ResNet depth and base channel width (64 = the official ResNet; 8 trains in about a minute on a CPU). */
  backbone?: number;
  /** Depth of the bLResNet of blvnet-tam / blvnet (50 or more). */
  blvnetDepth?: number;
  width?: number;
  frames?: number;
  size?: number;
  /** Dataset folder (default: the synthetic temporal benchmark rendered in memory). */
  data?: string;
  /** Synthetic benchmark: difficulty level (0..4), classes, training clips per class per epoch (fresh), validation clips per class. */
  level?: number;
  classes?: readonly string[];
  perClass?: number;
  valPerClass?: number;
  seeds?: number[];
  epochs?: number;
  batch?: number;
  /** Base learning rate (cosine schedule after `warmup` epochs). */
  lr?: number;
  warmup?: number;
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
  backbone: CPU_RECIPE.depth,
  blvnetDepth: CPU_RECIPE.blvnetDepth,
  width: CPU_RECIPE.width,
  frames: CPU_RECIPE.frames,
  size: CPU_RECIPE.size,
  level: CPU_RECIPE.level,
  classes: CPU_RECIPE.classes,
  perClass: CPU_RECIPE.perClass,
  valPerClass: CPU_RECIPE.valPerClass,
  seeds: [0, 1, 2],
  epochs: CPU_RECIPE.epochs,
  batch: CPU_RECIPE.batch,
  lr: CPU_RECIPE.lr,
  warmup: CPU_RECIPE.warmupEpochs,
  engine: CPU_RECIPE.engine,
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
  for (const m of c.modules)
    if (!TEMPORAL_MODULES[m])
      throw new UserError(`unknown temporal module "${m}"; choose from ${Object.keys(TEMPORAL_MODULES).join(", ")}`);
  const models = [...new Set([...c.modules.map((m) => TEMPORAL_MODULES[m]!), "tsn"])];
  if (!c.seeds.length) throw new UserError("--seeds must name at least one seed");
  if (!Number.isInteger(c.level) || c.level < 0 || c.level >= SYNTH_LEVELS.length)
    throw new UserError(`--level must be an integer in 0..${SYNTH_LEVELS.length - 1}, got ${c.level}`);
  const outDir = resolve(c.out);
  const dataDir = config.data ? resolve(config.data) : undefined;
  const dataset = dataDir ? basename(dataDir) : syntheticDataset(c.level, c.classes.length);
  const backend = await trainBackend(c.engine, config.backend);
  const variants: ModelVariant[] = models.map((model) => ({
    model,
    options: { depth: BLVNET_MODELS.has(model) ? c.blvnetDepth : c.backbone, width: c.width },
  }));
  const base = { frames: [c.frames], sizes: [c.size], models: variants };
  const specs: SweepSpec[] = [
    { ...base, name: "compare-profile", kinds: ["profile"], batches: [1], backends: ["analytic"] },
    { ...base, name: "compare-speed", kinds: ["speed"], batches: [1], backends: [c.speedBackend] },
    {
      ...base,
      name: "compare-accuracy",
      kinds: ["accuracy"],
      batches: [c.batch],
      backends: [backend],
      datasets: [dataset],
      seeds: [...c.seeds],
    },
  ];
  checkSpecs(specs);
  const synthetic = dataDir
    ? undefined
    : { level: c.level, classes: c.classes, perClass: c.perClass, valPerClass: c.valPerClass, fresh: true };
  const runners = {
    profile: runProfile,
    speed: speedRunner({ warmup: 1, iters: 5, train: false }),
    accuracy: accuracyRunner({
      outDir,
      dataDir,
      synthetic,
      epochs: c.epochs,
      lr: c.lr,
      warmupEpochs: c.warmup,
      dropout: CPU_RECIPE.dropout,
      engine: c.engine,
      backend: backend === "ort" ? undefined : backend,
      progress: c.progress ?? false,
    }),
  };
  const failed: SweepSummary["failed"] = [];
  for (const spec of specs) failed.push(...(await runSweep(spec, { outDir, runners, progress: c.progress, log })).failed);

  const rows = readStore(outDir).rows.filter(
    (r) =>
      models.includes(String(r.model)) &&
      num(r, "frames") === c.frames &&
      num(r, "size") === c.size &&
      (r.kind !== "accuracy" || (r.dataset === dataset && c.seeds.includes(num(r, "seed")))),
  );
  const table = compareTable(rows, models);
  writeFileAtomic(join(outDir, "compare.md"), toMarkdown(table));
  writeRows(join(outDir, "compare-rows.csv"), rows);
  writeFileAtomic(join(outDir, "compare.csv"), stringify([table.headers, ...table.rows]));
  writeFileAtomic(join(outDir, "compare.svg"), compareChart(rows, models));
  const files = ["compare.md", "compare.csv", "compare.svg", "results.csv"].map((f) => join(outDir, f));
  return { outDir, table, rows, files, failed };
}

/** Top-1 per seed of a model's accuracy rows. */
function bySeed(rows: Row[], model: string, metric: "top1" | "pair_accuracy" = "top1"): Map<number, number> {
  return new Map(
    rows
      .filter((r) => r.model === model && r.kind === "accuracy" && Number.isFinite(num(r, metric)))
      .map((r) => [num(r, "seed"), num(r, metric)]),
  );
}

export function compareTable(rows: Row[], models: string[]): Table {
  const baseline = models.includes("tsn") ? bySeed(rows, "tsn") : undefined;
  return {
    title: "Temporal modules on equal terms",
    headers: [
      "model",
      "temporal",
      "seeds",
      "top-1 (%) mean ± std",
      "top-1 95% CI",
      "top-1 per seed",
      "vs TSN (paired, 95% CI)",
      "pair acc. (%)",
      "level",
      "params (M)",
      "GMACs",
      "saved act. (MiB)",
      "latency (ms)",
      "backend",
    ],
    rows: models.map((m) => {
      const acc = rows.filter((r) => r.model === m && r.kind === "accuracy").sort((a, b) => num(a, "seed") - num(b, "seed"));
      const top1 = bySeed(rows, m);
      const s = summarize([...top1.values()]);
      const prof = rows.find((r) => r.model === m && r.kind === "profile");
      const speed = rows.find((r) => r.model === m && r.kind === "speed");
      const any = prof ?? speed ?? acc[0];
      const diff = baseline && m !== "tsn" ? formatDifference(pairedDifference(top1, baseline)) : "";
      return [
        String(any?.model_id ?? m),
        String(any?.temporal ?? ""),
        acc.length,
        formatMeanStd(s),
        formatCi(s, 1, PERCENT),
        acc.map((r) => `${num(r, "top1").toFixed(1)} (s${r.seed})`).join(", "),
        diff,
        formatMeanStd(summarize([...bySeed(rows, m, "pair_accuracy").values()])),
        [...new Set(acc.map((r) => String(r.level ?? "")))].join(","),
        prof ? +(num(prof, "params") / 1e6).toFixed(3) : "",
        prof ? +(num(prof, "macs") / 1e9).toFixed(3) : "",
        prof ? +(num(prof, "saved_activation_bytes") / 2 ** 20).toFixed(1) : "",
        speed ? num(speed, "latency_ms") : "",
        String(speed?.backend ?? ""),
      ];
    }),
    note:
      "Same backbone, width, frames, input size, data, schedule and seeds for every row; each seed trains and evaluates on its own synthetic clips. " +
      "std = sample standard deviation over seeds; 95% CI = Student t interval of the mean over seeds (cut at 0 and 100); vs TSN = mean of the per-seed differences " +
      "(model - TSN, same seed) with its 95% CI. pair acc. = share of videos whose class outscores its time-reversed partner (chance 50%); on the " +
      "synthetic benchmark an order-blind model (TSN) can at best find the pair: pair chance = 50% top-1.",
  };
}

function compareChart(rows: Row[], models: string[]): string {
  const series = models.flatMap((m, i) => {
    const acc = rows.filter((r) => r.model === m && r.kind === "accuracy" && Number.isFinite(num(r, "top1")));
    if (!acc.length) return [];
    const s = summarize(acc.map((r) => num(r, "top1")));
    const id = String(acc[0]!.model_id ?? m);
    return [
      {
        name: `${id}: mean, 95% CI`,
        points: [
          {
            x: i + 1,
            y: s.mean,
            err: Number.isFinite(s.half) ? { lo: Math.max(0, s.lo), hi: Math.min(100, s.hi) } : undefined,
            label: formatMeanStd(s),
          },
        ],
      },
      { name: `${id}: seeds`, hollow: true, points: acc.map((r) => ({ x: i + 1.2, y: num(r, "top1") })) },
    ];
  });
  return chart(series, {
    title: "Top-1 over seeds (error bar: 95% CI)",
    xLabel: `model (${models.map((m, i) => `${i + 1} ${m}`).join(", ")})`,
    yLabel: "top-1 (%)",
  });
}

export interface LevelSweepSummary {
  outDir: string;
  table: Table;
  rows: Row[];
  /** levels.md, levels.csv, levels.svg. */
  files: string[];
  failed: SweepSummary["failed"];
}

/**
 * The level sweep: `compare` at each synthetic difficulty level (same models, recipe and seeds), as
 * a table (top-1 and pair accuracy per model and level) and a plot of top-1 vs level, so users see
 * where each model breaks at the CPU budget.
 */
export async function compareLevels(config: CompareConfig & { levels: number[] }): Promise<LevelSweepSummary> {
  if (config.data) throw new UserError("--levels sweeps the synthetic benchmark: it does not take --data");
  if (!config.levels.length) throw new UserError("--levels must name at least one level");
  const c = { ...COMPARE_DEFAULTS, ...config };
  for (const level of c.levels)
    if (!Number.isInteger(level) || level < 0 || level >= SYNTH_LEVELS.length)
      throw new UserError(`--levels: each level must be an integer in 0..${SYNTH_LEVELS.length - 1}, got ${level}`);
  const failed: SweepSummary["failed"] = [];
  let models: string[] = [];
  for (const level of c.levels) {
    const s = await compare({ ...config, level });
    failed.push(...s.failed);
    models = [...new Set(s.rows.map((r) => String(r.model)))];
  }
  const outDir = resolve(c.out);
  const datasets = new Map(c.levels.map((l) => [syntheticDataset(l, c.classes.length), l]));
  const rows = readStore(outDir).rows.filter(
    (r) =>
      r.kind === "accuracy" &&
      models.includes(String(r.model)) &&
      num(r, "frames") === c.frames &&
      num(r, "size") === c.size &&
      datasets.has(String(r.dataset)) &&
      c.seeds.includes(num(r, "seed")),
  );
  const cell = (m: string, level: number, metric: "top1" | "pair_accuracy") =>
    summarize(
      rows
        .filter((r) => r.model === m && num(r, "level") === level)
        .map((r) => num(r, metric))
        .filter(Number.isFinite),
    );
  const idOf = (m: string) => String(rows.find((r) => r.model === m)?.model_id ?? m);
  const table: Table = {
    title: "Accuracy per synthetic difficulty level (CPU recipe)",
    headers: ["model", "seeds", ...c.levels.map((l) => `${l} ${SYNTH_LEVELS[l]}: top-1 (pair)`)],
    rows: models.map((m) => [
      idOf(m),
      c.seeds.join(","),
      ...c.levels.map((l) => {
        const t = cell(m, l, "top1");
        const p = cell(m, l, "pair_accuracy");
        return t.n ? `${formatMeanStd(t)} (${formatMeanStd(p)})` : "";
      }),
    ]),
    note:
      `top-1 in % (mean ± std over seeds when more than one), pair accuracy in brackets (chance 50%). ${c.classes.length} classes: top-1 chance ${(100 / c.classes.length).toFixed(1)}%, ` +
      "pair chance 50% top-1 (what an order-blind model can reach). Levels add, in order: 1 a textured background, 2 distractors on a random walk, 3 flicker and pixel noise, 4 free colours (any contrast polarity, the original set).",
  };
  const series = models.map((m) => ({
    name: idOf(m),
    line: true,
    points: c.levels.flatMap((l) => {
      const t = cell(m, l, "top1");
      return t.n
        ? [{ x: l, y: t.mean, err: Number.isFinite(t.half) ? { lo: Math.max(0, t.lo), hi: Math.min(100, t.hi) } : undefined }]
        : [];
    }),
  }));
  writeFileAtomic(join(outDir, "levels.md"), toMarkdown(table));
  writeFileAtomic(join(outDir, "levels.csv"), stringify([table.headers, ...table.rows]));
  const bars = c.seeds.length > 1 ? ", error bars: 95% CI over seeds" : `, seed ${c.seeds.join(",")}`;
  writeFileAtomic(
    join(outDir, "levels.svg"),
    chart(series, {
      title: `Top-1 vs synthetic difficulty level${bars}`,
      xLabel: `level (${c.levels.map((l) => `${l} ${SYNTH_LEVELS[l]}`).join(", ")})`,
      yLabel: "top-1 (%)",
    }),
  );
  return { outDir, table, rows, files: ["levels.md", "levels.csv", "levels.svg", "results.csv"].map((f) => join(outDir, f)), failed };
}
