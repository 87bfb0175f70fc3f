/**
 * Reading golden files (`video-ref-golden/1`, see fixtures/golden/README.md): the official code's
 * output for a deterministic model and input, its state_dict listing and stage tensors.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { UserError } from "@blvnet/core";

export const GOLDEN_FORMAT = "video-ref-golden/1";

export interface TensorStats {
  numel: number;
  sum: number;
  sum_abs: number;
  sum_sq: number;
  min: number;
  max: number;
}

/** A stored tensor: statistics, 64 samples, and optionally the float32 data (maybe every step-th row). */
export interface TensorRecord {
  shape: number[];
  layout?: string;
  stats: TensorStats;
  samples: { index: number[]; values: number[] };
  data_f32_b64?: string;
  data_rows?: { dim?: number; start?: number; step: number };
}

export interface GoldenParam {
  key: string;
  shape: number[];
  rule: string;
  fan_in: number | null;
  sum: number;
  sum_abs: number;
  first4: number[];
}

export interface Golden {
  format: string;
  name: string;
  family: string;
  config: Record<string, unknown>;
  input: TensorRecord;
  /** Logits `{shape, values}` or (TAM) a tensor record. */
  output: { shape: number[]; values?: number[] | number[][] } & Partial<TensorRecord>;
  params: GoldenParam[];
  intermediates?: Record<string, TensorRecord>;
  tolerance_hint: { float32_impl: number };
}

export function loadGolden(path: string): Golden {
  let raw: string;
  try {
    raw = readFileSync(path, "utf8");
  } catch (e) {
    throw new UserError(`cannot read golden file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  let g: Golden;
  try {
    g = JSON.parse(raw) as Golden;
  } catch {
    throw new UserError(`${path}: not a JSON file`);
  }
  if (g?.format !== GOLDEN_FORMAT) throw new UserError(`${path}: format is "${String(g?.format)}", expected "${GOLDEN_FORMAT}"`);
  for (const k of ["family", "config", "input", "output", "params", "tolerance_hint"] as const) {
    if (g[k] === undefined) throw new UserError(`${path}: missing "${k}"`);
  }
  g.name ??= basename(path, ".json");
  return g;
}

/** The float32 data of a record, or null when only stats and samples are stored. */
export function recordData(r: TensorRecord): Float32Array | null {
  if (!r.data_f32_b64) return null;
  const b = Buffer.from(r.data_f32_b64, "base64");
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

/** The golden output values as a flat array (row-major). */
export function outputValues(g: Golden): Float64Array | Float32Array {
  if (Array.isArray(g.output.values)) return Float64Array.from(g.output.values.flat(Infinity) as number[]);
  const d = recordData(g.output as TensorRecord);
  if (!d) throw new UserError(`${g.name}: output has neither values nor data_f32_b64`);
  return d;
}
