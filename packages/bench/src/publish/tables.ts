/** The report's tables, built from result rows and the shipped reference figures. */

import { configName } from "../profiling/configs.js";
import { readReference } from "../reference.js";
import type { Row } from "../sweep/rows.js";
import { formatCi, formatDifference, formatMeanStd, PERCENT, pairedDifference, summarize } from "./stats.js";
import type { Table } from "./table.js";

const MiB = 2 ** 20;

export const num = (r: Row, c: keyof Row): number => (r[c] === undefined || r[c] === "" ? NaN : Number(r[c]));

export function meanStd(xs: number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std };
}

/** The official counts row of a profile row (same config, at the reference input size), if any. */
export function officialCounts(row: Row, counts: Record<string, string>[]): Record<string, string> | undefined {
  const name = configName(String(row.model), num(row, "depth"), num(row, "frames"));
  const ref = counts.find((c) => c.model === name);
  if (!ref) return undefined;
  const refSize = Number(ref.input.split("x").pop());
  return refSize === num(row, "size") ? ref : undefined;
}

function profileTable(rows: Row[], counts: Record<string, string>[]): Table {
  const out: Table = {
    title: "FLOPs, parameters and training memory (analytic, 1 clip)",
    headers: [
      "model",
      "frames",
      "size",
      "params (M)",
      "GMACs",
      "saved act. (MiB)",
      "official params (M)",
      "official GMACs",
      "official saved (MiB)",
      "max rel. diff",
    ],
    rows: [],
    note: "MACs = multiply-accumulates (what the papers call FLOPs). Saved activations = bytes autograd keeps for backward (fp32). Official = forward hooks on the official PyTorch code.",
  };
  for (const r of rows.filter((x) => x.kind === "profile")) {
    const p = num(r, "params") / 1e6;
    const g = num(r, "macs") / 1e9;
    const s = num(r, "saved_activation_bytes") / MiB;
    const ref = officialCounts(r, counts);
    const refs = ref ? [Number(ref.params_M), Number(ref.GMACs), Number(ref.saved_for_bwd_MB)] : [];
    const diff = ref ? Math.max(...[p, g, s].map((v, i) => Math.abs(v - refs[i]) / refs[i])) : NaN;
    out.rows.push([
      String(r.model_id),
      num(r, "frames"),
      num(r, "size"),
      +p.toFixed(3),
      +g.toFixed(3),
      +s.toFixed(1),
      ...(ref ? [+refs[0].toFixed(3), +refs[1].toFixed(3), +refs[2].toFixed(1)] : ["", "", ""]),
      ref ? `${(diff * 100).toFixed(2)}%` : "",
    ]);
  }
  return out;
}

function memoryTable(rows: Row[]): Table {
  const prof = rows.filter((x) => x.kind === "profile");
  const frames = [...new Set(prof.map((r) => num(r, "frames")))].sort((a, b) => a - b);
  const models = [...new Set(prof.map((r) => `${r.model}-${r.depth}@${r.size}`))];
  return {
    title: "Training memory (saved activations, MiB per clip) vs input frames",
    headers: ["model", ...frames.map((f) => `${f} frames`)],
    rows: models.map((m) => [
      m,
      ...frames.map((f) => {
        const r = prof.find((x) => `${x.model}-${x.depth}@${x.size}` === m && num(x, "frames") === f);
        return r ? +(num(r, "saved_activation_bytes") / MiB).toFixed(1) : "";
      }),
    ]),
  };
}

function speedTable(rows: Row[], h100: Record<string, string>[]): Table {
  const out: Table = {
    title: "Speed (measured)",
    headers: [
      "model",
      "frames",
      "size",
      "batch",
      "backend",
      "threads",
      "device",
      "latency (ms)",
      "clips/s",
      "train step (ms)",
      "peak RSS (MiB)",
      "peak GPU (MiB)",
      "official code, H100 fp32 (ms)",
    ],
    rows: [],
    note:
      "The last column is the official PyTorch code on one NVIDIA H100 (results/reference/official-h100.csv), for scale only: a different device. " +
      "Rows of one configuration sit together, CPU backends first, then GPU ones (ort-webgpu, ort-cuda, pytorch-cuda); peak GPU memory is nvidia-smi's for ours and torch.cuda.max_memory_allocated for the PyTorch peer.",
  };
  const gpu = (r: Row) => /webgpu|cuda/.test(String(r.backend));
  const speed = rows
    .filter((x) => x.kind === "speed")
    .map((r, i) => ({ r, i }))
    // one configuration's rows together (CPU rows, then GPU rows beside them), otherwise in file order
    .sort((a, b) => {
      const ka = `${a.r.model_id}|${num(a.r, "size")}|${num(a.r, "batch")}`;
      const kb = `${b.r.model_id}|${num(b.r, "size")}|${num(b.r, "batch")}`;
      if (ka !== kb) return firstIndex(rows, ka) - firstIndex(rows, kb);
      return Number(gpu(a.r)) - Number(gpu(b.r)) || a.i - b.i;
    })
    .map((x) => x.r);
  for (const r of speed) {
    const name = configName(String(r.model), num(r, "depth"), num(r, "frames"));
    const ref = h100.find(
      (h) => h.model === name && Number(h.res) === num(r, "size") && Number(h.batch_clips) === num(r, "batch") && h.mode === "infer_fp32",
    );
    out.rows.push([
      String(r.model_id),
      num(r, "frames"),
      num(r, "size"),
      num(r, "batch"),
      String(r.backend),
      String(r.threads ?? ""),
      String(r.device ?? ""),
      num(r, "latency_ms"),
      num(r, "clips_per_s"),
      Number.isNaN(num(r, "train_step_ms")) ? "" : num(r, "train_step_ms"),
      Number.isNaN(num(r, "peak_rss_bytes")) ? "" : +(num(r, "peak_rss_bytes") / MiB).toFixed(0),
      Number.isNaN(num(r, "peak_gpu_bytes")) ? "" : +(num(r, "peak_gpu_bytes") / MiB).toFixed(0),
      ref ? Number(ref.median_ms) : "",
    ]);
  }
  return out;
}

