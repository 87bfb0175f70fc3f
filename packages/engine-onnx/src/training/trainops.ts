/**
 * The training interpreter of the model definitions: OnnxOps' forward lowering (inherited, so the
 * inference export and the training step emit the same forward nodes) plus, for every op, a
 * reverse-mode rule recorded on a tape. Differences from OnnxOps, all for training:
 *   - every Param (weights, BN buffers) is a graph INPUT named by its state_dict key, so one
 *     compiled graph serves every step (weights and optimizer state are fed back). Inputs are FLAT
 *     ([numel]) and reshaped inside the graph: the optimizer's elementwise ops then run on 1-D
 *     tensors (onnxruntime's scalar broadcast over shapes ending in 1x1, e.g. 1x1-conv weights,
 *     falls back to a per-element loop ~20x slower);
 *   - train-mode BN computes batch statistics and emits PyTorch's running-statistics update as
 *     extra graph outputs (momentum, unbiased variance into running_var);
 *   - dropout multiplies by a mask that is a graph input (drawn per step from a seeded generator);
 *   - max pooling also emits its argmax indices (for the scatter-add backward);
 *   - per-channel affine passes (BN, a depthwise 1x1 conv such as TAM's) are one inference-mode
 *     BatchNormalization node (see `affine`), and a temporal shift is one Pad (see `timeShift`):
 *     same values, fewer and faster passes over the feature maps.
 * Shapes are static (the batch is fixed at trace time).
 */
import type { Param } from "@blvnet/core";
import {
  type BatchNormParams,
  type Conv2dOptions,
  type Conv3dOptions,
  type Pool2dOptions,
  type Pool3dOptions,
  pair,
  type TemporalTap,
  triple,
} from "@blvnet/core";
import { onnxAttr } from "../onnx/graph.js";
import { nearestSourceIndices, OnnxOps, OnnxValue } from "../onnx/onnxops.js";
import { type ConvGeometry, ConvGrad, channelsFirst, convTransposeGrad, type FlipWeight, type InputGradLowering } from "./conv-grad.js";
import { Emitter, numel, TRAIN_OPSET } from "./emit.js";
import { Tape } from "./tape.js";

/** A train-mode BN's running statistics: graph inputs (the Params) and the updated values' output names. */
export interface RunningStatsUpdate {
  bn: BatchNormParams;
  meanOut: string;
  varOut: string;
}

/** A dropout mask the caller feeds each step: 0 or 1/(1-p) per element, logical layout. */
export interface DropoutMask {
  name: string;
  shape: number[];
  p: number;
}

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => i + from);

/** Lowering choices (for A/B timing; the defaults are the lowerings measured at parity with PyTorch). */
export interface TrainLowering {
  convInputGrad?: InputGradLowering;
  /**
   * Gradient sums as chained Add nodes, not Sum: true always (OrtTrainer sets it for WebGPU, whose EP
   * has no Sum kernel), false never; default: sums of up to 4 terms (faster on CPU, see Emitter.sum).
   */
  sumAsAdds?: boolean;
  /** How stride-1 conv input gradients build the flipped weight of their forward Conv, and where they use it (see FlipWeight; default "slice"). */
  flipWeight?: FlipWeight;
  /** The previous lowerings of the ReLU and avg-pool backward and of small-Cin weight gradients (Where, depthwise ConvTranspose, im2col; A/B timing; see each rule). */
  legacy?: boolean;
  /**
   * SGD update of the params with at most this many elements (BN scales and shifts, biases) as ONE
   * update of their concatenation (Concat of grads, weights and momenta; Split into the in-place
   * outputs) instead of ~12 tiny nodes per param (norm term, update, ordering ticks) whose
   * kernel-launch overhead far exceeds their data time: bLVNet-TAM-50 step graph 6,326 -> 5,151
   * nodes, same peak RSS. Same losses, weights and momenta bit for bit; the reported gradient norm
   * sums the packed squares in another order (~1 ulp; with clipping the clip coefficient follows).
   * 0: every param updated on its own (the previous graph, byte-identical). Default PACK_UPDATES_BELOW.
   */
  packUpdatesBelow?: number;
  /**
   * TAM blends (`temporalBlend`) on frames of at least this many positions (H*W) run as MatMuls over
   * a clip-major view; smaller ones op by op, where the per-plane Transposes and the tiny batched
   * MatMuls cost more than the passes they save. Infinity: never fused (A/B). Default BLEND_MIN_PLANE.
   */
  blendMinPlane?: number;
}

