/**
 * The ONNX interpreter of the model definitions: every op call appends standard ONNX nodes to a
 * graph instead of computing. Values are names plus their logical shape (ONNX is NCHW / NCTHW, the
 * PyTorch layout, so no layout conversion). Params become initializers in PyTorch layout (ONNX Conv
 * wants OIHW, Gemm with transB=1 takes [out, in]). Inference only: eval-mode BN is folded into the
 * conv that feeds it (when nothing else reads that conv's output), dropout is the identity.
 * Choices made for onnxruntime's speed, all exact: a blend of depthwise 1x1 convs over shifted
 * frames (TAM) is a chain of depthwise Convs joined by Adds that onnxruntime fuses in its blocked
 * layout; a lone depthwise 1x1 conv is a per-channel Mul; nearest upsampling by a power of two is a
 * Resize (other ratios gather PyTorch's own source indices).
 *
 * Dynamic batch: the graph's dim 0 is symbolic. The model still sees concrete shapes (a trace with
 * `dynamicClips` clips), so every emitted op must hold for any clip count: reshapes put -1 in dim 0,
 * row gathers are rewritten per clip (reshape to [clips, rows/clip, ...] + Gather on axis 1).
 */
import type { Param } from "@blvnet/core";
import {
  addAll,
  type BatchNormParams,
  type Conv2dOptions,
  type Conv3dOptions,
  type Ops,
  type Pool2dOptions,
  type Pool3dOptions,
  pair,
  triple,
  windowOut,
} from "@blvnet/core";
import { type AttrValue, GraphBuilder, type OnnxNode, onnxAttr } from "./graph.js";

/**
 * A tensor of the graph under construction: its value name and logical shape at trace time. A lazy
 * value (see `RowExpr`) has no nodes yet: reading its `name` emits them (once).
 */
export class OnnxValue {
  private _name: string | (() => string);

  constructor(
    name: string | (() => string),
    readonly shape: number[],
    /** Pending row maps / per-channel ops over materialised values (inference exports only). */
    readonly expr: RowExpr | null = null,
  ) {
    this._name = name;
  }

  get name(): string {
    if (typeof this._name === "function") this._name = this._name();
    return this._name;
  }
}

/**
 * A value not emitted yet, as a small expression whose leaves are row maps of emitted values.
 * Row maps (gatherRows, timeShift) compose and per-channel scales, sums and ReLUs are carried over
 * them, so a chain such as bLVNet's "write each pair's output to both frames, blend neighbouring
 * frames (TAM), take the odd / even frames" becomes a blend of the pairs themselves: no duplicated
 * frames, no gathers, half the elementwise work (two TAM taps that read the same rows are one scale
 * with summed weights). Patterns are per clip: `pattern[j]` is the source row (within the clip) of
 * output row j, or -1 for a zero row.
 */
export type RowExpr =
  | { kind: "rows"; base: OnnxValue; pattern: number[] }
  | { kind: "scale"; x: RowExpr; weight: Float32Array; name: string; param: Param | null }
  | { kind: "sum"; terms: RowExpr[] }
  | { kind: "relu"; x: RowExpr };

export const DEFAULT_OPSET = 17;
export const MIN_OPSET = 13;

export interface OnnxOpsOptions {
  /** ONNX opset of the default domain (>= 13; default 17). */
  opset?: number;
  /** Clips in the traced input when dim 0 is symbolic; null/undefined = static batch. */
  dynamicClips?: number | null;
  /** Fold eval BN into the preceding conv where possible (default true). */
  foldBatchNorm?: boolean;
  /** Carry row maps lazily (see `RowExpr`; default true). Interpreters that override ops set false. */
  lazyRows?: boolean;
  /**
   * Emit each TAM blend (with its ReLU) as one `RowBlend` node of the custom domain ROW_BLEND_DOMAIN
   * (one pass over the map; native-ops.ts) instead of depthwise Convs and Pads. Only for sessions that
   * register that library (default false: plain ONNX).
   */
  rowBlend?: boolean;
}

/** Domain and op of the fused blend (native/row-blend.c). */
export const ROW_BLEND_DOMAIN = "ai.blvnet";
export const ROW_BLEND_OP = "RowBlend";

/** A linear per-channel op a following eval BN can be folded into. */
interface ConvRecord {
  /** "conv": Conv(x, W[, b]); "scale": Mul(x, w[1,C,1,..]) (a depthwise 1x1 conv without bias). */
  kind: "conv" | "scale";
  node: OnnxNode;
  weight: Param;
  bias: Param | null;
}

interface FoldCandidate {
  conv: ConvRecord;
  bnNode: OnnxNode;
  bn: BatchNormParams;
}

/**
 * A value computed from `input` by per-row ops only (2-D convs, eval BNs, ReLUs): `redo` applies the
 * same ops to any rows of `input`, so a gather of the value's rows equals `redo(gather of input)`.
 * `chain` lists the values in between (each read once when the rewrite applies).
 */
interface PerRowChain {
  input: OnnxValue;
  redo: (rows: OnnxValue) => OnnxValue;
  chain: string[];
}

/** An emitted row gather: `out` holds rows `rows` of `base`. */
interface RowGather {
  base: OnnxValue;
  rows: number[];
  out: OnnxValue;
}

export class OnnxOps implements Ops<OnnxValue> {
  readonly kind = "onnx";
  readonly graph = new GraphBuilder();
  readonly opset: number;
  readonly dynamicClips: number | null;
  private readonly foldBatchNorm: boolean;
  private readonly paramNames = new Map<Param, string>();
  private readonly convByOutput = new Map<string, ConvRecord>();
  private readonly foldCandidates: FoldCandidate[] = [];
  private finished = false;
  private readonly lazyRows: boolean;
  private readonly rowBlend: boolean;
  /** RowBlend nodes emitted (see `rowBlend`). */
  rowBlends = 0;
  /** Clips in the traced batch (row maps are per clip). */
  private clips = 1;
  /** Emitted values of lazy expressions (and of row-mapped leaves, keyed by base name + pattern). */
  private readonly emitted = new Map<RowExpr, OnnxValue>();
  private readonly emittedRows = new Map<string, OnnxValue>();
  /** Values made by per-row ops, and the row gathers emitted (see `pushGathersToInputs`). */
  private readonly perRow = new Map<string, PerRowChain>();
  private readonly rowGathers: RowGather[] = [];

