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

/** One op on one tensor (the parameter-free steps of a `Sequential`: ReLU, pooling). */
export type StepFn = <T>(ops: Ops<T>, x: T) => T;

/**
 * A module's tensors and submodules are its own properties, discovered in declaration order like
 * PyTorch's `__setattr__`: a `Param` field is a parameter or buffer, a `Module` field a child, and
 * the property name is the state_dict segment (`b_conv0`, `baseline_model`). Null fields, arrays and
 * `#private` fields are skipped (so a second reference to a child does not register it twice).
 * Fields may read `this.cfg`: ES2022 class fields run right after `super(cfg)` returns.
 */
export abstract class Module<C = unknown> {
  training = true;
  readonly cfg: C;

  constructor(cfg?: C) {
    this.cfg = cfg as C;
  }

  /** Own tensors and children by name, in declaration order. Containers override it. */
  members(): [string, Param | Module][] {
    return Object.entries(this).filter((e): e is [string, Param | Module] => e[1] instanceof Param || e[1] instanceof Module);
  }

  children(): [string, Module][] {
    return this.members().filter((e): e is [string, Module] => e[1] instanceof Module);
  }

  /** Every parameter and buffer in PyTorch state_dict order: own params, own buffers, then children. */
  namedTensors(prefix = ""): [string, Param][] {
    const own = this.members();
    const out: [string, Param][] = [];
    for (const kind of ["param", "buffer"] as const) {
      for (const [n, p] of own) if (p instanceof Param && p.kind === kind) out.push([prefix + n, p]);
    }
    for (const [n, c] of own) if (c instanceof Module) out.push(...c.namedTensors(`${prefix}${n}.`));
    return out;
  }

  parameters(): Param[] {
    return this.namedTensors()
      .map(([, p]) => p)
      .filter((p) => p.trainable);
  }

  /** Every module of the tree with its dotted path ("" for the root). */
  namedModules(prefix = ""): [string, Module][] {
    const out: [string, Module][] = [[prefix.replace(/\.$/, ""), this]];
    for (const [n, c] of this.children()) out.push(...c.namedModules(`${prefix}${n}.`));
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

/** Anything with a single-tensor forward: the layers below and most blocks. */
export type Layer = Module & { forward<T>(ops: Ops<T>, x: T): T };

/** nn.ModuleList: children named "0", "1", ... by position. */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[];
  constructor(items: M[] = []) {
    super();
    this.items = [...items];
  }
  override members(): [string, Module][] {
    return this.items.map((m, i) => [String(i), m]);
  }
  push(m: M): M {
    this.items.push(m);
    return m;
  }
  get length(): number {
    return this.items.length;
  }
}

/** nn.Sequential: steps run in order and numbered by position; a function step has no tensors but keeps its index. */
export class Sequential<L extends Layer = Layer> extends Module {
  readonly steps: (L | StepFn)[];
  constructor(steps: (L | StepFn)[]) {
    super();
    this.steps = [...steps];
  }
  override members(): [string, Module][] {
    return this.steps.flatMap((s, i): [string, Module][] => (s instanceof Module ? [[String(i), s]] : []));
  }
  forward<T>(ops: Ops<T>, x: T): T {
    for (const s of this.steps) x = s instanceof Module ? s.forward(ops, x) : s(ops, x);
    return x;
  }
}

/** The ReLU step of a `Sequential` (in place in PyTorch: no tensors, one index). */
export const RELU: StepFn = (ops, x) => ops.relu(x);

// ---- common layers ---------------------------------------------------------------------------

const filled = (shape: number[], value: number, kind: ParamKind = "param"): Param => {
  const p = new Param(shape, kind);
  p.f32.fill(value);
  return p;
};

type Kernel2d = number | [number, number];
type Kernel3d = number | [number, number, number];

export interface Conv2dConfig {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  groups?: number;
  bias?: boolean;
}

export class Conv2d extends Module<Conv2dConfig & { inChannels: number; outChannels: number; kernel: [number, number] }> {
  weight = new Param([this.cfg.outChannels, this.cfg.inChannels / (this.cfg.groups ?? 1), ...this.cfg.kernel]);
  bias = this.cfg.bias ? new Param([this.cfg.outChannels]) : null;

  constructor(inChannels: number, outChannels: number, kernel: Kernel2d, cfg: Conv2dConfig = {}) {
    super({ ...cfg, inChannels, outChannels, kernel: typeof kernel === "number" ? [kernel, kernel] : kernel });
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

export class Conv3d extends Module<Conv3dConfig & { inChannels: number; outChannels: number; kernel: [number, number, number] }> {
  weight = new Param([this.cfg.outChannels, this.cfg.inChannels / (this.cfg.groups ?? 1), ...this.cfg.kernel]);
  bias = this.cfg.bias ? new Param([this.cfg.outChannels]) : null;

  constructor(inChannels: number, outChannels: number, kernel: Kernel3d, cfg: Conv3dConfig = {}) {
    super({ ...cfg, inChannels, outChannels, kernel: typeof kernel === "number" ? [kernel, kernel, kernel] : kernel });
  }
  forward<T>(ops: Ops<T>, x: T): T {
    const { stride, padding, groups } = this.cfg;
    return ops.conv3d(x, this.weight, this.bias, { stride, padding, groups });
  }
}

/** nn.BatchNorm2d / nn.BatchNorm3d (same tensors; the op handles 4-D and 5-D inputs). */
export class BatchNorm extends Module<{ channels: number; eps: number; momentum: number }> {
  weight = filled([this.cfg.channels], 1);
  bias = new Param([this.cfg.channels]);
  running_mean = new Param([this.cfg.channels], "buffer");
  running_var = filled([this.cfg.channels], 1, "buffer");
  num_batches_tracked = new Param([], "buffer", "int64");
  readonly params: BatchNormParams = {
    weight: this.weight,
    bias: this.bias,
    runningMean: this.running_mean,
    runningVar: this.running_var,
    numBatchesTracked: this.num_batches_tracked,
    eps: this.cfg.eps,
    momentum: this.cfg.momentum,
  };

  constructor(channels: number, eps = 1e-5, momentum = 0.1) {
    super({ channels, eps, momentum });
  }
  get channels(): number {
    return this.cfg.channels;
  }
  forward<T>(ops: Ops<T>, x: T): T {
    return ops.batchNorm(x, this.params, this.training);
  }
}

export class Linear extends Module<{ inFeatures: number; outFeatures: number; bias: boolean }> {
  weight = new Param([this.cfg.outFeatures, this.cfg.inFeatures]);
  bias = this.cfg.bias ? new Param([this.cfg.outFeatures]) : null;

  constructor(inFeatures: number, outFeatures: number, bias = true) {
    super({ inFeatures, outFeatures, bias });
  }
  forward<T>(ops: Ops<T>, x: T): T {
    return ops.linear(x, this.weight, this.bias);
  }
}
