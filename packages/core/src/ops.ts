/**
 * The op interface every model is written against, once.
 *
 * Tensors are opaque to the models (`T`); each interpreter (tfjs, ONNX graph builder, ONNX training
 * step builder, shape-only profiler) decides what a tensor is and which physical layout it uses.
 * All shapes and options here use PyTorch's *logical* layout:
 *   - 2D feature maps: [N, C, H, W] (frames of all clips stacked on dim 0: row n*T + t)
 *   - 3D feature maps: [N, C, T, H, W]
 *   - features / logits: [N, K]
 * Weights are `Param`s in PyTorch layout (Conv2d OIHW, Conv3d OITHW, Linear [out, in]); an interpreter
 * converts them once to whatever it prefers and caches the result.
 */
import type { Param } from "./module.js";

export type Pair = number | [number, number];
export type Triple = number | [number, number, number];

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}

export interface Conv3dOptions {
  stride?: Triple;
  padding?: Triple;
  dilation?: Triple;
  groups?: number;
}

export interface Pool2dOptions {
  kernel: Pair;
  stride?: Pair; // default: kernel
  padding?: Pair; // default 0
  /** avg pool only: PyTorch's count_include_pad (default true, like nn.AvgPool2d). */
  countIncludePad?: boolean;
}

export interface Pool3dOptions {
  kernel: Triple;
  stride?: Triple;
  padding?: Triple;
}

/** The tensors of one BatchNorm layer (PyTorch nn.BatchNorm{2,3}d). */
export interface BatchNormParams {
  weight: Param;
  bias: Param;
  runningMean: Param;
  runningVar: Param;
  numBatchesTracked: Param;
  eps: number;
  momentum: number;
}

/** One tap of a temporal blend: a depthwise 1x1 conv weight [C, 1, 1, 1] (no bias) read `offset` frames away. */
export interface TemporalTap {
  weight: Param;
  offset: number;
}

export interface Ops<T> {
  /** Interpreter name, e.g. "tfjs", "onnx", "shape". */
  readonly kind: string;

  /** Logical (PyTorch layout) shape of a tensor. */
  shape(x: T): number[];

  // ---- convolutions / linear -------------------------------------------------------------
  conv2d(x: T, weight: Param, bias: Param | null, opts?: Conv2dOptions): T;
  conv3d(x: T, weight: Param, bias: Param | null, opts?: Conv3dOptions): T;
  /** x: [N, in] -> [N, out]; weight [out, in] (PyTorch nn.Linear). */
  linear(x: T, weight: Param, bias: Param | null): T;

  // ---- normalisation / activation / arithmetic --------------------------------------------
  /** Train mode: batch statistics (biased var to normalise, unbiased var into the running stats, like PyTorch). */
  batchNorm(x: T, bn: BatchNormParams, training: boolean): T;
  relu(x: T): T;
  add(a: T, b: T): T;
  /** n-ary sum of same-shaped tensors (PyTorch `torch.stack(xs).sum(0)`, which the profiler counts as one reduction). */
  sum(xs: T[]): T;
  /** Inverted dropout (PyTorch semantics); identity when !training or p == 0. */
  dropout(x: T, p: number, training: boolean): T;

  // ---- pooling / resampling ---------------------------------------------------------------
  maxPool2d(x: T, opts: Pool2dOptions): T;
  avgPool2d(x: T, opts: Pool2dOptions): T;
  maxPool3d(x: T, opts: Pool3dOptions): T;
  /** Mean over every spatial (and temporal, for 5-D) dim: [N, C, ...] -> [N, C]. */
  globalAvgPool(x: T): T;
  /** F.interpolate(mode="nearest") to [outH, outW]: src = floor(dst * in / out). */
  resizeNearest(x: T, outH: number, outW: number): T;

  // ---- frames (dim 0 of 2D feature maps) --------------------------------------------------
  /** [N, T*C, H, W] (official video input) -> [N*T, C, H, W]. */
  clipsToFrames(x: T, frames: number): T;
  /** Rows of dim 0 in the given order (may repeat rows). */
  gatherRows(x: T, rows: number[]): T;
  /**
   * Temporal shift inside clips of `frames` rows: out[n*T + t] = x[n*T + t + offset],
   * zero where t + offset falls outside [0, T). Never crosses clip boundaries.
   */
  timeShift(x: T, frames: number, offset: number): T;
  /**
   * Optional fused form of TAM's blend: the sum over taps, in order, of
   * timeShift(conv2d(x, w_k, null, { groups: C }), frames, offset_k). Interpreters without it get that
   * composition op by op (so counts and traces stay per op), as do inputs it returns null for; the
   * training step builder fuses it on large frames.
   */
  temporalBlend?(x: T, frames: number, taps: readonly TemporalTap[]): T | null;
  /** Channels [start, end) of dim 1. */
  sliceChannels(x: T, start: number, end: number): T;
  /** Concatenate along dim 1. */
  concatChannels(xs: T[]): T;
  /** [N*S, K] -> [N, K]: mean over each run of `segments` consecutive rows (consensus). */
  segmentMean(x: T, segments: number): T;
}

/** The `Ops` methods that make tensors (all but `kind` and `shape`), for interpreters that wrap every op. */
export const TENSOR_OPS = [
  "conv2d",
  "conv3d",
  "linear",
  "batchNorm",
  "relu",
  "add",
  "sum",
  "dropout",
  "maxPool2d",
  "avgPool2d",
  "maxPool3d",
  "globalAvgPool",
  "resizeNearest",
  "clipsToFrames",
  "gatherRows",
  "timeShift",
  "sliceChannels",
  "concatChannels",
  "segmentMean",
] as const satisfies readonly Exclude<keyof Ops<unknown>, "kind" | "shape">[];
export type TensorOp = (typeof TENSOR_OPS)[number];
// Compile-time check that the list is complete: a new op must be added above (optional fused ops are
// not wrapped: a wrapping interpreter lacks them, so models take the op-by-op composition).
const _allListed: [Exclude<keyof Ops<unknown>, "kind" | "shape" | "temporalBlend" | TensorOp>] extends [never] ? true : never = true;

/** Fold `add` over xs in order (for interpreters without an n-ary sum kernel). */
export function addAll<T>(ops: Ops<T>, xs: T[]): T {
  if (xs.length === 0) throw new Error("sum: nothing to sum");
  return xs.slice(1).reduce((acc, x) => ops.add(acc, x), xs[0]!);
}

export function pair(v: Pair | undefined, dflt: number): [number, number] {
  if (v === undefined) return [dflt, dflt];
  return typeof v === "number" ? [v, v] : v;
}

export function triple(v: Triple | undefined, dflt: number): [number, number, number] {
  if (v === undefined) return [dflt, dflt, dflt];
  return typeof v === "number" ? [v, v, v] : v;
}

/** Output size of a conv/pool window along one axis (PyTorch floor mode). */
export function windowOut(inSize: number, kernel: number, stride: number, pad: number, dilation = 1): number {
  return Math.floor((inSize + 2 * pad - dilation * (kernel - 1) - 1) / stride) + 1;
}
