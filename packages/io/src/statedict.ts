/** state_dict export/import with PyTorch's strict-loading report. */
import type { Module, TensorMap } from "@blvnet/core";
import { UserError } from "@blvnet/core";

export interface LoadReport {
  missing: string[];
  unexpected: string[];
  shapeMismatch: { key: string; expected: number[]; got: number[] }[];
  loaded: number;
}

export interface LoadOptions {
  /** Throw if any key is missing/unexpected/mismatched (default true). */
  strict?: boolean;
  /** Name of the source in error messages. */
  source?: string;
}

const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * Copy tensors into the model by state_dict key. Int64 counters are accepted as int64 or float;
 * float tensors are converted from int64 if needed. Shape mismatches are never loaded.
 */
export function loadStateDict(model: Module, sd: TensorMap, opts: LoadOptions = {}): LoadReport {
  const strict = opts.strict ?? true;
  const report: LoadReport = { missing: [], unexpected: [], shapeMismatch: [], loaded: 0 };
  const own = new Map(model.namedTensors());
  for (const key of sd.keys()) if (!own.has(key)) report.unexpected.push(key);
  for (const [key, p] of own) {
    const t = sd.get(key);
    if (!t) {
      report.missing.push(key);
      continue;
    }
    // PyTorch stores 0-d scalars as shape []; some writers use [1].
    const numelOk = t.data.length === p.numel;
    if (!sameShape(t.shape, p.shape) && !(p.shape.length === 0 && numelOk)) {
      report.shapeMismatch.push({ key, expected: p.shape, got: t.shape });
      continue;
    }
    if (p.dtype === "int64") {
      p.set(t.data instanceof BigInt64Array ? t.data : BigInt64Array.from(t.data, (v) => BigInt(Math.round(v))));
    } else {
      p.set(t.data instanceof Float32Array ? new Float32Array(t.data) : Float32Array.from(t.data, Number));
    }
    report.loaded++;
  }
  if (strict && !loadIsClean(report)) throw new UserError(formatLoadReport(report, opts.source ?? "state dict"));
  return report;
}

export function loadIsClean(r: LoadReport): boolean {
  return r.missing.length === 0 && r.unexpected.length === 0 && r.shapeMismatch.length === 0;
}

export function formatLoadReport(r: LoadReport, source: string): string {
  const list = (xs: string[]) => xs.slice(0, 8).join(", ") + (xs.length > 8 ? `, ... (${xs.length} in all)` : "");
  const parts = [`${source}: loaded ${r.loaded} tensors`];
  if (r.missing.length) parts.push(`missing keys: ${list(r.missing)}`);
  if (r.unexpected.length) parts.push(`unexpected keys: ${list(r.unexpected)}`);
  if (r.shapeMismatch.length) {
    parts.push(`shape mismatches: ${list(r.shapeMismatch.map((m) => `${m.key} expected [${m.expected}] got [${m.got}]`))}`);
  }
  return parts.join("; ");
}
