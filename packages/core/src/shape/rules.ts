/**
 * Cost conventions of the profiler, kept in one place so every table counts the same way
 * (the conventions of results/reference/counts.md, i.e. fvcore-style forward-hook counting):
 *  - MACs (what papers call "FLOPs"): conv = output elements x (in channels / groups) x kernel
 *    volume; linear = rows x in x out. Nothing else has MACs.
 *  - other FLOPs, by category: batchnorm 2 per output element, relu 1, elementwise (adds, dropout)
 *    1, bias 1 per biased output element, pool = output elements x window size (max and avg),
 *    reduce = input elements (global average pool, consensus mean, the n-input `sum` of TAM,
 *    which the official code computes as torch.stack(xs).sum(0)). Data movement (gather, shift,
 *    slice, concat, nearest resize, views) costs nothing.
 *  - total FLOPs = 2 x MACs + other FLOPs.
 */
import { shapeNumel } from "./tensor.js";

export const FLOP_CATEGORIES = ["batchnorm", "bias", "elementwise", "pool", "reduce", "relu"] as const;
export type FlopCategory = (typeof FLOP_CATEGORIES)[number];
export type OtherFlops = Partial<Record<FlopCategory, number>>;

/** Conv (any rank): weight is [out, in/groups, ...kernel], so weight elements / out = in/groups x kernel volume. */
export function convMacs(outShape: readonly number[], weightShape: readonly number[]): number {
  return shapeNumel(outShape) * (shapeNumel(weightShape) / weightShape[0]);
}

export function linearMacs(rows: number, inFeatures: number, outFeatures: number): number {
  return rows * inFeatures * outFeatures;
}

export function poolFlops(outShape: readonly number[], kernel: readonly number[]): number {
  return shapeNumel(outShape) * shapeNumel(kernel);
}

export function sumFlops(f: OtherFlops): number {
  let s = 0;
  for (const c of FLOP_CATEGORIES) s += f[c] ?? 0;
  return s;
}

/** a += b, category by category. */
export function addFlops(a: OtherFlops, b: OtherFlops, scale = 1): void {
  for (const c of FLOP_CATEGORIES) if (b[c]) a[c] = (a[c] ?? 0) + b[c]! * scale;
}