  constructor(opts: OnnxOpsOptions = {}) {
    this.opset = opts.opset ?? DEFAULT_OPSET;
    if (!Number.isInteger(this.opset) || this.opset < MIN_OPSET)
      throw new Error(`ONNX opset must be an integer >= ${MIN_OPSET}, got ${this.opset}`);
    this.dynamicClips = opts.dynamicClips ?? null;
    this.foldBatchNorm = opts.foldBatchNorm ?? true;
    this.lazyRows = opts.lazyRows ?? true;
    this.rowBlend = opts.rowBlend ?? false;
  }

  /** Declare the graph input (the name is the ONNX input name). */
  input(name: string, shape: number[]): OnnxValue {
    this.clips = this.dynamicClips ?? shape[0] ?? 1;
    return new OnnxValue(name, [...shape]);
  }

  shape(x: OnnxValue): number[] {
    return [...x.shape];
  }

  // ---- helpers -----------------------------------------------------------------------------

  /** The initializer of a Param (PyTorch layout, as is), created once per Param. OnnxTrainOps overrides it (params as graph inputs). */
  protected param(p: Param): string {
    let name = this.paramNames.get(p);
    if (name) return name;
    name = p.name || this.graph.fresh("param");
    if (this.graph.initializers.has(name)) name = this.graph.fresh(name);
    if (!(p.data instanceof Float32Array)) throw new Error(`${name}: only float32 params can be ONNX initializers`);
    this.graph.setInitializer(name, { dims: [...p.shape], data: p.f32 });
    this.paramNames.set(p, name);
    return name;
  }

  private node(opType: string, inputs: string[], shape: number[], attrs: Record<string, AttrValue> = {}): OnnxValue {
    return new OnnxValue(this.graph.op(opType, inputs, attrs), shape);
  }

  /** Reshape with -1 in dim 0 (batch-agnostic); `rest` are the fixed trailing dims. */
  private reshapeRows(x: OnnxValue, rest: number[], traceShape: number[]): OnnxValue {
    return this.node("Reshape", [x.name, this.graph.int64([-1, ...rest])], traceShape);
  }

  // ---- convolutions / linear ---------------------------------------------------------------

  conv2d(x: OnnxValue, weight: Param, bias: Param | null, opts: Conv2dOptions = {}): OnnxValue {
    const [sh, sw] = pair(opts.stride, 1);
    const [ph, pw] = pair(opts.padding, 0);
    const [dh, dw] = pair(opts.dilation, 1);
    const [n, cin, h, w] = x.shape;
    const [cout, , kh, kw] = weight.shape;
    const shape = [n, cout, windowOut(h, kh, sh, ph, dh), windowOut(w, kw, sw, pw, dw)];
    if (opts.groups === cin && cout === cin && kh === 1 && kw === 1 && sh === 1 && sw === 1 && ph === 0 && pw === 0) {
      // Lazy, so that a blend of such scales (TAM) is emitted as a whole (see `emitBlend`).
      if (this.lazyRows && !bias) {
        const rows = x.expr ?? { kind: "rows" as const, base: x, pattern: identityPattern(x.shape[0] / this.clips) };
        return this.lazy({ kind: "scale", x: rows, weight: weight.f32, name: weight.name || "dw", param: weight }, shape);
      }
      return this.depthwiseScale(x, weight, bias, shape);
    }
    const y = this.conv(x, weight, bias, shape, {
      kernel_shape: onnxAttr.ints([kh, kw]),
      strides: onnxAttr.ints([sh, sw]),
      pads: onnxAttr.ints([ph, pw, ph, pw]),
      dilations: onnxAttr.ints([dh, dw]),
      group: onnxAttr.int(opts.groups ?? 1),
    });
    return this.notePerRow(x, y, (v) => this.conv2d(v, weight, bias, opts));
  }

  conv3d(x: OnnxValue, weight: Param, bias: Param | null, opts: Conv3dOptions = {}): OnnxValue {
    const s = triple(opts.stride, 1);
    const p = triple(opts.padding, 0);
    const d = triple(opts.dilation, 1);
    const [n, , ...spatial] = x.shape;
    const [cout, , ...k] = weight.shape;
    const shape = [n, cout, ...spatial.map((v, i) => windowOut(v, k[i], s[i], p[i], d[i]))];
    return this.conv(x, weight, bias, shape, {
      kernel_shape: onnxAttr.ints(k),
      strides: onnxAttr.ints(s),
      pads: onnxAttr.ints([...p, ...p]),
      dilations: onnxAttr.ints(d),
      group: onnxAttr.int(opts.groups ?? 1),
    });
  }

  private conv(x: OnnxValue, weight: Param, bias: Param | null, shape: number[], attrs: Record<string, AttrValue>): OnnxValue {
    const inputs = [x.name, this.param(weight)];
    if (bias) inputs.push(this.param(bias));
    const out = this.graph.fresh("conv");
    const node = this.graph.addNode("Conv", inputs, [out], attrs);
    this.convByOutput.set(out, { kind: "conv", node, weight, bias });
    return new OnnxValue(out, shape);
  }

  /**
   * A depthwise 1x1 conv (TAM's blending weights) as a per-channel Mul: onnxruntime then keeps the
   * surrounding elementwise ops in plain NCHW instead of reordering to and from its blocked layout.
   */
  private depthwiseScale(x: OnnxValue, weight: Param, bias: Param | null, shape: number[]): OnnxValue {
    const perChannel = [1, weight.shape[0], ...shape.slice(2).map(() => 1)];
    const scale = this.graph.setInitializer(this.graph.fresh(`${weight.name || "dw"}.scale`), { dims: perChannel, data: weight.f32 });
    const out = this.graph.fresh("scale");
    const node = this.graph.addNode("Mul", [x.name, scale], [out]);
    if (bias) {
      const b = this.graph.setInitializer(this.graph.fresh(`${bias.name || "dw"}.bias`), { dims: perChannel, data: bias.f32 });
      return this.node("Add", [out, b], shape);
    }
    this.convByOutput.set(out, { kind: "scale", node, weight, bias: null });
    return new OnnxValue(out, shape);
  }

