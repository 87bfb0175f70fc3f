/**
 * The shape-only interpreter: runs a model definition without allocating any data, checks every
 * shape like a real interpreter would, and records one `OpRecord` per op with its cost (MACs,
 * other FLOPs) and the storages PyTorch autograd would keep for backward.
 *
 * What each op saves follows PyTorch (torch 1.13 `derivatives.yaml`, CPU kernels), which is what
 * the reference `saved_for_bwd_MB` figures measure:
 *   conv, linear        their input (the weight is a parameter, not counted)
 *   batch norm          its input + per-channel save_mean/save_invstd (train) + the running
 *                       mean/var buffers (buffers are not parameters, so they count)
 *   relu                its output (PyTorch's in-place ReLU keeps its result)
 *   max pool            its input + int64 argmax indices of the output's size
 *   avg pool, global    their input (avg_pool2d / adaptive_avg_pool backward read `self`)
 *   gatherRows          the int64 row indices (advanced indexing keeps them)
 *   dropout (train)     a bool mask of the input's size (native_dropout)
 *   segment mean        its input (the reference count keeps the per-frame logits of the
 *                       consensus `mean(dim=1)`, 8 x 174 floats for TSN-R50 8f)
 *   add, shift, slice, concat, nearest resize, views: nothing (their backward needs only shapes)
 * Views (clipsToFrames, sliceChannels) share their input's storage.
 *
 * Module attribution: an op that touches parameters belongs to the module owning them
 * (`Param.name` minus its last segment); a parameter-free op belongs to the last module seen.
 */
import type { Param } from "../module.js";
import {
  type BatchNormParams,
  type Conv2dOptions,
  type Conv3dOptions,
  type Ops,
  type Pool2dOptions,
  type Pool3dOptions,
  pair,
  triple,
  windowOut,
} from "../ops.js";
import { convMacs, linearMacs, type OtherFlops, poolFlops } from "./rules.js";
import { ELEMENT_BYTES, type ElementType, ShapeTensor, type Storage, shapeNumel } from "./tensor.js";

export interface OpRecord {
  /** Position in the trace. */
  index: number;
  op: string;
  /** Dotted module path (state_dict prefix), "" when unknown. */
  module: string;
  inputs: ShapeTensor[];
  output: ShapeTensor;
  params: Param[];
  macs: number;
  flops: OtherFlops;
  /** Storages autograd keeps for backward (may include storages made here: indices, stats). */
  saved: Storage[];
}

interface Emit {
  inputs: ShapeTensor[];
  output: ShapeTensor;
  params?: (Param | null)[];
  macs?: number;
  flops?: OtherFlops;
  saved?: Storage[];
}

/** The module path of a parameter: its state_dict key without the tensor name. */
export function moduleOfParam(p: Param): string {
  const i = p.name.lastIndexOf(".");
  return i < 0 ? "" : p.name.slice(0, i);
}

export class ShapeOps implements Ops<ShapeTensor> {
  readonly kind = "shape";
  readonly records: OpRecord[] = [];
  private nextStorageId = 1;
  private currentModule = "";
  /** Storages standing for parameters and buffers, so a buffer saved twice counts once. */
  private readonly paramStorages = new Map<Param, Storage>();

  /** A fresh input tensor (the caller holds it for the whole pass). */
  input(shape: readonly number[], dtype: ElementType = "float32"): ShapeTensor {
    return this.alloc(shape, "input", dtype);
  }

  shape(x: ShapeTensor): number[] {
    return [...x.shape];
  }

  // ---- helpers --------------------------------------------------------------------------------