/** Default `TrainLowering.packUpdatesBelow` (elements). */
export const PACK_UPDATES_BELOW = 4096;

/** Default `TrainLowering.blendMinPlane` (positions per frame). */
export const BLEND_MIN_PLANE = 512;

export class OnnxTrainOps extends OnnxOps {
  readonly e: Emitter;
  readonly tape = new Tape();
  /** Graph input name (flat, [numel]) of every Param the forward reads, in first-use order. */
  readonly paramInputs = new Map<Param, string>();
  /** The in-graph view of each Param in its own shape (what the ops read). */
  private readonly paramViews = new Map<Param, string>();
  readonly runningStats: RunningStatsUpdate[] = [];
  readonly dropoutMasks: DropoutMask[] = [];
  private readonly usedNames = new Set<string>();
  /** Channels-first copies of forward values, shared by every conv backward that reads the value. */
  private readonly channelsFirstOf = new Map<string, string>();

  constructor(readonly lowering: TrainLowering = {}) {
    super({ opset: TRAIN_OPSET, foldBatchNorm: false, lazyRows: false });
    this.e = new Emitter(this.graph, { chainedAdds: lowering.sumAsAdds });
  }

  /** Declare a graph input; `requiresGrad` asks for dL/dx (gradient checks). */
  override input(name: string, shape: number[], requiresGrad = false): OnnxValue {
    if (requiresGrad) this.tape.markLive(name);
    return super.input(name, shape);
  }

  /** Params are flat graph inputs named by their state_dict key (fed back every step), viewed in their own shape. */
  protected override param(p: Param): string {
    const known = this.paramViews.get(p);
    if (known) return known;
    if (!(p.data instanceof Float32Array)) throw new Error(`${p.name}: only float32 params can be training-graph inputs`);
    let name = p.name || this.graph.fresh("param");
    while (this.usedNames.has(name)) name = this.graph.fresh(name);
    this.usedNames.add(name);
    this.paramInputs.set(p, name);
    const view = p.shape.length === 1 ? name : this.e.reshape(name, p.shape);
    this.paramViews.set(p, view);
    return view;
  }

  private value(name: string, shape: number[]): OnnxValue {
    return new OnnxValue(name, shape);
  }

  private record(y: OnnxValue, inputs: OnnxValue[], params: (Param | null)[], backward: (dy: string) => void): OnnxValue {
    this.tape.record(
      y.name,
      inputs.map((v) => v.name),
      params,
      backward,
    );
    return y;
  }

  /** Gradient contribution to a value (dropped unless the value needs one). */
  private gradTo(x: OnnxValue, g: () => string): void {
    if (this.tape.needs(x.name)) this.tape.toValue(x.name, g());
  }

  // ---- convolutions / linear ---------------------------------------------------------------

  override conv2d(x: OnnxValue, weight: Param, bias: Param | null, opts: Conv2dOptions = {}): OnnxValue {
    const stride = pair(opts.stride, 1);
    const pad = pair(opts.padding, 0);
    const dilation = pair(opts.dilation, 1);
    const groups = opts.groups ?? 1;
    const [cout, cinG, kh, kw] = weight.shape;
    const cin = x.shape[1];
    if (groups === cin && cout === cin && cinG === 1 && kh === 1 && kw === 1 && stride.every((v) => v === 1) && pad.every((v) => v === 0)) {
      return this.channelScale(x, weight, bias);
    }
    const y = super.conv2d(x, weight, bias, opts);
    return this.recordConv(x, y, weight, bias, {
      inShape: [...x.shape],
      outShape: [...y.shape],
      kernel: [kh, kw],
      stride,
      pad,
      dilation,
      groups,
    });
  }