  linear(x: OnnxValue, weight: Param, bias: Param | null): OnnxValue {
    const inputs = [x.name, this.param(weight)];
    if (bias) inputs.push(this.param(bias));
    return this.node("Gemm", inputs, [x.shape[0], weight.shape[0]], { transB: onnxAttr.int(1) });
  }

  // ---- normalisation / activation / arithmetic ---------------------------------------------

  batchNorm(x: OnnxValue, bn: BatchNormParams, training: boolean): OnnxValue {
    if (training) throw new Error("OnnxOps builds inference graphs: call model.eval() before exporting");
    const inputs = [x.name, this.param(bn.weight), this.param(bn.bias), this.param(bn.runningMean), this.param(bn.runningVar)];
    const out = this.graph.fresh("bn");
    const bnNode = this.graph.addNode("BatchNormalization", inputs, [out], { epsilon: onnxAttr.float(bn.eps) });
    const conv = this.convByOutput.get(x.name);
    if (conv && this.foldBatchNorm) this.foldCandidates.push({ conv, bnNode, bn });
    return this.notePerRow(x, new OnnxValue(out, [...x.shape]), (v) => this.batchNorm(v, bn, false));
  }

  relu(x: OnnxValue): OnnxValue {
    // Only a blend (a lazy sum of scales, TAM's shape) stays lazy through a ReLU.
    if (x.expr && isBlend(x.expr)) return this.lazy({ kind: "relu", x: x.expr }, [...x.shape]);
    return this.notePerRow(x, this.node("Relu", [x.name], [...x.shape]), (v) => this.relu(v));
  }

  /** Record that `y = op(x)` acts row by row, extending x's own per-row chain (inference exports only). */
  private notePerRow(x: OnnxValue, y: OnnxValue, op: (v: OnnxValue) => OnnxValue): OnnxValue {
    if (!this.lazyRows) return y;
    const before = this.perRow.get(x.name);
    this.perRow.set(
      y.name,
      before
        ? { input: before.input, redo: (v) => op(before.redo(v)), chain: [...before.chain, x.name] }
        : { input: x, redo: op, chain: [] },
    );
    return y;
  }

  add(a: OnnxValue, b: OnnxValue): OnnxValue {
    if (a.shape.join() !== b.shape.join()) throw new Error(`add: shapes differ [${a.shape}] vs [${b.shape}]`);
    if (this.lazyRows) return this.sumValues([a, b]);
    return this.node("Add", [a.name, b.name], [...a.shape]);
  }

  /** n-ary sum: lazy / one Sum node where row maps are lazy, else chained Adds (the training graph reuses Add's reverse rule). */
  sum(xs: OnnxValue[]): OnnxValue {
    return this.lazyRows ? this.sumValues(xs) : addAll(this, xs);
  }

  /** Sum of same-shaped values: lazy when one is, else one Sum node (one pass for any count). */
  private sumValues(xs: OnnxValue[]): OnnxValue {
    if (xs.length === 1) return xs[0];
    const shape = [...xs[0].shape];
    for (const x of xs) if (x.shape.join() !== shape.join()) throw new Error(`sum: shapes differ [${x.shape}] vs [${shape}]`);
    // A sum of lazy scales (TAM's taps) stays lazy; anything else (a residual add) is emitted now,
    // so onnxruntime can still fuse it into the conv before it.
    if (xs.every((x) => x.expr && isBlend(x.expr))) return this.lazy({ kind: "sum", terms: xs.map((x) => x.expr!) }, shape);
    return this.node(
      xs.length === 2 ? "Add" : "Sum",
      xs.map((x) => x.name),
      shape,
    );
  }

  dropout(x: OnnxValue, p: number, training: boolean): OnnxValue {
    if (training && p > 0) throw new Error("OnnxOps builds inference graphs: dropout in training mode is not exportable");
    return x;
  }

  // ---- pooling / resampling ----------------------------------------------------------------

  maxPool2d(x: OnnxValue, opts: Pool2dOptions): OnnxValue {
    // ONNX MaxPool ignores padded cells (= -inf padding, as PyTorch).
    return this.pool("MaxPool", x, pair(opts.kernel, 1), pair(opts.stride ?? opts.kernel, 1), pair(opts.padding, 0), {});
  }

  avgPool2d(x: OnnxValue, opts: Pool2dOptions): OnnxValue {
    const countIncludePad = opts.countIncludePad ?? true;
    return this.pool("AveragePool", x, pair(opts.kernel, 1), pair(opts.stride ?? opts.kernel, 1), pair(opts.padding, 0), {
      count_include_pad: onnxAttr.int(countIncludePad ? 1 : 0),
    });
  }

  maxPool3d(x: OnnxValue, opts: Pool3dOptions): OnnxValue {
    return this.pool("MaxPool", x, triple(opts.kernel, 1), triple(opts.stride ?? opts.kernel, 1), triple(opts.padding, 0), {});
  }

  private pool(opType: string, x: OnnxValue, k: number[], s: number[], p: number[], extra: Record<string, AttrValue>): OnnxValue {
    const [n, c, ...spatial] = x.shape;
    const shape = [n, c, ...spatial.map((v, i) => windowOut(v, k[i], s[i], p[i]))];
    return this.node(opType, [x.name], shape, {
      kernel_shape: onnxAttr.ints(k),
      strides: onnxAttr.ints(s),
      pads: onnxAttr.ints([...p, ...p]),
      ...extra,
    });
  }

  globalAvgPool(x: OnnxValue): OnnxValue {
    const [n, c, ...spatial] = x.shape;
    const pooled = this.node("GlobalAveragePool", [x.name], [n, c, ...spatial.map(() => 1)]);
    return this.node("Flatten", [pooled.name], [n, c], { axis: onnxAttr.int(1) });
  }