  private alloc(shape: readonly number[], origin: string, dtype: ElementType = "float32"): ShapeTensor {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new Error(`shape interpreter: ${origin} produced invalid shape [${shape}]`);
    }
    const storage: Storage = { id: this.nextStorageId++, bytes: shapeNumel(shape) * ELEMENT_BYTES[dtype], origin };
    return new ShapeTensor(shape, storage, dtype);
  }

  /** A storage that exists only to be saved for backward (indices, statistics, masks). */
  private extra(elements: number, dtype: ElementType, origin: string): Storage {
    return { id: this.nextStorageId++, bytes: elements * ELEMENT_BYTES[dtype], origin };
  }

  private view(x: ShapeTensor, shape: readonly number[]): ShapeTensor {
    return new ShapeTensor(shape, x.storage, x.dtype);
  }

  private paramStorage(p: Param): Storage {
    let s = this.paramStorages.get(p);
    if (!s) {
      s = { id: this.nextStorageId++, bytes: p.numel * ELEMENT_BYTES[p.dtype], origin: `buffer ${p.name}` };
      this.paramStorages.set(p, s);
    }
    return s;
  }

  private emit(op: string, e: Emit): ShapeTensor {
    const params = (e.params ?? []).filter((p): p is Param => p !== null);
    if (params.length > 0) this.currentModule = moduleOfParam(params[0]);
    this.records.push({
      index: this.records.length,
      op,
      module: this.currentModule,
      inputs: e.inputs,
      output: e.output,
      params,
      macs: e.macs ?? 0,
      flops: e.flops ?? {},
      saved: e.saved ?? [],
    });
    return e.output;
  }

  private expectRank(op: string, x: ShapeTensor, rank: number): void {
    if (x.shape.length !== rank) throw new Error(`${op}: expected a ${rank}-D tensor, got shape [${x.shape}]`);
  }

  // ---- convolutions / linear ------------------------------------------------------------------

  private conv(
    op: string,
    x: ShapeTensor,
    weight: Param,
    bias: Param | null,
    stride: number[],
    padding: number[],
    dilation: number[],
    groups: number,
  ): ShapeTensor {
    const spatial = stride.length;
    this.expectRank(op, x, spatial + 2);
    const [n, c, ...inSize] = x.shape;
    const [o, cPerGroup, ...kernel] = weight.shape;
    if (weight.shape.length !== spatial + 2) throw new Error(`${op}: weight ${weight.name} has shape [${weight.shape}]`);
    if (cPerGroup * groups !== c) {
      throw new Error(
        `${op}: input has ${c} channels but weight ${weight.name} [${weight.shape}] with groups ${groups} expects ${cPerGroup * groups}`,
      );
    }
    if (o % groups !== 0) throw new Error(`${op}: ${o} output channels are not divisible by groups ${groups}`);
    if (bias && (bias.shape.length !== 1 || bias.shape[0] !== o))
      throw new Error(`${op}: bias ${bias.name} [${bias.shape}] does not match ${o} outputs`);
    const outSize = inSize.map((s, i) => windowOut(s, kernel[i], stride[i], padding[i], dilation[i]));
    if (outSize.some((s) => s < 1)) throw new Error(`${op}: input [${x.shape}] is too small for weight ${weight.name} [${weight.shape}]`);
    const out = this.alloc([n, o, ...outSize], op);
    return this.emit(op, {
      inputs: [x],
      output: out,
      params: [weight, bias],
      macs: convMacs(out.shape, weight.shape),
      flops: bias ? { bias: out.numel } : {},
      saved: [x.storage],
    });
  }

  conv2d(x: ShapeTensor, weight: Param, bias: Param | null, opts: Conv2dOptions = {}): ShapeTensor {
    return this.conv("conv2d", x, weight, bias, pair(opts.stride, 1), pair(opts.padding, 0), pair(opts.dilation, 1), opts.groups ?? 1);
  }

  conv3d(x: ShapeTensor, weight: Param, bias: Param | null, opts: Conv3dOptions = {}): ShapeTensor {
    return this.conv(
      "conv3d",
      x,
      weight,
      bias,
      triple(opts.stride, 1),
      triple(opts.padding, 0),
      triple(opts.dilation, 1),
      opts.groups ?? 1,
    );
  }

  linear(x: ShapeTensor, weight: Param, bias: Param | null): ShapeTensor {
    this.expectRank("linear", x, 2);
    const [rows, inF] = x.shape;
    const [outF, wIn] = weight.shape;
    if (wIn !== inF) throw new Error(`linear: input has ${inF} features but weight ${weight.name} is [${weight.shape}]`);
    const out = this.alloc([rows, outF], "linear");
    return this.emit("linear", {
      inputs: [x],
      output: out,
      params: [weight, bias],
      macs: linearMacs(rows, inF, outF),
      flops: bias ? { bias: out.numel } : {},
      saved: [x.storage],
    });
  }

  // ---- normalisation / activation / arithmetic ------------------------------------------------

  batchNorm(x: ShapeTensor, bn: BatchNormParams, training: boolean): ShapeTensor {
    if (x.shape.length < 2) throw new Error(`batchNorm: expected [N, C, ...], got [${x.shape}]`);
    const c = x.shape[1];
    if (bn.weight.numel !== c) throw new Error(`batchNorm: input has ${c} channels but ${bn.weight.name} has ${bn.weight.numel}`);
    const saved = [x.storage, this.paramStorage(bn.runningMean), this.paramStorage(bn.runningVar)];
    if (training) saved.push(this.extra(c, "float32", "bn save_mean"), this.extra(c, "float32", "bn save_invstd"));
    const out = this.alloc(x.shape, "batchNorm");
    return this.emit("batchNorm", { inputs: [x], output: out, params: [bn.weight, bn.bias], flops: { batchnorm: 2 * out.numel }, saved });
  }

  relu(x: ShapeTensor): ShapeTensor {
    const out = this.alloc(x.shape, "relu");
    return this.emit("relu", { inputs: [x], output: out, flops: { relu: out.numel }, saved: [out.storage] });
  }

  add(a: ShapeTensor, b: ShapeTensor): ShapeTensor {
    if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
      throw new Error(`add: shapes [${a.shape}] and [${b.shape}] differ`);
    }
    const out = this.alloc(a.shape, "add");
    return this.emit("add", { inputs: [a, b], output: out, flops: { elementwise: out.numel } });
  }

  /** Counted like the official TAM's `torch.stack(xs).sum(0)`: a reduction reading every input element. */
  sum(xs: ShapeTensor[]): ShapeTensor {
    const first = xs[0];
    if (!first) throw new Error("sum: no inputs");
    for (const x of xs) {
      if (x.shape.length !== first.shape.length || x.shape.some((d, i) => d !== first.shape[i])) {
        throw new Error(`sum: shapes [${first.shape}] and [${x.shape}] differ`);
      }
    }
    const out = this.alloc(first.shape, "sum");
    return this.emit("sum", { inputs: xs, output: out, flops: { reduce: xs.length * out.numel } });
  }

  dropout(x: ShapeTensor, p: number, training: boolean): ShapeTensor {
    if (!training || p === 0) return x;
    const out = this.alloc(x.shape, "dropout");
    return this.emit("dropout", {
      inputs: [x],
      output: out,
      flops: { elementwise: out.numel },
      saved: [this.extra(x.numel, "bool", "dropout mask")],
    });
  }

  // ---- pooling / resampling -------------------------------------------------------------------

  private pool(op: string, x: ShapeTensor, kernel: number[], stride: number[], padding: number[], saveIndices: boolean): ShapeTensor {
    this.expectRank(op, x, kernel.length + 2);
    const [n, c, ...inSize] = x.shape;
    kernel.forEach((k, i) => {
      if (2 * padding[i] > k) throw new Error(`${op}: padding ${padding[i]} must be at most half the kernel ${k}`);
    });
    const outSize = inSize.map((s, i) => windowOut(s, kernel[i], stride[i], padding[i]));
    if (outSize.some((s) => s < 1)) throw new Error(`${op}: input [${x.shape}] is too small for kernel [${kernel}]`);
    const out = this.alloc([n, c, ...outSize], op);
    const saved = [x.storage];
    if (saveIndices) saved.push(this.extra(out.numel, "int64", `${op} indices`));
    return this.emit(op, { inputs: [x], output: out, flops: { pool: poolFlops(out.shape, kernel) }, saved });
  }

  maxPool2d(x: ShapeTensor, opts: Pool2dOptions): ShapeTensor {
    const k = pair(opts.kernel, 1);
    return this.pool("maxPool2d", x, k, opts.stride === undefined ? k : pair(opts.stride, 1), pair(opts.padding, 0), true);
  }

  avgPool2d(x: ShapeTensor, opts: Pool2dOptions): ShapeTensor {
    const k = pair(opts.kernel, 1);
    return this.pool("avgPool2d", x, k, opts.stride === undefined ? k : pair(opts.stride, 1), pair(opts.padding, 0), false);
  }

  maxPool3d(x: ShapeTensor, opts: Pool3dOptions): ShapeTensor {
    const k = triple(opts.kernel, 1);
    return this.pool("maxPool3d", x, k, opts.stride === undefined ? k : triple(opts.stride, 1), triple(opts.padding, 0), true);
  }

  globalAvgPool(x: ShapeTensor): ShapeTensor {
    if (x.shape.length < 3) throw new Error(`globalAvgPool: expected [N, C, ...spatial], got [${x.shape}]`);
    const out = this.alloc(x.shape.slice(0, 2), "globalAvgPool");
    return this.emit("globalAvgPool", { inputs: [x], output: out, flops: { reduce: x.numel }, saved: [x.storage] });
  }

  resizeNearest(x: ShapeTensor, outH: number, outW: number): ShapeTensor {
    this.expectRank("resizeNearest", x, 4);
    const out = this.alloc([x.shape[0], x.shape[1], outH, outW], "resizeNearest");
    return this.emit("resizeNearest", { inputs: [x], output: out });
  }

  // ---- frames -------------------------------------------------------------------------------------

  clipsToFrames(x: ShapeTensor, frames: number): ShapeTensor {
    this.expectRank("clipsToFrames", x, 4);
    const [n, tc, h, w] = x.shape;
    if (tc % frames !== 0) throw new Error(`clipsToFrames: ${tc} channels are not ${frames} frames`);
    return this.emit("clipsToFrames", { inputs: [x], output: this.view(x, [n * frames, tc / frames, h, w]) });
  }

  gatherRows(x: ShapeTensor, rows: number[]): ShapeTensor {
    const n = x.shape[0];
    for (const r of rows) {
      if (!Number.isInteger(r) || r < 0 || r >= n) throw new Error(`gatherRows: row ${r} is outside [0, ${n})`);
    }
    const out = this.alloc([rows.length, ...x.shape.slice(1)], "gatherRows");
    return this.emit("gatherRows", { inputs: [x], output: out, saved: [this.extra(rows.length, "int64", "row indices")] });
  }

  timeShift(x: ShapeTensor, frames: number, offset: number): ShapeTensor {
    if (x.shape[0] % frames !== 0) throw new Error(`timeShift: ${x.shape[0]} rows are not whole clips of ${frames} frames`);
    if (!Number.isInteger(offset)) throw new Error(`timeShift: offset ${offset} is not an integer`);
    return this.emit("timeShift", { inputs: [x], output: this.alloc(x.shape, "timeShift") });
  }

  sliceChannels(x: ShapeTensor, start: number, end: number): ShapeTensor {
    const c = x.shape[1];
    if (!(0 <= start && start <= end && end <= c)) throw new Error(`sliceChannels: [${start}, ${end}) is outside [0, ${c})`);
    const shape = [...x.shape];
    shape[1] = end - start;
    return this.emit("sliceChannels", { inputs: [x], output: this.view(x, shape) });
  }

  concatChannels(xs: ShapeTensor[]): ShapeTensor {
    if (xs.length === 0) throw new Error("concatChannels: nothing to concatenate");
    const first = xs[0].shape;
    for (const x of xs) {
      if (x.shape.length !== first.length || x.shape.some((d, i) => i !== 1 && d !== first[i])) {
        throw new Error(`concatChannels: shapes [${first}] and [${x.shape}] differ outside dim 1`);
      }
    }
    const shape = [...first];
    shape[1] = xs.reduce((s, x) => s + x.shape[1], 0);
    return this.emit("concatChannels", { inputs: xs, output: this.alloc(shape, "concatChannels") });
  }

  segmentMean(x: ShapeTensor, segments: number): ShapeTensor {
    this.expectRank("segmentMean", x, 2);
    const [rows, k] = x.shape;
    if (rows % segments !== 0) throw new Error(`segmentMean: ${rows} rows are not whole runs of ${segments}`);
    const out = this.alloc([rows / segments, k], "segmentMean");
    return this.emit("segmentMean", { inputs: [x], output: out, flops: { reduce: x.numel }, saved: [x.storage] });
  }
}