/** Position of the first speed row of a configuration (model id, size, batch) in `rows`. */
function firstIndex(rows: Row[], key: string): number {
  return rows.findIndex((r) => r.kind === "speed" && `${r.model_id}|${num(r, "size")}|${num(r, "batch")}` === key);
}

export interface AccuracyGroup {
  row: Row;
  top1: number[];
  top5: number[];
  /** top-1 by seed. */
  bySeed: Map<number, number>;
}

/** Accuracy rows grouped over seeds (same model, dataset, frames, size, backend). */
export function accuracyGroups(rows: Row[]): AccuracyGroup[] {
  const groups = new Map<string, AccuracyGroup>();
  for (const r of rows.filter((x) => x.kind === "accuracy")) {
    const k = [r.model_id, r.dataset, r.frames, r.size, r.backend].join("|");
    const g: AccuracyGroup = groups.get(k) ?? { row: r, top1: [], top5: [], bySeed: new Map() };
    g.top1.push(num(r, "top1"));
    g.bySeed.set(num(r, "seed"), num(r, "top1"));
    if (!Number.isNaN(num(r, "top5"))) g.top5.push(num(r, "top5"));
    groups.set(k, g);
  }
  return [...groups.values()];
}

const pm = (xs: number[]) => {
  if (!xs.length) return "";
  const { mean, std } = meanStd(xs);
  return xs.length > 1 ? `${mean.toFixed(1)} ± ${std.toFixed(1)}` : mean.toFixed(1);
};

/** The TSN group trained on the same data and input as `g` (the order-blind baseline of the paired difference). */
export function baselineOf(groups: AccuracyGroup[], g: AccuracyGroup): AccuracyGroup | undefined {
  const same = (a: Row, b: Row) => a.dataset === b.dataset && a.frames === b.frames && a.size === b.size && a.backend === b.backend;
  return groups.find((x) => x.row.model === "tsn" && same(x.row, g.row));
}

function accuracyTable(rows: Row[]): Table {
  const groups = accuracyGroups(rows);
  return {
    title: "Accuracy (measured; top-1/top-5 in %, mean ± std and 95% CI over seeds)",
    headers: [
      "model",
      "dataset",
      "level",
      "frames",
      "size",
      "seeds",
      "top-1",
      "top-1 95% CI",
      "vs TSN (paired, 95% CI)",
      "top-5",
      "epochs",
      "train clips",
    ],
    rows: groups.map((g) => {
      const s = summarize(g.top1);
      const base = g.row.model === "tsn" ? undefined : baselineOf(groups, g);
      return [
        String(g.row.model_id),
        String(g.row.dataset),
        String(g.row.level ?? ""),
        num(g.row, "frames"),
        num(g.row, "size"),
        g.top1.length,
        formatMeanStd(s),
        formatCi(s, 1, PERCENT),
        base ? formatDifference(pairedDifference(g.bySeed, base.bySeed)) : "",
        pm(g.top5),
        String(g.row.epochs ?? ""),
        String(g.row.train_clips ?? ""),
      ];
    }),
    note: "std = sample standard deviation over seeds; 95% CI = Student t interval of the mean (cut at 0 and 100); vs TSN = mean per-seed difference to TSN on the same data and seeds, with its 95% CI.",
  };
}

function publishedTable(published: Record<string, string>[]): Table {
  return {
    title: "Published accuracy (paper and baselines, for reference)",
    headers: ["model", "backbone", "frames", "dataset", "crops x clips", "top-1", "top-5", "source"],
    rows: published.map((p) => [
      p.model,
      p.backbone,
      p.frames,
      p.dataset,
      p.crops ? `${p.crops}x${p.clips}` : "",
      p.top1,
      p.top5,
      p.source,
    ]),
  };
}

export function buildTables(rows: Row[], referenceDir?: string): Table[] {
  const counts = readReference("counts.csv", referenceDir);
  const tables: Table[] = [];
  if (rows.some((r) => r.kind === "profile")) tables.push(profileTable(rows, counts), memoryTable(rows));
  if (rows.some((r) => r.kind === "speed")) tables.push(speedTable(rows, readReference("official-h100.csv", referenceDir)));
  if (rows.some((r) => r.kind === "accuracy")) tables.push(accuracyTable(rows));
  const published = readReference("published-accuracy.csv", referenceDir);
  if (published.length) tables.push(publishedTable(published));
  return tables;
}