  override conv3d(x: OnnxValue, weight: Param, bias: Param | null, opts: Conv3dOptions = {}): OnnxValue {
    const y = super.conv3d(x, weight, bias, opts);
    return this.recordConv(x, y, weight, bias, {
      inShape: [...x.shape],
      outShape: [...y.shape],
      kernel: weight.shape.slice(2),
      stride: triple(opts.stride, 1),
      pad: triple(opts.padding, 0),
      dilation: triple(opts.dilation, 1),
      groups: opts.groups ?? 1,
    });
  }

  private recordConv(x: OnnxValue, y: OnnxValue, weight: Param, bias: Param | null, g: ConvGeometry): OnnxValue {
    return this.record(y, [x], [weight, bias], (dy) => {
      const grad = new ConvGrad(
        this.e,
        dy,
        g,
        this.lowering.convInputGrad,
        (e, v, shape) => {
          let t = this.channelsFirstOf.get(v);
          if (!t) this.channelsFirstOf.set(v, (t = channelsFirst(e, v, shape)));
          return t;
        },
        !this.lowering.legacy,
        this.lowering.flipWeight,
      );
      this.tape.toParam(bias, () => grad.bias());
      this.tape.toParam(weight, () => grad.weight(x.name));
      this.gradTo(x, () => grad.input(this.param(weight)));
    });
  }

  /** Depthwise 1x1 conv = per-channel scale: y = x * w[c] (+ b[c]), as one affine pass. */
  private channelScale(x: OnnxValue, weight: Param, bias: Param | null): OnnxValue {
    const e = this.e;
    const rank = x.shape.length;
    const c = x.shape[1];
    const w = this.flatParam(weight);
    const out = this.value(this.affine(x.name, w, bias ? this.flatParam(bias) : null, c), [...x.shape]);
    const axes = [0, ...range(rank - 2, 2)];
    return this.record(out, [x], [weight, bias], (dy) => {
      this.tape.toParam(bias, () => e.reduceSum(dy, axes, false));
      this.tape.toParam(weight, () => e.reshape(e.reduceSum(e.mul(dy, x.name), axes, false), weight.shape));
      this.gradTo(x, () => this.affine(dy, w, null, c));
    });
  }

  override linear(x: OnnxValue, weight: Param, bias: Param | null): OnnxValue {
    const y = super.linear(x, weight, bias);
    const e = this.e;
    return this.record(y, [x], [weight, bias], (dy) => {
      this.tape.toParam(bias, () => e.reduceSum(dy, [0], false));
      this.tape.toParam(weight, () => e.op("Gemm", [dy, x.name], { transA: onnxAttr.int(1) }));
      this.gradTo(x, () => e.op("MatMul", [dy, this.param(weight)]));
    });
  }

  // ---- normalisation / activation / arithmetic ---------------------------------------------

  override batchNorm(x: OnnxValue, bn: BatchNormParams, training: boolean): OnnxValue {
    return training ? this.batchNormTrain(x, bn) : this.batchNormEval(x, bn);
  }

  private bnBroadcast(x: OnnxValue): { axes: number[]; m: number } {
    const rank = x.shape.length;
    const c = x.shape[1];
    return { axes: [0, ...range(rank - 2, 2)], m: numel(x.shape) / c };
  }