  resizeNearest(x: OnnxValue, outH: number, outW: number): OnnxValue {
    const [n, c, h, w] = x.shape;
    if (outH === h && outW === w) return x;
    if (isPowerOfTwo(outH / h) && isPowerOfTwo(outW / w)) {
      // Power-of-two upsampling: Resize (nearest, asymmetric, floor) picks floor(dst / k), which is
      // PyTorch's floor(dst * float32(1/k)) exactly (1/k is exact in float32), and onnxruntime
      // runs it in its blocked (NCHWc) layout.
      return this.node("Resize", [x.name, "", this.graph.float32([1, 1, outH / h, outW / w])], [n, c, outH, outW], {
        mode: onnxAttr.string("nearest"),
        coordinate_transformation_mode: onnxAttr.string("asymmetric"),
        nearest_mode: onnxAttr.string("floor"),
      });
    }
    // Other ratios (e.g. 4 -> 7): Gather with PyTorch's own source indices, exact by construction.
    let y = x;
    if (outH !== h)
      y = this.node("Gather", [y.name, this.graph.int64(nearestSourceIndices(h, outH))], [n, c, outH, w], { axis: onnxAttr.int(2) });
    if (outW !== w)
      y = this.node("Gather", [y.name, this.graph.int64(nearestSourceIndices(w, outW))], [n, c, outH, outW], { axis: onnxAttr.int(3) });
    return y;
  }

  // ---- frames ------------------------------------------------------------------------------

  clipsToFrames(x: OnnxValue, frames: number): OnnxValue {
    const [n, tc, h, w] = x.shape;
    const c = tc / frames;
    if (!Number.isInteger(c)) throw new Error(`clipsToFrames: ${tc} channels are not ${frames} frames`);
    // (N, T*C, H, W) with channel t*C + c is contiguous (N*T, C, H, W): a pure reshape.
    return this.reshapeRows(x, [c, h, w], [n * frames, c, h, w]);
  }

  gatherRows(x: OnnxValue, rows: number[]): OnnxValue {
    if (this.lazyRows) {
      const pattern = this.clipPattern(rows, x.shape[0]);
      if (pattern) return this.mapRows(x, pattern, [rows.length, ...x.shape.slice(1)]);
    }
    return this.gatherRowsNow(x, rows);
  }

  private gatherRowsNow(x: OnnxValue, rows: number[]): OnnxValue {
    const out = this.gatherRowsNode(x, rows);
    if (this.lazyRows) this.rowGathers.push({ base: x, rows, out });
    return out;
  }

  private gatherRowsNode(x: OnnxValue, rows: number[]): OnnxValue {
    const [, ...rest] = x.shape;
    if (this.dynamicClips === null) {
      return this.node("Gather", [x.name, this.graph.int64(rows)], [rows.length, ...rest], { axis: onnxAttr.int(0) });
    }
    const clips = this.dynamicClips;
    const pattern = perClipPattern(rows, x.shape[0], clips);
    const rowsIn = x.shape[0] / clips;
    const grouped = this.reshapeRowsTo(x, [clips, rowsIn, ...rest]);
    const picked = this.node("Gather", [grouped.name, this.graph.int64(pattern)], [clips, pattern.length, ...rest], {
      axis: onnxAttr.int(1),
    });
    return this.reshapeRows(picked, rest, [rows.length, ...rest]);
  }

  /** Reshape whose dim 0 is the (symbolic) clip count: [-1, ...shape[1:]]. */
  private reshapeRowsTo(x: OnnxValue, shape: number[]): OnnxValue {
    return this.reshapeRows(x, shape.slice(1), shape);
  }

  timeShift(x: OnnxValue, frames: number, offset: number): OnnxValue {
    if (offset === 0) return x;
    const rows = x.shape[0];
    if (rows % frames !== 0) throw new Error(`timeShift: ${rows} rows are not whole clips of ${frames} frames`);
    if (x.expr && (x.expr.kind === "rows" || x.expr.kind === "scale") && Math.abs(offset) < frames) {
      const perClip = rows / this.clips;
      if (Number.isInteger(perClip) && perClip % frames === 0) return this.mapRows(x, shiftPattern(perClip, frames, offset), [...x.shape]);
    }
    return this.timeShiftNow(x, frames, offset);
  }

  private timeShiftNow(x: OnnxValue, frames: number, offset: number): OnnxValue {
    const rows = x.shape[0];
    if (Math.abs(offset) >= frames) {
      // Everything shifts out of the clip: zeros of x's (possibly symbolic) shape.
      const shapeOf = this.graph.op("Shape", [x.name]);
      return this.node("ConstantOfShape", [shapeOf], [...x.shape]);
    }
    const inner = x.shape.slice(1).reduce((a, b) => a * b, 1);
    const clips = this.reshapeRows(x, [frames, inner], [rows / frames, frames, inner]);
    // out[t] = x[t + offset]: ONE Pad that crops `offset` frames at one end of the time axis (a
    // negative pad) and adds as many zero frames at the other (one copy, where Slice + Pad make two).
    const pads = [0, -offset, 0, 0, offset, 0];
    const shifted = this.node("Pad", [clips.name, this.graph.int64(pads)], [rows / frames, frames, inner]);
    return this.reshapeRows(shifted, x.shape.slice(1), [...x.shape]);
  }

  sliceChannels(x: OnnxValue, start: number, end: number): OnnxValue {
    const shape = [...x.shape];
    shape[1] = end - start;
    return this.node("Slice", [x.name, this.graph.int64([start]), this.graph.int64([end]), this.graph.int64([1])], shape);
  }

  concatChannels(xs: OnnxValue[]): OnnxValue {
    if (xs.length === 1) return xs[0];
    const shape = [...xs[0].shape];
    shape[1] = xs.reduce((a, x) => a + x.shape[1], 0);
    return this.node(
      "Concat",
      xs.map((x) => x.name),
      shape,
      { axis: onnxAttr.int(1) },
    );
  }

