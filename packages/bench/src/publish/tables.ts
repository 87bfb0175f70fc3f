/** The report's tables, built from result rows and the shipped reference figures. */
import type { Row } from "../sweep/rows.js";
import { configName } from "../profiling/configs.js";
import { readReference } from "../reference.js";
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
    headers: ["model", "frames", "size", "params (M)", "GMACs", "saved act. (MiB)", "official params (M)", "official GMACs", "official saved (MiB)", "max rel. diff"],
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
    out.rows.push([String(r.model_id), num(r, "frames"), num(r, "size"), +p.toFixed(3), +g.toFixed(3), +s.toFixed(1), ...(ref ? [+refs[0].toFixed(3), +refs[1].toFixed(3), +refs[2].toFixed(1)] : ["", "", ""]), ref ? `${(diff * 100).toFixed(2)}%` : ""]);
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
    headers: ["model", "frames", "size", "batch", "backend", "threads", "device", "latency (ms)", "clips/s", "train step (ms)", "peak RSS (MiB)", "official code, H100 fp32 (ms)"],
    rows: [],
    note: "The last column is the official PyTorch code on one NVIDIA H100 (results/reference/official-h100.csv), for scale only: a different device.",
  };
  for (const r of rows.filter((x) => x.kind === "speed")) {
    const name = configName(String(r.model), num(r, "depth"), num(r, "frames"));
    const ref = h100.find((h) => h.model === name && Number(h.res) === num(r, "size") && Number(h.batch_clips) === num(r, "batch") && h.mode === "infer_fp32");
    out.rows.push([
      String(r.model_id), num(r, "frames"), num(r, "size"), num(r, "batch"), String(r.backend), String(r.threads ?? ""), String(r.device ?? ""),
      num(r, "latency_ms"), num(r, "clips_per_s"), Number.isNaN(num(r, "train_step_ms")) ? "" : num(r, "train_step_ms"),
      Number.isNaN(num(r, "peak_rss_bytes")) ? "" : +(num(r, "peak_rss_bytes") / MiB).toFixed(0), ref ? Number(ref.median_ms) : "",
    ]);
  }
  return out;
}

/** Accuracy rows grouped over seeds: mean +- std. */
export function accuracyGroups(rows: Row[]): { row: Row; top1: number[]; top5: number[] }[] {
  const groups = new Map<string, { row: Row; top1: number[]; top5: number[] }>();
  for (const r of rows.filter((x) => x.kind === "accuracy")) {
    const k = [r.model_id, r.dataset, r.frames, r.size, r.backend].join("|");
    const g = groups.get(k) ?? { row: r, top1: [], top5: [] };
    g.top1.push(num(r, "top1"));
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

function accuracyTable(rows: Row[]): Table {
  return {
    title: "Accuracy (measured; top-1/top-5 in %, mean ± std over seeds)",
    headers: ["model", "dataset", "frames", "size", "seeds", "top-1", "top-5", "epochs", "train clips"],
    rows: accuracyGroups(rows).map((g) => [
      String(g.row.model_id), String(g.row.dataset), num(g.row, "frames"), num(g.row, "size"), g.top1.length, pm(g.top1), pm(g.top5), String(g.row.epochs ?? ""), String(g.row.train_clips ?? ""),
    ]),
  };
}

function publishedTable(published: Record<string, string>[]): Table {
  return {
    title: "Published accuracy (paper and baselines, for reference)",
    headers: ["model", "backbone", "frames", "dataset", "crops x clips", "top-1", "top-5", "source"],
    rows: published.map((p) => [p.model, p.backbone, p.frames, p.dataset, p.crops ? `${p.crops}x${p.clips}` : "", p.top1, p.top5, p.source]),
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