  private batchNormEval(x: OnnxValue, bn: BatchNormParams): OnnxValue {
    const y = super.batchNorm(x, bn, false);
    const e = this.e;
    const { axes } = this.bnBroadcast(x);
    const c = x.shape[1];
    return this.record(y, [x], [bn.weight, bn.bias], (dy) => {
      const rstd = e.op("Reciprocal", [e.op("Sqrt", [e.add(this.flatParam(bn.runningVar), e.scalar(bn.eps))])]);
      this.tape.toParam(bn.bias, () => e.reduceSum(dy, axes, false));
      this.tape.toParam(bn.weight, () => {
        const xc = this.affine(x.name, this.ones(c), e.op("Neg", [this.flatParam(bn.runningMean)]), c);
        return e.mul(e.reduceSum(e.mul(dy, xc), axes, false), rstd);
      });
      this.gradTo(x, () => this.affine(dy, e.mul(this.flatParam(bn.weight), rstd), null, c));
    });
  }

  /**
   * Batch statistics (biased variance normalises), PyTorch's running update (unbiased variance),
   * and the standard BN backward written with per-channel coefficients:
   *   dx = dy*scale + xc*k1 + k0,  scale = gamma*rstd, k1 = -scale*rstd*dgamma/M, k0 = -scale*dbeta/M.
   * Every per-channel pass over the map is an `affine` (see there); statistics are 1-D [C].
   */
  private batchNormTrain(x: OnnxValue, bn: BatchNormParams): OnnxValue {
    const e = this.e;
    const { axes, m } = this.bnBroadcast(x);
    const c = x.shape[1];
    const mean = e.reduceMean(x.name, axes, false);
    const xc = this.affine(x.name, this.ones(c), e.op("Neg", [mean]), c);
    const variance = e.scale(e.reduceSumSquare(xc, axes, false), 1 / m);
    const rstd = e.op("Reciprocal", [e.op("Sqrt", [e.add(variance, e.scalar(bn.eps))])]);
    const scale = e.mul(this.flatParam(bn.weight), rstd);
    const y = this.value(this.affine(xc, scale, this.flatParam(bn.bias), c), [...x.shape]);

    const mom = bn.momentum;
    const meanOut = e.add(e.scale(this.flatParam(bn.runningMean), 1 - mom), e.scale(mean, mom));
    const unbiased = m > 1 ? m / (m - 1) : 1;
    const varOut = e.add(e.scale(this.flatParam(bn.runningVar), 1 - mom), e.scale(e.scale(variance, unbiased), mom));
    this.runningStats.push({ bn, meanOut, varOut });

    return this.record(y, [x], [bn.weight, bn.bias], (dy) => {
      const dbeta = e.reduceSum(dy, axes, false);
      const dgamma = e.mul(e.reduceSum(e.mul(dy, xc), axes, false), rstd);
      this.tape.toParam(bn.bias, () => dbeta);
      this.tape.toParam(bn.weight, () => dgamma);
      this.gradTo(x, () => {
        const k1 = e.scale(e.mul(scale, e.mul(rstd, dgamma)), -1 / m);
        const k0 = e.scale(e.mul(scale, dbeta), -1 / m);
        return e.add(this.affine(dy, scale, k0, c), this.affine(xc, k1, null, c));
      });
    });
  }

  /**
   * x * a[c] + b[c] (b = 0 when null) in one pass: an inference-mode BatchNormalization with mean 0,
   * variance 1 and epsilon 0, which onnxruntime evaluates as exactly x * a + b (a / sqrt(1 + 0) == a).
   * Its per-channel kernel is 2-20x faster than Mul/Add broadcasting a [1, C, 1, 1] tensor, which
   * onnxruntime runs as a per-element loop when the spatial size is small.
   */
  private affine(x: string, a: string, b: string | null, channels: number): string {
    const e = this.e;
    const zeros = e.f32(new Float32Array(channels), [channels]);
    return e.op("BatchNormalization", [x, a, b ?? zeros, zeros, this.ones(channels)], { epsilon: onnxAttr.float(0) });
  }

  private ones(channels: number): string {
    return this.e.f32(new Float32Array(channels).fill(1), [channels]);
  }

  /** The flat ([numel]) graph input of a param (what 1-D per-channel math wants). */
  private flatParam(p: Param): string {
    this.param(p);
    return this.paramInputs.get(p)!;
  }

