/**
 * `refgen-v1`: the deterministic weight/input generator of the golden files
 * (spec: fixtures/golden/weights-spec.md). Every value depends only on the tensor name and the
 * flat index; float64 arithmetic with one rounding to float32 at the end.
 */
import type { Module } from "./module.js";

export function fnv1a32(name: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(name)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

export function hash(seed: number, i: number): number {
  return fmix32((seed ^ Math.imul(i, 0x9e3779b9)) >>> 0);
}

/** Uniform in [-0.5, 0.5), step 2^-24. */
export function uniform(seed: number, i: number): number {
  return (hash(seed, i) >>> 8) / 16777216 - 0.5;
}

/** Scale giving U(-S/2, S/2) variance 1/fanIn. */
export function fanInScale(fanIn: number): number {
  return Math.fround(2 * Math.sqrt(3 / fanIn));
}

export type RefgenRule = "skip" | "running_mean" | "running_var" | "fan_in" | "bn_weight" | "bias";

export function refgenRule(name: string, shape: number[]): RefgenRule {
  if (name.endsWith("num_batches_tracked")) return "skip";
  if (name.endsWith("running_mean")) return "running_mean";
  if (name.endsWith("running_var")) return "running_var";
  if (shape.length >= 2) return "fan_in";
  if (shape.length === 1 && name.endsWith("weight")) return "bn_weight";
  if (shape.length === 1 && name.endsWith("bias")) return "bias";
  throw new Error(`refgen-v1: no rule for tensor "${name}" of shape [${shape}]`);
}

/** The refgen-v1 values of a state_dict entry (zeros for "skip"). */
export function refgenTensor(name: string, shape: number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const rule = refgenRule(name, shape);
  if (rule === "skip") return out;
  const seed = fnv1a32(name);
  const s = rule === "fan_in" ? fanInScale(shape.slice(1).reduce((a, b) => a * b, 1)) : 0;
  for (let i = 0; i < n; i++) {
    const u = uniform(seed, i);
    let v: number;
    switch (rule) {
      case "running_mean":
        v = 0.2 * u;
        break;
      case "running_var":
        v = 1 + 0.5 * (u + 0.5);
        break;
      case "fan_in":
        v = u * s;
        break;
      case "bn_weight":
        v = 1 + 0.2 * u;
        break;
      case "bias":
        v = 0.2 * u;
        break;
    }
    out[i] = v; // Float32Array assignment is the single rounding (== Math.fround)
  }
  return out;
}

/** The refgen-v1 model input: u("input", i) * S(1), flat index in the official layout. */
export function refgenInput(shape: number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const seed = fnv1a32("input");
  const s = fanInScale(1);
  for (let i = 0; i < n; i++) out[i] = uniform(seed, i) * s;
  return out;
}

/** Fill every float parameter and buffer of a model with refgen-v1 values (by state_dict key). */
export function fillDeterministic(model: Module): void {
  for (const [name, p] of model.namedTensors()) {
    if (p.dtype !== "float32") continue;
    p.set(refgenTensor(name, p.shape));
  }
}
