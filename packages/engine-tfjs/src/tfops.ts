/**
 * The tfjs interpreter of the model definitions: run (and, through tf.variableGrads, train).
 * Physical layouts: 4-D maps NHWC, 5-D maps NTHWC (tfjs' channels-last); `shape()` reports
 * the logical PyTorch layout (NCHW / NCTHW) the models reason in.
 */

import type { Param } from "@blvnet/core";
import {
  addAll,
  type BatchNormParams,
  type Conv2dOptions,
  type Conv3dOptions,
  dropoutMask,
  type Ops,
  type Pool2dOptions,
  type Pool3dOptions,
  pair,
  Rng,
  triple,
} from "@blvnet/core";
import * as tf from "@tensorflow/tfjs-core";
import { batchNormTrain } from "./batchnorm.js";
import { conv3dByFrames } from "./conv3d.js";
import { permute } from "./layouts.js";
import { ParamStore } from "./store.js";

export interface TfOpsOptions {
  /** Hand out tf.Variables for trainable params (training). */
  trainable?: boolean;
  /** Seed of the dropout masks. */
  seed?: number;
  store?: ParamStore;
  /**
   * How conv3d runs: "conv2d" = a sum over the temporal taps of conv2d over frames (conv3d.ts),
   * "kernel" = tf.conv3d; "auto" (default) = "conv2d" on wasm and cpu, whose Conv3D kernels are
   * single-threaded loops, else "kernel".
   */
  conv3d?: Conv3dLowering;
  /**
   * Training-mode batchNorm: "moments" (default) = tf.moments and autodiff; "pooled" = per-channel
   * statistics by average pooling and a closed-form gradient (batchnorm.ts; 4-5x faster on wasm, more
   * accurate means, but on the bLVNet-TAM train-BN step its momentum of the last conv differs from the
   * onnxruntime step by 2.8e-2, 29x the tfjs noise floor, where tf.moments stays within 2.3x: opt-in
   * until a float64 reference says which is right).
   */
  batchNorm?: "pooled" | "moments";
}

export type Conv3dLowering = "auto" | "conv2d" | "kernel";

/** Backends whose Conv3D kernel is a plain loop (tfjs 4.22): conv3d runs as conv2d there by default. */
const CONV3D_AS_CONV2D_ON = new Set(["wasm", "cpu"]);

export class TfOps implements Ops<tf.Tensor> {
  readonly kind = "tfjs";
  readonly store: ParamStore;
  /** Dropout masks: core's dropoutMask, as the ONNX training engine draws them. */
  private readonly rng: Rng;
  private readonly conv3dLowering: Conv3dLowering;
  private readonly bnLowering: "pooled" | "moments";

  constructor(opts: TfOpsOptions = {}) {
    this.store = opts.store ?? new ParamStore(opts.trainable ?? false);
    this.rng = new Rng(opts.seed ?? 0);
    this.conv3dLowering = opts.conv3d ?? "auto";
    this.bnLowering = opts.batchNorm ?? "moments";
  }

  // ---- boundary ----------------------------------------------------------------------------

  /** Upload a logical-layout (PyTorch) array as a physical tensor. */
  input(data: Float32Array, shape: number[]): tf.Tensor {
    if (shape.length === 4) {
      const p = permute(data, shape, [0, 2, 3, 1]);
      return tf.tensor(p.data, p.shape);
    }
    if (shape.length === 5) {
      const p = permute(data, shape, [0, 2, 3, 4, 1]);
      return tf.tensor(p.data, p.shape);
    }
    return tf.tensor(data, shape);
  }

  /** Download a tensor in logical layout. */
  async read(x: tf.Tensor): Promise<{ data: Float32Array; shape: number[] }> {
    return this.toLogical((await x.data()) as Float32Array, x.shape);
  }

  readSync(x: tf.Tensor): { data: Float32Array; shape: number[] } {
    return this.toLogical(x.dataSync() as Float32Array, x.shape);
  }

  private toLogical(data: Float32Array, phys: number[]): { data: Float32Array; shape: number[] } {
    if (phys.length === 4) return permute(data, phys, [0, 3, 1, 2]);
    if (phys.length === 5) return permute(data, phys, [0, 4, 1, 2, 3]);
    return { data: Float32Array.from(data), shape: [...phys] };
  }