  /**
   * dx = dy * float(y > 0). onnxruntime's Where broadcasting the scalar 0 runs ~4x slower than a
   * same-shape Mul (6 ms vs 1.6 ms on a 16x64x56x56 map); Greater + Cast + Mul is exact (dy * 1, dy * 0).
   */
  override relu(x: OnnxValue): OnnxValue {
    const y = super.relu(x);
    const e = this.e;
    return this.record(y, [x], [], (dy) => {
      this.gradTo(x, () => {
        const positive = e.op("Greater", [y.name, e.scalar(0)]);
        if (this.lowering.legacy) return e.op("Where", [positive, dy, e.scalar(0)]);
        return e.mul(dy, e.op("Cast", [positive], { to: onnxAttr.int(1) })); // 1 = FLOAT
      });
    });
  }

  override add(a: OnnxValue, b: OnnxValue): OnnxValue {
    const y = super.add(a, b);
    return this.record(y, [a, b], [], (dy) => {
      this.gradTo(a, () => dy);
      this.gradTo(b, () => dy);
    });
  }

  override dropout(x: OnnxValue, p: number, training: boolean): OnnxValue {
    if (!training || p <= 0) return x;
    const mask = `dropout_mask_${this.dropoutMasks.length}`;
    this.dropoutMasks.push({ name: mask, shape: [...x.shape], p });
    const y = this.value(this.e.mul(x.name, mask), [...x.shape]);
    return this.record(y, [x], [], (dy) => this.gradTo(x, () => this.e.mul(dy, mask)));
  }

  // ---- pooling / resampling ----------------------------------------------------------------

  override maxPool2d(x: OnnxValue, opts: Pool2dOptions): OnnxValue {
    return this.maxPool(x, pair(opts.kernel, 1), pair(opts.stride ?? opts.kernel, 1), pair(opts.padding, 0));
  }

  override maxPool3d(x: OnnxValue, opts: Pool3dOptions): OnnxValue {
    return this.maxPool(x, triple(opts.kernel, 1), triple(opts.stride ?? opts.kernel, 1), triple(opts.padding, 0));
  }

  /** MaxPool with its Indices output (flat NC... offsets); backward scatter-adds dy at them. */
  private maxPool(x: OnnxValue, k: number[], s: number[], p: number[]): OnnxValue {
    const e = this.e;
    const [n, c, ...spatial] = x.shape;
    const shape = [n, c, ...spatial.map((v, i) => Math.floor((v + 2 * p[i] - k[i]) / s[i]) + 1)];
    const yName = this.graph.fresh("maxpool");
    const indices = this.graph.fresh("maxpool_idx");
    this.graph.addNode("MaxPool", [x.name], [yName, indices], {
      kernel_shape: onnxAttr.ints(k),
      strides: onnxAttr.ints(s),
      pads: onnxAttr.ints([...p, ...p]),
    });
    const y = this.value(yName, shape);
    return this.record(y, [x], [], (dy) => {
      this.gradTo(x, () => {
        const total = numel(x.shape);
        const flat = e.op("ScatterElements", [e.zeros([total]), e.reshape(indices, [-1]), e.reshape(dy, [-1])], {
          axis: onnxAttr.int(0),
          reduction: onnxAttr.string("add"),
        });
        return e.reshape(flat, x.shape);
      });
    });
  }

