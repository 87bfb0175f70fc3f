/**
 * Summary of an onnxruntime profile (SessionOptions.enableProfiling): kernel time per op type,
 * averaged over the profiled runs, largest first.
 */
import { readFileSync } from "node:fs";

export interface ProfileRow {
  opType: string;
  /** Kernel time per run, milliseconds. */
  msPerRun: number;
  /** Share of all kernel time. */
  share: number;
  /** Nodes of this type per run. */
  nodes: number;
}

interface ProfileEvent {
  cat?: string;
  name?: string;
  dur?: number;
  args?: { op_name?: string };
}

/** Per-op-type kernel times; `skipRuns` drops the first runs (warm-up). */
export function summarizeProfile(path: string, skipRuns = 1): { runs: number; msPerRun: number; rows: ProfileRow[] } {
  const events = JSON.parse(readFileSync(path, "utf8")) as ProfileEvent[];
  const runs = events.filter((e) => e.cat === "Session" && e.name === "model_run");
  const firstKept = runs[skipRuns] as (ProfileEvent & { ts?: number }) | undefined;
  const kept = Math.max(0, runs.length - skipRuns);
  const startTs = firstKept?.ts ?? Infinity;
  const byOp = new Map<string, { us: number; nodes: number }>();
  let total = 0;
  for (const ev of events as (ProfileEvent & { ts?: number })[]) {
    if (ev.cat !== "Node" || !ev.name?.endsWith("_kernel_time") || (ev.ts ?? 0) < startTs) continue;
    const op = ev.args?.op_name ?? "?";
    const row = byOp.get(op) ?? { us: 0, nodes: 0 };
    row.us += ev.dur ?? 0;
    row.nodes++;
    byOp.set(op, row);
    total += ev.dur ?? 0;
  }
  const div = Math.max(1, kept);
  const rows = [...byOp].map(([opType, r]) => ({ opType, msPerRun: r.us / 1000 / div, share: total ? r.us / total : 0, nodes: r.nodes / div }));
  rows.sort((a, b) => b.msPerRun - a.msPerRun);
  return { runs: kept, msPerRun: total / 1000 / div, rows };
}