  segmentMean(x: OnnxValue, segments: number): OnnxValue {
    const [rows, k] = x.shape;
    if (rows % segments !== 0) throw new Error(`segmentMean: ${rows} rows are not whole runs of ${segments}`);
    const grouped = this.reshapeRows(x, [segments, k], [rows / segments, segments, k]);
    const shape = [rows / segments, k];
    // Opset 18 moved ReduceMean's axes from an attribute to an input.
    if (this.opset >= 18) return this.node("ReduceMean", [grouped.name, this.graph.int64([1])], shape, { keepdims: onnxAttr.int(0) });
    return this.node("ReduceMean", [grouped.name], shape, { axes: onnxAttr.ints([1]), keepdims: onnxAttr.int(0) });
  }

  // ---- lazy row maps (see RowExpr) -----------------------------------------------------------

  private lazy(expr: RowExpr, shape: number[]): OnnxValue {
    return new OnnxValue(() => this.emit(expr, shape).name, shape, expr);
  }

  /** The per-clip pattern of a row gather, or null when it differs between clips. */
  private clipPattern(rows: number[], inRows: number): number[] | null {
    try {
      return perClipPattern(rows, inRows, this.clips);
    } catch {
      return null;
    }
  }

  /**
   * Apply a per-clip row map to x. Composed with x's own row maps when x is a row map or a scale of
   * one; pushed through a blend (sum / ReLU) when every row map it then holds is plain (identity or
   * shift: the blend is then computed once per distinct output, on no more rows than before);
   * otherwise x is emitted first.
   */
  private mapRows(x: OnnxValue, pattern: number[], shape: number[]): OnnxValue {
    if (x.expr) {
      const pushed = composeRows(x.expr, pattern);
      const cheap = x.expr.kind === "rows" || (x.expr.kind === "scale" && x.expr.x.kind === "rows");
      if (cheap || leafPatterns(pushed).every((p) => isPlainPattern(p)) || this.pickPays(x.expr, pushed)) return this.lazy(pushed, shape);
    }
    return this.lazy({ kind: "rows", base: x, pattern }, shape);
  }

  /**
   * Whether a row pick pushed into a blend costs no more than picking from the emitted blend: every
   * leaf is a gather (possibly then a shift) and the distinct gathers read no more rows than the
   * blend's bases hold. bLVNet's layer0 takes the odd and even frames of TAM's output: pushed, the
   * blend runs on half the rows per pick and its shifts copy half as much.
   */
  private pickPays(before: RowExpr, pushed: RowExpr): boolean {
    if (!isBlend(before)) return false;
    const gathered = new Map<OnnxValue, Set<string>>();
    let rows = 0;
    for (const { base, pattern } of leafRows(pushed)) {
      const inPerClip = base.shape[0] / this.clips;
      const gather = pattern.every((r) => r >= 0) ? pattern : asGatherThenShift(pattern, inPerClip)?.gather;
      if (!gather) return false;
      if (isIdentity(gather, inPerClip)) continue;
      const seen = gathered.get(base) ?? new Set<string>();
      gathered.set(base, seen);
      const key = gather.join(",");
      if (!seen.has(key)) rows += gather.length;
      seen.add(key);
    }
    const available = [...gathered.keys()].reduce((a, base) => a + base.shape[0] / this.clips, 0);
    return rows <= available;
  }

  private emit(expr: RowExpr, shape: number[]): OnnxValue {
    const known = this.emitted.get(expr);
    if (known) return known;
    let out: OnnxValue;
    switch (expr.kind) {
      case "rows":
        out = this.emitRows(expr.base, expr.pattern, shape);
        break;
      case "scale": {
        const x = this.emit(expr.x, shape);
        if (expr.param) {
          out = this.depthwiseScale(x, expr.param, null, shape); // a BN that follows can fold into it
          break;
        }
        const perChannel = [1, shape[1], ...shape.slice(2).map(() => 1)];
        const w = this.graph.setInitializer(this.graph.fresh(`${expr.name}.scale`), { dims: perChannel, data: expr.weight });
        out = this.node("Mul", [x.name, w], shape);
        break;
      }
      case "relu":
        out = this.emitRowBlend(expr.x, shape, true) ?? this.node("Relu", [this.emit(expr.x, shape).name], shape);
        break;
      case "sum": {
        const fused = this.emitRowBlend(expr, shape, false);
        if (fused) {
          out = fused;
          break;
        }
        const terms = mergeScales(flattenSum(expr));
        if (shape.length === 4 && terms.length > 1 && terms.every((t) => t.kind === "scale")) {
          out = this.emitBlend(terms as ScaleExpr[], shape);
          break;
        }
        const values = terms.map((t) => this.emit(t, shape));
        out =
          values.length === 1
            ? values[0]
            : this.node(
                values.length === 2 ? "Add" : "Sum",
                values.map((v) => v.name),
                shape,
              );
        break;
      }
    }
    this.emitted.set(expr, out);
    return out;
  }

  /**
   * A sum of per-channel scales of row maps (a TAM blend) as depthwise 1x1 Convs chained by Adds:
   * onnxruntime fuses each Add (and a ReLU after the last) into its blocked-layout (NCHWc) conv, so
   * the blend costs one conv pass per term and no layout round trip, where Muls + one Sum cost
   * about 2.6x more (perf/tam-variants.bench.ts). Exact: w * shift(x) = shift(w * x).
   */
  private emitBlend(terms: ScaleExpr[], shape: number[]): OnnxValue {
    const c = shape[1];
    let acc: OnnxValue | null = null;
    for (const t of terms) {
      const w = this.graph.setInitializer(this.graph.fresh(`${t.name}.dw`), { dims: [c, 1, 1, 1], data: t.weight });
      const y = this.node("Conv", [this.emit(t.x, shape).name, w], shape, {
        kernel_shape: onnxAttr.ints([1, 1]),
        group: onnxAttr.int(c),
      });
      acc = acc ? this.node("Add", [y.name, acc.name], shape) : y;
    }
    return acc!;
  }