  override avgPool2d(x: OnnxValue, opts: Pool2dOptions): OnnxValue {
    const y = super.avgPool2d(x, opts);
    const e = this.e;
    const k = pair(opts.kernel, 1);
    const s = pair(opts.stride ?? opts.kernel, 1);
    const p = pair(opts.padding, 0);
    const includePad = opts.countIncludePad ?? true;
    return this.record(y, [x], [], (dy) => {
      this.gradTo(x, () => {
        if (includePad && !this.lowering.legacy) return avgPoolAdjoint(e, dy, x.shape, y.shape, k, s, p);
        const c = x.shape[1];
        // dy / (window count), spread back over each window by a depthwise ConvTranspose (with
        // count_include_pad the constant 1/(kh*kw) sits in its kernel: no extra pass).
        const divided = includePad
          ? dy
          : e.mul(dy, e.f32(inverseWindowCounts(x.shape.slice(2), y.shape.slice(2), k, s, p), [1, 1, ...y.shape.slice(2)]));
        const kernel = e.f32(new Float32Array(c * k[0] * k[1]).fill(includePad ? 1 / (k[0] * k[1]) : 1), [c, 1, ...k]);
        return convTransposeGrad(e, divided, kernel, {
          inShape: [...x.shape],
          outShape: [...y.shape],
          kernel: k,
          stride: s,
          pad: p,
          dilation: [1, 1],
          groups: c,
        });
      });
    });
  }

  override globalAvgPool(x: OnnxValue): OnnxValue {
    const y = super.globalAvgPool(x);
    const e = this.e;
    const [n, c, ...spatial] = x.shape;
    return this.record(y, [x], [], (dy) => {
      this.gradTo(x, () => e.expand(e.reshape(e.scale(dy, 1 / numel(spatial)), [n, c, ...spatial.map(() => 1)]), x.shape));
    });
  }

  override resizeNearest(x: OnnxValue, outH: number, outW: number): OnnxValue {
    const y = super.resizeNearest(x, outH, outW);
    const [n, c, h, w] = x.shape;
    return this.record(y, [x], [], (dy) => {
      this.gradTo(x, () => {
        let g = dy;
        if (outW !== w) g = this.gatherGrad(g, [n, c, outH, outW], 3, nearestSourceIndices(w, outW), w);
        if (outH !== h) g = this.gatherGrad(g, [n, c, outH, w], 2, nearestSourceIndices(h, outH), h);
        return g;
      });
    });
  }

  /**
   * Backward of a Gather along `axis` (indices may repeat): a MatMul with the constant 0/1 scatter
   * matrix S[j, indices[j]] = 1, which sums the rows that came from the same source exactly.
   */
  private gatherGrad(dy: string, dyShape: number[], axis: number, indices: number[], inSize: number): string {
    const e = this.e;
    const a = numel(dyShape.slice(0, axis));
    const l = indices.length;
    const b = numel(dyShape.slice(axis + 1));
    const outShape = [...dyShape];
    outShape[axis] = inSize;
    if (b === 1) {
      const s = new Float32Array(l * inSize);
      indices.forEach((src, j) => (s[j * inSize + src] = 1));
      return e.reshape(e.op("MatMul", [e.reshape(dy, [a, l]), e.f32(s, [l, inSize])]), outShape);
    }
    const sT = new Float32Array(inSize * l);
    indices.forEach((src, j) => (sT[src * l + j] = 1));
    const lhs = e.f32(sT, [inSize, l]);
    const rhs = e.reshape(dy, a === 1 ? [l, b] : [a, l, b]);
    return e.reshape(e.op("MatMul", [lhs, rhs]), outShape);
  }

  // ---- frames ------------------------------------------------------------------------------

  override clipsToFrames(x: OnnxValue, frames: number): OnnxValue {
    const y = super.clipsToFrames(x, frames);
    return this.record(y, [x], [], (dy) => this.gradTo(x, () => this.e.reshape(dy, x.shape)));
  }

  override gatherRows(x: OnnxValue, rows: number[]): OnnxValue {
    const y = super.gatherRows(x, rows);
    return this.record(y, [x], [], (dy) => this.gradTo(x, () => this.gatherGrad(dy, [...y.shape], 0, rows, x.shape[0])));
  }

