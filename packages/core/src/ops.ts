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
  /**
   * Optional n-ary sum of same-shaped tensors (PyTorch `torch.stack(xs).sum(0)`), for interpreters
   * that count it as one reduction (the shape tracer). Call through `sumOf(ops, thunks)`.
   */
  sum?(xs: T[]): T;
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
  /** Channels [start, end) of dim 1. */
  sliceChannels(x: T, start: number, end: number): T;
  /** Concatenate along dim 1. */
  concatChannels(xs: T[]): T;
  /** [N*S, K] -> [N, K]: mean over each run of `segments` consecutive rows (consensus). */
  segmentMean(x: T, segments: number): T;

  // ---- memory hints (optional; interpreters that hold no tensor memory leave them out) --------
  /**
   * Evaluate `fn` and free every tensor it created except its result (tfjs: `tf.tidy`). Models wrap
   * blocks in it so that long clips at 224x224 fit in memory. Call through `scoped(ops, fn)`.
   */
  scope?(fn: () => T): T;
  /**
   * The caller will not use `x` again (tfjs: dispose). Only for tensors the model itself created,
   * never for its input. Call through `release(ops, ...xs)`.
   */
  release?(x: T): void;
}

/** `ops.scope(fn)` where the interpreter has it, else just `fn()`. */
export function scoped<T>(ops: Ops<T>, fn: () => T): T {
  return ops.scope ? ops.scope(fn) : fn();
}

/** `ops.release(x)` for each x where the interpreter has it (no-op elsewhere). */
export function release<T>(ops: Ops<T>, ...xs: T[]): void {
  if (ops.release) for (const x of xs) ops.release(x);
}

/**
 * The sum of the tensors the thunks make. Where the interpreter has an n-ary `sum` all are made, then
 * summed at once; elsewhere they are made one at a time and added into a running sum, freeing each
 * addend, so at most three of them are alive at once.
 */
export function sumOf<T>(ops: Ops<T>, thunks: (() => T)[]): T {
  if (thunks.length === 0) throw new Error("sumOf: nothing to sum");
  if (ops.sum) return ops.sum(thunks.map((make) => make()));
  let total = thunks[0]!();
  for (const make of thunks.slice(1)) {
    const y = make();
    const next = ops.add(total, y);
    release(ops, total, y);
    total = next;
  }
  return total;
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
