/**
 * Small node-emitting helpers over a GraphBuilder for the training-step graph (opset 17): float
 * constants (deduplicated when small), reductions with the opset's axes conventions, and the
 * reshape/transpose/slice/pad plumbing the reverse-mode rules are made of. Values are plain names;
 * callers track shapes.
 */
import { type AttrValue, type GraphBuilder, onnxAttr } from "../onnx/graph.js";

/** The default-domain opset of training graphs (ReduceSum takes axes as an input, ReduceMean as an attribute). */
export const TRAIN_OPSET = 17;

/** Sums of up to this many terms are chained Adds by default (see `Emitter.sum`). */
const CHAIN_MAX = 4;

/** Constants up to this many elements are shared by content. */
const DEDUP_LIMIT = 64;

export class Emitter {
  private readonly floatKeys = new Map<string, string>();

  /** `chainedAdds`: sums as left-chained Add nodes (true: always, as the WebGPU EP has no Sum kernel; false: never; default: short sums). */
  constructor(
    readonly g: GraphBuilder,
    readonly opts: { chainedAdds?: boolean } = {},
  ) {}

  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    return this.g.op(opType, inputs, attrs);
  }

  /** A float32 constant (initializer). */
  f32(values: ArrayLike<number>, dims: number[]): string {
    const small = values.length <= DEDUP_LIMIT;
    const key = small ? `${dims.join("x")}:${Array.from(values, (v) => Math.fround(v)).join(",")}` : "";
    if (small) {
      const known = this.floatKeys.get(key);
      if (known) return known;
    }
    const name = this.g.fresh("const_f32");
    this.g.setInitializer(name, { dims, data: Float32Array.from(values) });
    if (small) this.floatKeys.set(key, name);
    return name;
  }

  scalar(v: number): string {
    return this.f32([v], []);
  }

  i64(values: number[]): string {
    return this.g.int64(values);
  }

  add(a: string, b: string): string {
    return this.op("Add", [a, b]);
  }

  sub(a: string, b: string): string {
    return this.op("Sub", [a, b]);
  }

  mul(a: string, b: string): string {
    return this.op("Mul", [a, b]);
  }

  /** x * c for a number c (no node when c is 1). */
  scale(x: string, c: number): string {
    return c === 1 ? x : this.mul(x, this.scalar(c));
  }

  reshape(x: string, shape: number[]): string {
    return this.op("Reshape", [x, this.i64(shape)]);
  }

  transpose(x: string, perm: number[]): string {
    return this.op("Transpose", [x], { perm: onnxAttr.ints(perm) });
  }

  reduceSum(x: string, axes: number[], keepdims: boolean): string {
    return this.op("ReduceSum", [x, this.i64(axes)], { keepdims: onnxAttr.int(keepdims ? 1 : 0) });
  }

  reduceMean(x: string, axes: number[], keepdims: boolean): string {
    return this.op("ReduceMean", [x], { axes: onnxAttr.ints(axes), keepdims: onnxAttr.int(keepdims ? 1 : 0) });
  }

  /** Sum of squares over `axes`, or over every axis (to a scalar) when `axes` is null. */
  reduceSumSquare(x: string, axes: number[] | null, keepdims: boolean): string {
    const attrs: Record<string, AttrValue> = { keepdims: onnxAttr.int(keepdims ? 1 : 0) };
    if (axes) attrs.axes = onnxAttr.ints(axes);
    return this.op("ReduceSumSquare", [x], attrs);
  }

  slice(x: string, starts: number[], ends: number[], axes: number[], steps?: number[]): string {
    const inputs = [x, this.i64(starts), this.i64(ends), this.i64(axes)];
    if (steps?.some((s) => s !== 1)) inputs.push(this.i64(steps));
    return this.op("Slice", inputs);
  }

  /** Zero padding; `pads` = [begin per axis..., end per axis...] (ONNX order). */
  pad(x: string, pads: number[]): string {
    return pads.every((p) => p === 0) ? x : this.op("Pad", [x, this.i64(pads)]);
  }

  concat(xs: string[], axis: number): string {
    return xs.length === 1 ? xs[0] : this.op("Concat", xs, { axis: onnxAttr.int(axis) });
  }

  /**
   * Sum of gradient contributions (no node for one). Unless `chainedAdds` says otherwise, up to
   * CHAIN_MAX terms are chained Adds: onnxruntime's CPU Add runs at ~30 GB/s where its Sum runs at
   * 13-19 GB/s (a 3-term Sum of 16x64x56x56 maps: 4.0 ms, two Adds ~2.5 ms; -8 to -11 ms kernel
   * time per bLVNet-TAM-50 step); long sums of scalars stay one Sum node.
   */
  sum(xs: string[]): string {
    if (xs.length === 1) return xs[0];
    if (!(this.opts.chainedAdds ?? xs.length <= CHAIN_MAX)) return this.op("Sum", xs);
    let acc = xs[0];
    for (const x of xs.slice(1)) acc = this.op("Add", [acc, x]);
    return acc;
  }

  expand(x: string, shape: number[]): string {
    return this.op("Expand", [x, this.i64(shape)]);
  }

  zeros(shape: number[]): string {
    return this.op("ConstantOfShape", [this.i64(shape)]);
  }
}

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
