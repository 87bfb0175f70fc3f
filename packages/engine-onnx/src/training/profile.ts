/**
 * Summary of an onnxruntime profile (SessionOptions.enableProfiling): kernel time per op type and
 * per node, averaged over the profiled runs, largest first.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

export interface ProfileRow {
  opType: string;
  /** Kernel time per run, milliseconds. */
  msPerRun: number;
  /** Share of all kernel time. */
  share: number;
  /** Nodes of this type per run. */
  nodes: number;
}

/** One node's kernel time (per run), with what ORT recorded of its shapes. */
export interface ProfileNodeRow {
  node: string;
  opType: string;
  msPerRun: number;
  share: number;
  /** Output bytes as ORT reports them. */
  outputBytes: number;
  /** Input shapes as ORT reports them (JSON text), when recorded. */
  inputs: string;
}

interface ProfileEvent {
  cat?: string;
  name?: string;
  dur?: number;
  ts?: number;
  args?: { op_name?: string; output_size?: string; input_type_shape?: unknown };
}

/** Per-op-type (and per-node) kernel times; `skipRuns` drops the first runs (warm-up). */
export function summarizeProfile(
  path: string,
  skipRuns = 1,
): { runs: number; msPerRun: number; rows: ProfileRow[]; nodes: ProfileNodeRow[] } {
  const events = JSON.parse(readFileSync(path, "utf8")) as ProfileEvent[];
  const runs = events.filter((e) => e.cat === "Session" && e.name === "model_run");
  const firstKept = runs[skipRuns];
  const kept = Math.max(0, runs.length - skipRuns);
  const startTs = firstKept?.ts ?? Infinity;
  const byOp = new Map<string, { us: number; nodes: number }>();
  const byNode = new Map<string, { op: string; us: number; out: number; inputs: string }>();
  let total = 0;
  for (const ev of events) {
    if (ev.cat !== "Node" || !ev.name?.endsWith("_kernel_time") || (ev.ts ?? 0) < startTs) continue;
    const op = ev.args?.op_name ?? "?";
    const row = byOp.get(op) ?? { us: 0, nodes: 0 };
    row.us += ev.dur ?? 0;
    row.nodes++;
    byOp.set(op, row);
    const node = ev.name.slice(0, -"_kernel_time".length);
    const n = byNode.get(node) ?? {
      op,
      us: 0,
      out: Number(ev.args?.output_size ?? 0),
      inputs: JSON.stringify(ev.args?.input_type_shape ?? ""),
    };
    n.us += ev.dur ?? 0;
    byNode.set(node, n);
    total += ev.dur ?? 0;
  }
  const div = Math.max(1, kept);
  const rows = [...byOp].map(([opType, r]) => ({
    opType,
    msPerRun: r.us / 1000 / div,
    share: total ? r.us / total : 0,
    nodes: r.nodes / div,
  }));
  rows.sort((a, b) => b.msPerRun - a.msPerRun);
  const nodes = [...byNode].map(([node, r]) => ({
    node,
    opType: r.op,
    msPerRun: r.us / 1000 / div,
    share: total ? r.us / total : 0,
    outputBytes: r.out,
    inputs: r.inputs,
  }));
  nodes.sort((a, b) => b.msPerRun - a.msPerRun);
  return { runs: kept, msPerRun: total / 1000 / div, rows, nodes };
}

/** The newest profile file onnxruntime wrote for `prefix` (next to the prefix path, or in the working directory). */
export function findProfileFile(prefix: string): string | null {
  const abs = resolve(prefix);
  const candidates = [dirname(abs), process.cwd()].flatMap((dir) => {
    try {
      return readdirSync(dir)
        .filter((f) => f.startsWith(basename(abs)) && f.endsWith(".json"))
        .map((f) => join(dir, f));
    } catch {
      return [];
    }
  });
  candidates.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return candidates[0] ?? null;
}
