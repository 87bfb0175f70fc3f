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
  g.name ??= basename(path, ".json");
  const problem = goldenProblem(g);
  if (problem) throw new UserError(`${path}: ${problem}`);
  return g;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isShape = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((d) => Number.isSafeInteger(d) && d > 0);
const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Why a tensor record is not internally consistent, or null. */
function recordProblem(name: string, r: unknown): string | null {
  if (!isObject(r)) return `${name} is not an object`;
  if (!isShape(r.shape)) return `${name}.shape is not a list of positive integers`;
  const n = numel(r.shape);
  if (!isObject(r.stats) || r.stats.numel !== n) return `${name}.stats.numel disagrees with its shape [${r.shape}] (${n} elements)`;
  const samples = r.samples;
  if (
    !isObject(samples) ||
    !Array.isArray(samples.index) ||
    !Array.isArray(samples.values) ||
    samples.index.length !== samples.values.length
  ) {
    return `${name}.samples needs index and values lists of one length`;
  }
  if (!samples.index.every((i) => Number.isSafeInteger(i) && i >= 0 && i < n) || !samples.values.every((v) => typeof v === "number")) {
    return `${name}.samples has an index outside [0, ${n}) or a value that is not a number`;
  }
  if (r.data_f32_b64 === undefined) return null;
  if (typeof r.data_f32_b64 !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(r.data_f32_b64)) return `${name}.data_f32_b64 is not base64`;
  const rows = r.data_rows;
  if (rows !== undefined && (!isObject(rows) || !Number.isSafeInteger(rows.step) || (rows.step as number) < 1))
    return `${name}.data_rows.step is not a positive integer`;
  const step = isObject(rows) ? (rows.step as number) : 1;
  const start = isObject(rows) && rows.start !== undefined ? rows.start : 0;
  if (!Number.isSafeInteger(start) || (start as number) < 0 || (start as number) >= r.shape[0]!)
    return `${name}.data_rows.start is outside dim 0`;
  const stored = Math.ceil((r.shape[0]! - (start as number)) / step) * (n / r.shape[0]!);
  const bytes = Buffer.byteLength(r.data_f32_b64, "base64");
  if (bytes !== stored * 4) return `${name}.data_f32_b64 holds ${bytes} bytes, its shape [${r.shape}] needs ${stored * 4}`;
  return null;
}

/** Why a golden is not internally consistent (fields, shapes vs data), or null. */
export function goldenProblem(g: Golden): string | null {
  if (typeof g.family !== "string") return `"family" must be a string`;
  if (!isObject(g.config)) return `"config" must be an object`;
  const input = recordProblem("input", g.input);
  if (input) return input;
  const out = g.output as unknown;
  if (!isObject(out) || !isShape(out.shape)) return "output.shape is not a list of positive integers";
  if (Array.isArray(out.values)) {
    const flat = (out.values as unknown[]).flat(Infinity);
    if (flat.length !== numel(out.shape))
      return `output.values holds ${flat.length} numbers, its shape [${out.shape}] needs ${numel(out.shape)}`;
    if (!flat.every((v) => typeof v === "number" && Number.isFinite(v))) return "output.values holds a value that is not a finite number";
  } else {
    const rec = recordProblem("output", out);
    if (rec) return rec;
    if (out.data_f32_b64 === undefined) return "output has neither values nor data_f32_b64";
  }
  const params = g.params as unknown;
  const isParam = (p: unknown) =>
    isObject(p) && typeof p.key === "string" && Array.isArray(p.shape) && (p.shape.length === 0 || isShape(p.shape));
  if (!Array.isArray(params) || !params.every(isParam)) {
    return `"params" must be a list of {key, shape}`;
  }
  if (g.intermediates !== undefined) {
    if (!isObject(g.intermediates)) return `"intermediates" must be an object`;
    for (const [k, r] of Object.entries(g.intermediates)) {
      const p = recordProblem(`intermediates.${k}`, r);
      if (p) return p;
    }
  }
  const tol = (g.tolerance_hint as unknown as Record<string, unknown> | undefined)?.float32_impl;
  if (typeof tol !== "number" || !(tol > 0)) return "tolerance_hint.float32_impl must be a positive number";
  return null;
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