  /**
   * One Pad with a negative pad at one end of the time axis (crop) and a positive one at the other
   * (zeros): a single pass, where OnnxOps' Slice + Pad takes two. The adjoint is the opposite shift.
   */
  override timeShift(x: OnnxValue, frames: number, offset: number): OnnxValue {
    if (offset === 0) return x;
    if (Math.abs(offset) >= frames) return super.timeShift(x, frames, offset); // all zeros: no gradient flows
    const y = this.value(this.shiftPad(x.name, x.shape, frames, offset), [...x.shape]);
    return this.record(y, [x], [], (dy) => this.gradTo(x, () => this.shiftPad(dy, x.shape, frames, -offset)));
  }

  /**
   * TAM's blend as MatMuls over a [clips, C, T, H*W] view: y[c] = M_c x[c], M_c = sum_k w_k[c] S_k,
   * where the 0/1 matrix S_k [T, T] reads frame t + offset_k inside the clip (so M_c is banded and
   * exact: one nonzero term per entry). Backward: dx[c] = M_c^T dy[c], and dw_k[c] is the sum of
   * (dy x^T)[c] over S_k's ones. Two Transposes of whole-plane blocks and one MatMul replace a pass
   * per tap, shift and sum (forward 3 passes instead of 7; backward 4 instead of 13).
   */
  temporalBlend(x: OnnxValue, frames: number, taps: readonly TemporalTap[]): OnnxValue | null {
    const e = this.e;
    const [rows, c, ...spatial] = x.shape;
    const [n, t, s, k] = [rows / frames, frames, numel(spatial), taps.length];
    if (!Number.isInteger(n) || s < (this.lowering.blendMinPlane ?? BLEND_MIN_PLANE)) return null;
    const toClips = (v: string) => e.transpose(e.reshape(v, [n, t, c, s]), [0, 2, 1, 3]); // [n, C, T, s]
    const fromClips = (v: string) => e.reshape(e.transpose(v, [0, 2, 1, 3]), [...x.shape]);
    const reads = new Float32Array(k * t * t); // S_k flattened: [K, T*T]
    const readsT = new Float32Array(t * t * k); // its transpose [T*T, K]
    taps.forEach(({ offset }, j) => {
      for (let row = 0; row < t; row++) {
        if (row + offset < 0 || row + offset >= t) continue;
        const entry = row * t + row + offset;
        reads[j * t * t + entry] = 1;
        readsT[entry * k + j] = 1;
      }
    });
    const w = e.concat(
      taps.map(({ weight }) => e.reshape(this.flatParam(weight), [c, 1])),
      1,
    ); // [C, K]
    const blend = e.reshape(e.op("MatMul", [w, e.f32(reads, [k, t * t])]), [c, t, t]);
    const xClips = toClips(x.name);
    const y = this.value(fromClips(e.op("MatMul", [blend, xClips])), [...x.shape]);
    return this.record(
      y,
      [x],
      taps.map(({ weight }) => weight),
      (dy) => {
        const dyClips = toClips(dy);
        let perTap: string | null = null; // [C, K], shared by the taps' weight gradients
        const tapGrads = () => {
          const outer = e.op("MatMul", [dyClips, e.transpose(xClips, [0, 1, 3, 2])]); // [n, C, T, T]
          perTap ??= e.op("MatMul", [e.reshape(e.reduceSum(outer, [0], false), [c, t * t]), e.f32(readsT, [t * t, k])]);
          return perTap;
        };
        taps.forEach(({ weight }, j) => this.tape.toParam(weight, () => e.reshape(e.slice(tapGrads(), [j], [j + 1], [1]), weight.shape)));
        this.gradTo(x, () => fromClips(e.op("MatMul", [e.transpose(blend, [0, 2, 1]), dyClips])));
      },
    );
  }

  private shiftPad(x: string, shape: readonly number[], frames: number, offset: number): string {
    const rows = shape[0];
    if (rows % frames !== 0) throw new Error(`timeShift: ${rows} rows are not whole clips of ${frames} frames`);
    const inner = numel(shape.slice(1));
    const clips = this.e.reshape(x, [rows / frames, frames, inner]);
    // out[t] = x[t + offset]: drop `offset` frames at the start and add as many zeros at the end (or the reverse).
    const pads = [0, -offset, 0, 0, offset, 0];
    return this.e.reshape(this.e.op("Pad", [clips, this.e.i64(pads)]), [...shape]);
  }