  shape(x: tf.Tensor): number[] {
    const s = x.shape;
    if (s.length === 4) return [s[0], s[3], s[1], s[2]];
    if (s.length === 5) return [s[0], s[4], s[1], s[2], s[3]];
    return [...s];
  }

  // ---- convolutions ------------------------------------------------------------------------

  conv2d(x: tf.Tensor, weight: Param, bias: Param | null, opts: Conv2dOptions = {}): tf.Tensor {
    const [sh, sw] = pair(opts.stride, 1);
    const [ph, pw] = pair(opts.padding, 0);
    const [dh, dw] = pair(opts.dilation, 1);
    const groups = opts.groups ?? 1;
    const cin = x.shape[3];
    const [cout, , kh, kw] = weight.shape;
    const x4 = x as tf.Tensor4D;
    let y: tf.Tensor;
    if (groups === 1) {
      const w = this.store.get(weight, "hwio") as tf.Tensor4D;
      y = tf.conv2d(x4, w, [sh, sw], padArg(ph, pw), "NHWC", [dh, dw]);
    } else if (groups === cin && cout === cin) {
      if (kh === 1 && kw === 1 && sh === 1 && sw === 1 && ph === 0 && pw === 0) {
        y = tf.mul(x4, this.store.get(weight, "dw1x1")); // depthwise 1x1 = per-channel scale
      } else {
        const w = this.store.get(weight, "dw") as tf.Tensor4D;
        y = tf.depthwiseConv2d(x4, w, [sh, sw], padArg(ph, pw), "NHWC", [dh, dw]);
      }
    } else {
      throw new Error(`conv2d: groups=${groups} with ${cin}->${cout} channels is not supported by the tfjs interpreter`);
    }
    return bias ? tf.add(y, this.store.get(bias, "vec")) : y;
  }

  conv3d(x: tf.Tensor, weight: Param, bias: Param | null, opts: Conv3dOptions = {}): tf.Tensor {
    if ((opts.groups ?? 1) !== 1) throw new Error("conv3d: groups > 1 is not supported by the tfjs interpreter");
    const [st, sh, sw] = triple(opts.stride, 1);
    const [pt, ph, pw] = triple(opts.padding, 0);
    const dilation = triple(opts.dilation, 1);
    const w = this.store.get(weight, "dhwio") as tf.Tensor5D;
    const lowering =
      this.conv3dLowering === "auto" ? (CONV3D_AS_CONV2D_ON.has(tf.getBackend()) ? "conv2d" : "kernel") : this.conv3dLowering;
    if (lowering === "conv2d") {
      const y = conv3dByFrames(x as tf.Tensor5D, w, [st, sh, sw], [pt, ph, pw], dilation);
      return bias ? tf.add(y, this.store.get(bias, "vec")) : y;
    }
    const padded =
      pt || ph || pw
        ? tf.pad(x, [
            [0, 0],
            [pt, pt],
            [ph, ph],
            [pw, pw],
            [0, 0],
          ])
        : x;
    const y = tf.conv3d(padded as tf.Tensor5D, w, [st, sh, sw], "valid", "NDHWC", dilation);
    return bias ? tf.add(y, this.store.get(bias, "vec")) : y;
  }

  linear(x: tf.Tensor, weight: Param, bias: Param | null): tf.Tensor {
    const y = tf.matMul(x as tf.Tensor2D, this.store.get(weight, "io") as tf.Tensor2D);
    return bias ? tf.add(y, this.store.get(bias, "vec")) : y;
  }

  // ---- normalisation / activation ----------------------------------------------------------