  /**
   * A sum of per-channel scales of row maps, with its ReLU, as one RowBlend node (when `rowBlend`):
   *   out[n, j] = [ReLU]( sum_k w_k ⊙ base_{b_k}[n, pattern_k[j]] ),  zero where pattern_k[j] = -1
   * for clip n and output row j. Inputs: the weights [K, C], then the distinct bases; null when the
   * expression is not such a blend (then the caller emits it op by op).
   */
  private emitRowBlend(expr: RowExpr, shape: number[], relu: boolean): OnnxValue | null {
    if (!this.rowBlend || expr.kind !== "sum" || shape.length !== 4) return null;
    const terms = mergeScales(flattenSum(expr));
    if (!terms.every((t) => t.kind === "scale" && t.x.kind === "rows")) return null;
    const scales = terms as (ScaleExpr & { x: Extract<RowExpr, { kind: "rows" }> })[];
    const c = shape[1];
    const bases: OnnxValue[] = [];
    for (const t of scales) if (!bases.includes(t.x.base)) bases.push(t.x.base);
    const weights = new Float32Array(scales.length * c);
    scales.forEach((t, k) => weights.set(t.weight, k * c));
    const w = this.graph.setInitializer(this.graph.fresh("blend.w"), { dims: [scales.length, c], data: weights });
    const out = this.graph.fresh("rowblend");
    const node = this.graph.addNode(ROW_BLEND_OP, [w, ...bases.map((b) => b.name)], [out], {
      base_rows: onnxAttr.ints(bases.map((b) => b.shape[0] / this.clips)),
      term_base: onnxAttr.ints(scales.map((t) => bases.indexOf(t.x.base))),
      patterns: onnxAttr.ints(scales.flatMap((t) => t.x.pattern)),
      relu: onnxAttr.int(relu ? 1 : 0),
    });
    node.domain = ROW_BLEND_DOMAIN;
    this.rowBlends++;
    // onnxruntime cannot infer a custom op's shape, and without it fuses nothing downstream
    this.graph.valueInfo.push({ name: out, dims: [this.dynamicClips ? null : shape[0], ...shape.slice(1)] });
    return new OnnxValue(out, shape);
  }

  /** Rows of `base` by a per-clip pattern: nothing (identity), one Pad (shift), or a Gather. */
  private emitRows(base: OnnxValue, pattern: number[], shape: number[]): OnnxValue {
    const inPerClip = base.shape[0] / this.clips;
    if (isIdentity(pattern, inPerClip)) return base;
    const key = `${base.name}|${pattern.join(",")}`;
    const known = this.emittedRows.get(key);
    if (known) return known;
    let out: OnnxValue;
    const shift = pattern.length === inPerClip ? asShift(pattern) : null;
    const gatherShift = shift ? null : asGatherThenShift(pattern, inPerClip);
    if (shift) out = this.timeShiftNow(base, shift.frames, shift.offset);
    else if (gatherShift) {
      // Zero rows at one end only: gather, then shift (one Pad) over the picked rows.
      const picked = this.emitRows(base, gatherShift.gather, shape);
      out = this.timeShiftNow(picked, pattern.length, gatherShift.offset);
    } else if (pattern.every((r) => r >= 0)) {
      const rows = Array.from({ length: this.clips }, (_, n) => pattern.map((r) => n * inPerClip + r)).flat();
      out = this.gatherRowsNow(base, rows);
    } else {
      // Zero rows: gather from the clips with one zero row appended to each.
      const rest = base.shape.slice(1);
      const grouped = this.reshapeRows(base, [inPerClip, ...rest], [this.clips, inPerClip, ...rest]);
      const pads = new Array<number>(2 * (rest.length + 2)).fill(0);
      pads[rest.length + 2 + 1] = 1;
      const withZero = this.node("Pad", [grouped.name, this.graph.int64(pads)], [this.clips, inPerClip + 1, ...rest]);
      const idx = pattern.map((r) => (r < 0 ? inPerClip : r));
      const picked = this.node("Gather", [withZero.name, this.graph.int64(idx)], [this.clips, idx.length, ...rest], {
        axis: onnxAttr.int(1),
      });
      out = this.reshapeRows(picked, rest, shape);
    }
    this.emittedRows.set(key, out);
    return out;
  }

  // ---- finishing ---------------------------------------------------------------------------

  /**
   * Close the graph: fold BNs, drop unused initializers, rename the output value to `outputName`,
   * and serialise. Call once.
   */
  /**
   * Close the graph: `output` becomes the graph output `outputName`; each `extraOutputs` value (an
   * intermediate such as a stage tap) becomes one more graph output under its name, through an
   * Identity node so it stays what it was.
   */
  finish(
    input: OnnxValue,
    output: OnnxValue,
    opts: {
      inputName: string;
      outputName: string;
      graphName: string;
      docString?: string;
      extraOutputs?: { name: string; value: OnnxValue }[];
    },
  ): Uint8Array {
    if (this.finished) throw new Error("OnnxOps.finish called twice");
    this.finished = true;
    const extras = opts.extraOutputs ?? [];
    for (const e of extras) this.graph.addNode("Identity", [e.value.name], [e.name]);
    if (output.name === input.name) this.graph.addNode("Identity", [input.name], [opts.outputName]);
    else this.renameValue(output.name, opts.outputName);
    const graphOutputs = new Set([opts.outputName, ...extras.map((e) => e.value.name)]);
    this.pushGathersToInputs(graphOutputs);
    this.foldBatchNorms(graphOutputs);
    this.graph.pruneInitializers();
    const batchDim = (rows: number, traceRows: number) => {
      if (this.dynamicClips === null) return traceRows;
      const perClip = rows / this.dynamicClips;
      return perClip === 1 ? "N" : `N*${perClip}`;
    };
    return this.graph.toBytes({
      opset: this.opset,
      graphName: opts.graphName,
      docString: opts.docString,
      inputs: [{ name: input.name, dims: [batchDim(input.shape[0], input.shape[0]), ...input.shape.slice(1)] }],
      outputs: [output, ...extras.map((e) => e.value)].map((v, i) => ({
        name: i === 0 ? opts.outputName : extras[i - 1]!.name,
        dims: [batchDim(v.shape[0], v.shape[0]), ...v.shape.slice(1)],
      })),
    });
  }