  override sliceChannels(x: OnnxValue, start: number, end: number): OnnxValue {
    const y = super.sliceChannels(x, start, end);
    const rank = x.shape.length;
    return this.record(y, [x], [], (dy) => {
      this.gradTo(x, () => {
        const pads = new Array<number>(2 * rank).fill(0);
        pads[1] = start;
        pads[rank + 1] = x.shape[1] - end;
        return this.e.pad(dy, pads);
      });
    });
  }

  override concatChannels(xs: OnnxValue[]): OnnxValue {
    const y = super.concatChannels(xs);
    if (xs.length === 1) return y;
    return this.record(y, xs, [], (dy) => {
      let offset = 0;
      for (const x of xs) {
        const from = offset;
        offset += x.shape[1];
        this.gradTo(x, () => this.e.slice(dy, [from], [from + x.shape[1]], [1]));
      }
    });
  }

  override segmentMean(x: OnnxValue, segments: number): OnnxValue {
    const y = super.segmentMean(x, segments);
    const [rows, k] = x.shape;
    const e = this.e;
    return this.record(y, [x], [], (dy) => {
      this.gradTo(x, () =>
        e.reshape(e.expand(e.reshape(e.scale(dy, 1 / segments), [rows / segments, 1, k]), [rows / segments, segments, k]), [rows, k]),
      );
    });
  }
}

/**
 * The adjoint of a 2-D average pool with count_include_pad, separably: dx = A_h^T dy A_w / (kh*kw)
 * per image and channel, where A[o, i] = 1 when input cell i lies in output window o. Both products
 * are one flat MatMul with a small constant matrix (the rows side between two Transposes of the
 * small maps). onnxruntime's depthwise ConvTranspose (the general lowering) runs at ~1 GFLOP/s:
 * 3-5 ms per shortcut pool of bLVNet-TAM; a zero-interleaving Pad + AveragePool was slower still
 * (the 6-D Pad copies one element per row).
 */
function avgPoolAdjoint(e: Emitter, dy: string, xShape: number[], yShape: number[], k: number[], s: number[], p: number[]): string {
  const [h, w] = xShape.slice(2);
  const [ho, wo] = yShape.slice(2);
  const windows = (outSize: number, inSize: number, axis: number, value: number) => {
    const m = new Float32Array(outSize * inSize); // [out, in]
    for (let o = 0; o < outSize; o++)
      for (let t = 0; t < k[axis]; t++) {
        const i = o * s[axis] - p[axis] + t;
        if (i >= 0 && i < inSize) m[o * inSize + i] = value;
      }
    return e.f32(m, [outSize, inSize]);
  };
  const rows = e.op("MatMul", [e.transpose(dy, [0, 1, 3, 2]), windows(ho, h, 0, 1 / (k[0] * k[1]))]); // [n, c, wo, h]
  return e.op("MatMul", [e.transpose(rows, [0, 1, 3, 2]), windows(wo, w, 1, 1)]); // [n, c, h, w]
}

/** 1 / (cells of each window inside the unpadded input) for avg pooling without count_include_pad. */
function inverseWindowCounts(inSize: number[], outSize: number[], k: number[], s: number[], p: number[]): Float32Array {
  const along = (axis: number) =>
    Array.from({ length: outSize[axis] }, (_, o) => {
      const lo = Math.max(0, o * s[axis] - p[axis]);
      const hi = Math.min(inSize[axis], o * s[axis] - p[axis] + k[axis]);
      return hi - lo;
    });
  const rows = along(0);
  const cols = along(1);
  const out = new Float32Array(rows.length * cols.length);
  rows.forEach((r, i) => cols.forEach((c, j) => (out[i * cols.length + j] = 1 / (r * c))));
  return out;
}