  batchNorm(x: tf.Tensor, bn: BatchNormParams, training: boolean): tf.Tensor {
    const gamma = this.store.get(bn.weight, "vec");
    const beta = this.store.get(bn.bias, "vec");
    if (!training) {
      const mean = this.store.get(bn.runningMean, "vec");
      const variance = this.store.get(bn.runningVar, "vec");
      // (x - mean) * (gamma / sqrt(var + eps)) + beta, as in PyTorch's eval BN
      const scale = tf.mul(gamma, tf.rsqrt(tf.add(variance, bn.eps)));
      return tf.add(tf.mul(tf.sub(x, mean), scale), beta);
    }
    const n = x.size / x.shape[x.shape.length - 1];
    if (this.bnLowering === "pooled") {
      const { y, mean, variance } = batchNormTrain(x, gamma, beta, bn.eps);
      this.updateRunningStats(bn, mean, variance, n);
      tf.dispose([mean, variance]);
      return y;
    }
    const axes = x.shape.slice(0, -1).map((_, i) => i);
    const { mean, variance } = tf.moments(x, axes);
    this.updateRunningStats(bn, mean, variance, n);
    const y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, bn.eps)));
    return tf.add(tf.mul(y, gamma), beta);
  }

  private updateRunningStats(bn: BatchNormParams, mean: tf.Tensor, variance: tf.Tensor, n: number): void {
    const m = bn.momentum;
    const runMean = this.store.get(bn.runningMean, "vec");
    const runVar = this.store.get(bn.runningVar, "vec");
    const [newMean, newVar] = tf.tidy(() => {
      const unbiased = tf.mul(variance, n / Math.max(1, n - 1));
      return [tf.add(tf.mul(runMean, 1 - m), tf.mul(mean, m)), tf.add(tf.mul(runVar, 1 - m), tf.mul(unbiased, m))];
    });
    this.store.replace(bn.runningMean, newMean);
    this.store.replace(bn.runningVar, newVar);
    const counter = bn.numBatchesTracked.data as BigInt64Array;
    counter[0] += 1n;
  }

  relu(x: tf.Tensor): tf.Tensor {
    return tf.relu(x);
  }

  add(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
    return tf.add(a, b);
  }

  /** Chained adds, not tf.addN: AddN's gradient saves all its inputs, which costs training memory. */
  sum(xs: tf.Tensor[]): tf.Tensor {
    return addAll(this, xs);
  }

  dropout(x: tf.Tensor, p: number, training: boolean): tf.Tensor {
    if (!training || p <= 0) return x;
    return tf.mul(x, tf.tensor(dropoutMask(this.rng, x.size, p), x.shape));
  }

  // ---- pooling / resampling ----------------------------------------------------------------

  maxPool2d(x: tf.Tensor, opts: Pool2dOptions): tf.Tensor {
    const k = pair(opts.kernel, 1);
    const s = pair(opts.stride ?? opts.kernel, 1);
    const [ph, pw] = pair(opts.padding, 0);
    // -inf padding then a valid window = PyTorch's max pool padding
    const padded =
      ph || pw
        ? tf.pad(
            x,
            [
              [0, 0],
              [ph, ph],
              [pw, pw],
              [0, 0],
            ],
            -Infinity,
          )
        : x;
    return tf.maxPool(padded as tf.Tensor4D, k, s, "valid");
  }

  avgPool2d(x: tf.Tensor, opts: Pool2dOptions): tf.Tensor {
    const k = pair(opts.kernel, 1);
    const s = pair(opts.stride ?? opts.kernel, 1);
    const [ph, pw] = pair(opts.padding, 0);
    if (!ph && !pw) return tf.avgPool(x as tf.Tensor4D, k, s, "valid");
    const padded = tf.pad(x, [
      [0, 0],
      [ph, ph],
      [pw, pw],
      [0, 0],
    ]);
    const sum = tf.avgPool(padded as tf.Tensor4D, k, s, "valid"); // divides by k*k: count_include_pad
    if (opts.countIncludePad ?? true) return sum;
    const [, h, w] = x.shape;
    const ones = tf.pad(tf.ones([1, h, w, 1]), [
      [0, 0],
      [ph, ph],
      [pw, pw],
      [0, 0],
    ]);
    const frac = tf.avgPool(ones as tf.Tensor4D, k, s, "valid");
    return tf.div(sum, frac);
  }

  /**
   * Max is separable: a 2-D max pool over (H, W) of every frame, then one over (T, H*W) with a
   * [kt, 1] window. All rank-4 (fast on wasm) and it avoids tfjs-backend-wasm 4.22's MaxPool3D,
   * which starts its max at FLT_MIN and so returns 1.2e-38 for windows of negative values.
   */
  maxPool3d(x: tf.Tensor, opts: Pool3dOptions): tf.Tensor {
    const [kt, kh, kw] = triple(opts.kernel, 1);
    const [st, sh, sw] = triple(opts.stride ?? opts.kernel, 1);
    const [pt, ph, pw] = triple(opts.padding, 0);
    const [n, t, h, w, c] = x.shape;
    let frames = tf.reshape(x, [n * t, h, w, c]);
    if (ph || pw)
      frames = tf.pad(
        frames,
        [
          [0, 0],
          [ph, ph],
          [pw, pw],
          [0, 0],
        ],
        -Infinity,
      );
    const spatial = kh > 1 || kw > 1 || sh > 1 || sw > 1 ? tf.maxPool(frames as tf.Tensor4D, [kh, kw], [sh, sw], "valid") : frames;
    const [, oh, ow] = spatial.shape;
    let seq = tf.reshape(spatial, [n, t, oh * ow, c]);
    if (pt)
      seq = tf.pad(
        seq,
        [
          [0, 0],
          [pt, pt],
          [0, 0],
          [0, 0],
        ],
        -Infinity,
      );
    const pooled = kt > 1 || st > 1 ? tf.maxPool(seq as tf.Tensor4D, [kt, 1], [st, 1], "valid") : seq;
    return tf.reshape(pooled, [n, pooled.shape[1] as number, oh, ow, c]);
  }

  globalAvgPool(x: tf.Tensor): tf.Tensor {
    const axes = x.shape.slice(1, -1).map((_, i) => i + 1);
    return tf.mean(x, axes);
  }

  resizeNearest(x: tf.Tensor, outH: number, outW: number): tf.Tensor {
    const [, h, w] = x.shape;
    const rows = tf.gather(x, nearestIndices(h, outH), 1);
    return tf.gather(rows, nearestIndices(w, outW), 2);
  }

  // ---- frames ------------------------------------------------------------------------------

  clipsToFrames(x: tf.Tensor, frames: number): tf.Tensor {
    const [n, h, w, tc] = x.shape;
    const c = tc / frames;
    return tf.reshape(tf.transpose(tf.reshape(x, [n, h, w, frames, c]), [0, 3, 1, 2, 4]), [n * frames, h, w, c]);
  }

  gatherRows(x: tf.Tensor, rows: number[]): tf.Tensor {
    return tf.gather(x, tf.tensor1d(rows, "int32"), 0);
  }

  timeShift(x: tf.Tensor, frames: number, offset: number): tf.Tensor {
    if (offset === 0) return x;
    const rows = x.shape[0];
    const inner = x.size / rows;
    if (Math.abs(offset) >= frames) return tf.zerosLike(x);
    // rank-3 [clips, T, rest] keeps slices fast on wasm (rank-5 slices are ~14x slower)
    const v = tf.reshape(x, [rows / frames, frames, inner]);
    const keep = frames - Math.abs(offset);
    const shifted =
      offset > 0
        ? tf.pad(tf.slice(v, [0, offset, 0], [-1, keep, -1]), [
            [0, 0],
            [0, offset],
            [0, 0],
          ])
        : tf.pad(tf.slice(v, [0, 0, 0], [-1, keep, -1]), [
            [0, 0],
            [-offset, 0],
            [0, 0],
          ]);
    return tf.reshape(shifted, x.shape);
  }

  sliceChannels(x: tf.Tensor, start: number, end: number): tf.Tensor {
    const begin = x.shape.map(() => 0);
    const size = x.shape.map(() => -1);
    begin[begin.length - 1] = start;
    size[size.length - 1] = end - start;
    return tf.slice(x, begin, size);
  }

  concatChannels(xs: tf.Tensor[]): tf.Tensor {
    return tf.concat(xs, xs[0].rank - 1);
  }

  segmentMean(x: tf.Tensor, segments: number): tf.Tensor {
    const [rows, k] = x.shape;
    return tf.mean(tf.reshape(x, [rows / segments, segments, k]), 1);
  }
}

function padArg(ph: number, pw: number): number | [[number, number], [number, number], [number, number], [number, number]] {
  return ph === pw
    ? ph
    : [
        [0, 0],
        [ph, ph],
        [pw, pw],
        [0, 0],
      ];
}

/** PyTorch nearest (legacy) source indices: floor(dst * float32(in/out)) in float32, clamped. */
export function nearestIndices(inSize: number, outSize: number): tf.Tensor1D {
  const scale = Math.fround(inSize / outSize);
  const idx = new Int32Array(outSize);
  for (let d = 0; d < outSize; d++) idx[d] = Math.min(Math.floor(Math.fround(d * scale)), inSize - 1);
  return tf.tensor1d(idx, "int32");
}