  private renameValue(from: string, to: string): void {
    for (const n of this.graph.nodes) {
      n.inputs = n.inputs.map((i) => (i === from ? to : i));
      n.outputs = n.outputs.map((o) => (o === from ? to : o));
    }
    const conv = this.convByOutput.get(from);
    if (conv) {
      this.convByOutput.delete(from);
      this.convByOutput.set(to, conv);
    }
  }

  /**
   * A value made by per-row ops (bLVNet's stem: conv, BN, ReLU over every frame) and read only by row
   * gathers that together take no more rows than it has (the big and the little frames) is computed
   * per gather instead: gather the ops' input, then apply the ops to it. Same values and MACs; the
   * gather copies the small input instead of the large output, and onnxruntime keeps the output in
   * its blocked layout (no reorder to NCHW for the Gather and back).
   */
  private pushGathersToInputs(graphOutputs: Set<string>): void {
    const { producer, readers } = this.graph.links();
    const byBase = new Map<string, RowGather[]>();
    for (const g of this.rowGathers) byBase.set(g.base.name, [...(byBase.get(g.base.name) ?? []), g]);
    for (const [base, gathers] of byBase) {
      const chain = this.perRow.get(base);
      if (!chain || graphOutputs.has(base)) continue;
      if (gathers.reduce((a, g) => a + g.rows.length, 0) > gathers[0]!.base.shape[0]) continue;
      // The gathers' nodes, from the one reading `base` to the one producing the picked rows.
      const paths = gathers.map((g) => {
        const path: OnnxNode[] = [];
        for (let v = g.out.name; v !== base; v = path[path.length - 1]!.inputs[0]!) path.push(producer.get(v)!);
        return path;
      });
      // Applies only when the original chain then dies: the gathers are the base's only readers and
      // each value inside the chain has one reader (the next op).
      const entries = new Set(paths.map((p) => p[p.length - 1]!));
      const baseReaders = readers.get(base) ?? [];
      if (baseReaders.length !== entries.size || baseReaders.some((n) => !entries.has(n))) continue;
      if (chain.chain.some((v) => readers.get(v)?.length !== 1 || graphOutputs.has(v))) continue;
      for (const v of [base, ...chain.chain]) producer.get(v)!.dropped = true;
      gathers.forEach((g, i) => {
        for (const n of paths[i]!) n.dropped = true;
        this.renameValue(chain.redo(this.gatherRowsNode(chain.input, g.rows)).name, g.out.name);
      });
    }
  }

  /** Fold each eval BN into its conv when the conv's output feeds only that BN. */
  private foldBatchNorms(graphOutputs: Set<string>): void {
    const { readers } = this.graph.links();
    for (const { conv, bnNode, bn } of this.foldCandidates) {
      if (conv.node.dropped) continue;
      const convOut = conv.node.outputs[0];
      if (readers.get(convOut)?.length !== 1 || graphOutputs.has(convOut)) continue;
      const { weight, bias } = foldedConv(conv.weight, conv.bias, bn);
      const wDims = conv.kind === "conv" ? [...conv.weight.shape] : this.graph.initializers.get(conv.node.inputs[1])!.dims;
      const bDims = conv.kind === "conv" ? [bias.length] : wDims;
      const wName = this.graph.setInitializer(this.graph.fresh(`${conv.weight.name || "conv"}.bnfolded`), { dims: wDims, data: weight });
      const bName = this.graph.setInitializer(this.graph.fresh(`${bn.bias.name || "bn"}.bnfolded`), { dims: bDims, data: bias });
      if (conv.kind === "conv") {
        conv.node.inputs = [conv.node.inputs[0], wName, bName];
        conv.node.outputs = [...bnNode.outputs];
        bnNode.dropped = true;
      } else {
        // Mul(x, w*s) then the BN node becomes Add(., b')
        conv.node.inputs = [conv.node.inputs[0], wName];
        Object.assign(bnNode, { opType: "Add", inputs: [convOut, bName], attrs: {} });
      }
    }
  }
}

/** W' = W * s[o], b' = (b - mean) * s + beta with s = gamma / sqrt(var + eps), in float64. */
export function foldedConv(weight: Param, bias: Param | null, bn: BatchNormParams): { weight: Float32Array; bias: Float32Array } {
  const w = weight.f32;
  const cout = weight.shape[0];
  const per = w.length / cout;
  const gamma = bn.weight.f32;
  const beta = bn.bias.f32;
  const mean = bn.runningMean.f32;
  const variance = bn.runningVar.f32;
  const b0 = bias?.f32;
  const outW = new Float32Array(w.length);
  const outB = new Float32Array(cout);
  for (let o = 0; o < cout; o++) {
    const s = gamma[o] / Math.sqrt(variance[o] + bn.eps);
    for (let i = o * per; i < (o + 1) * per; i++) outW[i] = w[i] * s;
    outB[o] = ((b0 ? b0[o] : 0) - mean[o]) * s + beta[o];
  }
  return { weight: outW, bias: outB };
}

function isPowerOfTwo(v: number): boolean {
  return Number.isInteger(v) && v >= 1 && (v & (v - 1)) === 0;
}

/** PyTorch nearest (legacy) source indices: floor(dst * float32(in/out)) in float32, clamped. */
export function nearestSourceIndices(inSize: number, outSize: number): number[] {
  const scale = Math.fround(inSize / outSize);
  return Array.from({ length: outSize }, (_, d) => Math.min(Math.floor(Math.fround(d * scale)), inSize - 1));
}

/**
 * Rows of a gather over `clips` stacked clips, as one per-clip pattern: rows[n*out + j] must be
 * n*in + pattern[j]. Throws when the gather mixes clips (not expressible for a symbolic batch).
 */
export function perClipPattern(rows: number[], inRows: number, clips: number): number[] {
  const rowsIn = inRows / clips;
  const rowsOut = rows.length / clips;
  if (!Number.isInteger(rowsIn) || !Number.isInteger(rowsOut)) {
    throw new Error(`gatherRows: ${inRows} -> ${rows.length} rows is not a per-clip gather over ${clips} clips`);
  }
  const pattern = rows.slice(0, rowsOut);
  for (let n = 0; n < clips; n++) {
    for (let j = 0; j < rowsOut; j++) {
      const r = rows[n * rowsOut + j];
      if (pattern[j] < 0 || pattern[j] >= rowsIn || r !== n * rowsIn + pattern[j]) {
        throw new Error(`gatherRows: rows [${rows.join(",")}] do not repeat per clip; cannot export with a dynamic batch`);
      }
    }
  }
  return pattern;
}

