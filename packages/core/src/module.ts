/**
 * A PyTorch-like module tree: named children, parameters and buffers whose dotted paths are the
 * official `state_dict` keys. Values live here in PyTorch layout (the single source of truth for
 * checkpoints); interpreters cache their own layouts keyed by `Param.version`.
 */
import type { BatchNormParams, Ops } from "./ops.js";

export type DType = "float32" | "int64";
export type TensorData = Float32Array | BigInt64Array;
export type ParamKind = "param" | "buffer";

export class Param {
  /** Full state_dict key; set by `assignNames` once the tree is built. */
  name = "";
  /** Bumped on every write so interpreters can invalidate cached copies. */
  version = 0;
  private _data: TensorData | null = null;

  constructor(
    readonly shape: number[],
    readonly kind: ParamKind = "param",
    readonly dtype: DType = "float32",
  ) {}

  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  get trainable(): boolean {
    return this.kind === "param";
  }

  /** The values, allocated (zeros) on first access. */
  get data(): TensorData {
    if (!this._data) this._data = this.dtype === "int64" ? new BigInt64Array(this.numel) : new Float32Array(this.numel);
    return this._data;
  }

  get hasData(): boolean {
    return this._data !== null;
  }

  /** Float values (throws for int64 buffers). */
  get f32(): Float32Array {
    const d = this.data;
    if (!(d instanceof Float32Array)) throw new Error(`${this.name}: not a float32 tensor`);
    return d;
  }

  set(values: TensorData): void {
    if (values.length !== this.numel) {
      throw new Error(`${this.name}: expected ${this.numel} values for shape [${this.shape}], got ${values.length}`);
    }
    if (this.dtype === "int64" && !(values instanceof BigInt64Array)) throw new Error(`${this.name}: int64 expected`);
    if (this.dtype === "float32" && !(values instanceof Float32Array)) throw new Error(`${this.name}: float32 expected`);
    this._data = values;
    this.version++;
  }
}

export abstract class Module {
  training = true;
  private readonly _params = new Map<string, Param>();
  private readonly _buffers = new Map<string, Param>();
  private readonly _children = new Map<string, Module>();

  protected param(name: string, shape: number[]): Param {
    const p = new Param(shape, "param");
    this._params.set(name, p);
    return p;
  }

  protected buffer(name: string, shape: number[], dtype: DType = "float32"): Param {
    const p = new Param(shape, "buffer", dtype);
    this._buffers.set(name, p);
    return p;
  }

  /** Register a child module under `name` (its state_dict prefix) and return it. */
  protected child<M extends Module>(name: string, m: M): M {
    this._children.set(name, m);
    return m;
  }

  children(): [string, Module][] {
    return [...this._children];
  }

  /** Every parameter and buffer in PyTorch state_dict order: own params, own buffers, then children. */
  namedTensors(prefix = ""): [string, Param][] {
    const out: [string, Param][] = [];
    for (const [n, p] of this._params) out.push([prefix + n, p]);
    for (const [n, p] of this._buffers) out.push([prefix + n, p]);
    for (const [n, c] of this._children) out.push(...c.namedTensors(`${prefix}${n}.`));
    return out;
  }

  parameters(): Param[] {
    return this.namedTensors().map(([, p]) => p).filter((p) => p.trainable);
  }

  /** Every module of the tree with its dotted path ("" for the root). */
  namedModules(prefix = ""): [string, Module][] {
    const out: [string, Module][] = [[prefix.replace(/\.$/, ""), this]];
    for (const [n, c] of this._children) out.push(...c.namedModules(`${prefix}${n}.`));
    return out;
  }

  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }

  eval(): this {
    return this.train(false);
  }
}

/** Give every Param its full state_dict key. Call once on the root after construction. */
export function assignNames(root: Module): void {
  for (const [name, p] of root.namedTensors()) p.name = name;
}

/** A module with no forward of its own, only children (like nn.Sequential / nn.ModuleList). */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[] = [];
  constructor(items: M[] = []) {
    super();
    items.forEach((m) => this.push(m));
  }
  push(m: M): M {
    this.child(String(this.items.length), m);
    this.items.push(m);
    return m;
  }
  get length(): number {
    return this.items.length;
  }
}

// ---- common layers ---------------------------------------------------------------------------

export interface Conv2dConfig {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  groups?: number;
  bias?: boolean;
}

export class Conv2d extends Module {
  readonly weight: Param;
  readonly bias: Param | null;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernel: number | [number, number],
    readonly cfg: Conv2dConfig = {},
  ) {
    super();
    const [kh, kw] = typeof kernel === "number" ? [kernel, kernel] : kernel;
    const groups = cfg.groups ?? 1;
    this.weight = this.param("weight", [outChannels, inChannels / groups, kh, kw]);
    this.bias = cfg.bias ? this.param("bias", [outChannels]) : null;
  }
  forward<T>(ops: Ops<T>, x: T): T {
    const { stride, padding, dilation, groups } = this.cfg;
    return ops.conv2d(x, this.weight, this.bias, { stride, padding, dilation, groups });
  }
}

export interface Conv3dConfig {
  stride?: number | [number, number, number];
  padding?: number | [number, number, number];
  groups?: number;
  bias?: boolean;
}

export class Conv3d extends Module {
  readonly weight: Param;
  readonly bias: Param | null;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernel: number | [number, number, number],
    readonly cfg: Conv3dConfig = {},
  ) {
    super();
    const k = typeof kernel === "number" ? [kernel, kernel, kernel] : kernel;
    const groups = cfg.groups ?? 1;
    this.weight = this.param("weight", [outChannels, inChannels / groups, ...k]);
    this.bias = cfg.bias ? this.param("bias", [outChannels]) : null;
  }
  forward<T>(ops: Ops<T>, x: T): T {
    const { stride, padding, groups } = this.cfg;
    return ops.conv3d(x, this.weight, this.bias, { stride, padding, groups });
  }
}

/** nn.BatchNorm2d / nn.BatchNorm3d (same tensors; the op handles 4-D and 5-D inputs). */
export class BatchNorm extends Module {
  readonly params: BatchNormParams;
  constructor(readonly channels: number, eps = 1e-5, momentum = 0.1) {
    super();
    const weight = this.param("weight", [channels]);
    const bias = this.param("bias", [channels]);
    const runningMean = this.buffer("running_mean", [channels]);
    const runningVar = this.buffer("running_var", [channels]);
    const numBatchesTracked = this.buffer("num_batches_tracked", [], "int64");
    runningVar.f32.fill(1);
    weight.f32.fill(1);
    this.params = { weight, bias, runningMean, runningVar, numBatchesTracked, eps, momentum };
  }
  forward<T>(ops: Ops<T>, x: T): T {
    return ops.batchNorm(x, this.params, this.training);
  }
}

export class Linear extends Module {
  readonly weight: Param;
  readonly bias: Param | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, bias = true) {
    super();
    this.weight = this.param("weight", [outFeatures, inFeatures]);
    this.bias = bias ? this.param("bias", [outFeatures]) : null;
  }
  forward<T>(ops: Ops<T>, x: T): T {
    return ops.linear(x, this.weight, this.bias);
  }
}