/** out[t] = x[t + offset] within blocks of `frames` rows (zeros outside), as a pattern over `rows`. */
function shiftPattern(rows: number, frames: number, offset: number): number[] {
  return Array.from({ length: rows }, (_, j) => {
    const t = (j % frames) + offset;
    return t >= 0 && t < frames ? j + offset : -1;
  });
}

/** The shift a pattern is (rows j -> j + offset inside blocks of `frames`, zeros outside), if any. */
function asShift(pattern: number[]): { frames: number; offset: number } | null {
  const n = pattern.length;
  const j0 = pattern.findIndex((r) => r >= 0);
  if (j0 < 0) return null;
  const offset = pattern[j0] - j0;
  if (offset === 0) return isIdentity(pattern, n) ? { frames: n, offset: 0 } : null;
  for (let frames = Math.abs(offset) + 1; frames <= n; frames++) {
    if (n % frames !== 0) continue;
    const want = shiftPattern(n, frames, offset);
    if (want.every((r, j) => r === pattern[j])) return { frames, offset };
  }
  return null;
}

/** Identity or a shift: emitting it costs at most one copy and reads each row once. */
function isPlainPattern(pattern: number[]): boolean {
  return asShift(pattern) !== null;
}

/** The expression with the row map `pattern` applied to its output (pushed to the leaves). */
function composeRows(expr: RowExpr, pattern: number[]): RowExpr {
  switch (expr.kind) {
    case "rows":
      return { kind: "rows", base: expr.base, pattern: pattern.map((j) => (j < 0 ? -1 : expr.pattern[j])) };
    case "scale":
      return { ...expr, x: composeRows(expr.x, pattern) };
    case "relu":
      return { kind: "relu", x: composeRows(expr.x, pattern) };
    case "sum":
      return { kind: "sum", terms: expr.terms.map((t) => composeRows(t, pattern)) };
  }
}

type ScaleExpr = Extract<RowExpr, { kind: "scale" }>;

function identityPattern(rows: number): number[] {
  return Array.from({ length: rows }, (_, j) => j);
}

/** Whether a pattern over `rows` input rows keeps every row in place. */
function isIdentity(pattern: number[], rows: number): boolean {
  return pattern.length === rows && pattern.every((r, j) => r === j);
}

/** A scale of rows, or a sum / ReLU of such: what TAM makes. */
function isBlend(expr: RowExpr): boolean {
  switch (expr.kind) {
    case "rows":
      return false;
    case "scale":
      return expr.x.kind === "rows";
    case "relu":
      return isBlend(expr.x);
    case "sum":
      return expr.terms.every(isBlend);
  }
}

/**
 * A pattern whose zero rows all sit at one end, as a gather of rows followed by a shift over the
 * whole pattern (out[j] = gather[j + offset]); the gathered rows that the shift drops continue the
 * pattern's stride (so odd/even picks stay the same gather) or repeat its edge row.
 */
export function asGatherThenShift(pattern: number[], inRows: number): { gather: number[]; offset: number } | null {
  const n = pattern.length;
  let lead = 0;
  while (lead < n && pattern[lead] < 0) lead++;
  let trail = 0;
  while (trail < n - lead && pattern[n - 1 - trail] < 0) trail++;
  const kept = pattern.slice(lead, n - trail);
  if (kept.length === 0 || kept.some((r) => r < 0) || lead > 0 === trail > 0) return null;
  const step = kept.length > 1 ? kept[1] - kept[0] : 1;
  const fill = (edge: number, k: number) => {
    const v = edge + k * step;
    return v >= 0 && v < inRows ? v : edge;
  };
  const dropped = lead + trail;
  const gather =
    lead > 0
      ? [...kept, ...Array.from({ length: dropped }, (_, i) => fill(kept[kept.length - 1], i + 1))]
      : [...Array.from({ length: dropped }, (_, i) => fill(kept[0], i - dropped)), ...kept];
  return { gather, offset: lead > 0 ? -lead : trail };
}

function leafRows(expr: RowExpr): { base: OnnxValue; pattern: number[] }[] {
  switch (expr.kind) {
    case "rows":
      return [{ base: expr.base, pattern: expr.pattern }];
    case "scale":
    case "relu":
      return leafRows(expr.x);
    case "sum":
      return expr.terms.flatMap(leafRows);
  }
}

function leafPatterns(expr: RowExpr): number[][] {
  switch (expr.kind) {
    case "rows":
      return [expr.pattern];
    case "scale":
    case "relu":
      return leafPatterns(expr.x);
    case "sum":
      return expr.terms.flatMap(leafPatterns);
  }
}

function flattenSum(expr: RowExpr): RowExpr[] {
  return expr.kind === "sum" ? expr.terms.flatMap(flattenSum) : [expr];
}

/**
 * Scales of the same rows of the same value merge into one scale with the summed weights
 * (w1*x + w2*x = (w1 + w2)*x; summed in float64, rounded once).
 */
function mergeScales(terms: RowExpr[]): RowExpr[] {
  const out: RowExpr[] = [];
  const byRows = new Map<string, { index: number; weight: Float64Array; names: string[] }>();
  for (const t of terms) {
    if (t.kind !== "scale" || t.x.kind !== "rows") {
      out.push(t);
      continue;
    }
    const key = `${t.x.base.name}|${t.x.pattern.join(",")}`;
    const known = byRows.get(key);
    if (!known) {
      byRows.set(key, { index: out.length, weight: Float64Array.from(t.weight), names: [t.name] });
      out.push(t);
      continue;
    }
    t.weight.forEach((w, c) => (known.weight[c] += w));
    known.names.push(t.name);
    const first = out[known.index] as ScaleExpr;
    out[known.index] = { kind: "scale", x: first.x, weight: Float32Array.from(known.weight), name: known.names.join("+"), param: null };
  }
  return out;
}
