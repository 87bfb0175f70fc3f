/**
 * Profile a model with the shape-only interpreter: parameters, MACs, other FLOPs, the bytes autograd
 * keeps for backward in a training step, and the peak live activation bytes of an inference pass,
 * in total and per module. Nothing is allocated, so a ResNet-101 video model profiles in milliseconds.
 */
import { inputShape, type VideoModel } from "../model.js";
import type { Module } from "../module.js";
import { addFlops, type OtherFlops, sumFlops } from "./rules.js";
import { moduleOfParam, type OpRecord, ShapeOps } from "./shape-ops.js";
import type { ShapeTensor, Storage } from "./tensor.js";

export interface ModuleCost {
  /** Dotted module path (state_dict prefix). */
  path: string;
  params: number;
  macs: number;
  flops: OtherFlops;
  /** Bytes this module's ops are the first to save for backward. */
  savedBytes: number;
  ops: number;
}

export interface ModelProfile {
  modelId: string;
  family: string;
  inputShape: number[];
  clips: number;
  /** Trainable parameter elements (like `sum(p.numel() for p in model.parameters())`). */
  params: number;
  /** Bytes of every parameter and buffer (float32 / int64). */
  paramBytes: number;
  macs: number;
  flops: OtherFlops;
  otherFlops: number;
  /** 2 x MACs + other FLOPs. */
  totalFlops: number;
  /** Distinct bytes autograd keeps for backward in one training step (train mode, params excluded). */
  savedActivationBytes: number;
  /**
   * Peak bytes of live activations in an eval-mode forward (input included, params excluded),
   * for an out-of-place interpreter that frees each tensor right after its last use.
   */
  inferencePeakBytes: number;
  /** Per module, in order of first use; modules whose parameters the forward never touched come last. */
  modules: ModuleCost[];
}

export interface TraceResult {
  input: ShapeTensor;
  output: ShapeTensor;
  records: OpRecord[];
}

/** Run one forward pass of `model` (in its current train/eval state) with the shape interpreter. */
export function traceModel(model: VideoModel, clips = 1): TraceResult {
  const ops = new ShapeOps();
  const input = ops.input(inputShape(model.inputSpec, clips));
  const output = model.forward(ops, input);
  return { input, output, records: ops.records };
}

/** Run `fn` with the whole tree in train (or eval) mode, then restore every module's own flag. */
function withMode<R>(model: Module, training: boolean, fn: () => R): R {
  const before = model.namedModules().map(([, m]) => [m, m.training] as const);
  model.train(training);
  try {
    return fn();
  } finally {
    for (const [m, t] of before) m.training = t;
  }
}

/** Distinct bytes of every storage saved by the trace; each storage is charged to the first op saving it. */
export function savedBytes(records: OpRecord[]): { total: number; byRecord: number[] } {
  const seen = new Set<number>();
  let total = 0;
  const byRecord = records.map((r) => {
    let mine = 0;
    for (const s of r.saved) {
      if (seen.has(s.id)) continue;
      seen.add(s.id);
      mine += s.bytes;
    }
    total += mine;
    return mine;
  });
  return { total, byRecord };
}

/**
 * Peak live bytes over the trace: `held` storages (the input) live throughout, the output from its
 * creation to the end, every other storage from the op creating it to its last reader.
 */
export function peakLiveBytes(records: OpRecord[], held: Storage[], output: Storage): number {
  const lastUse = new Map<number, number>();
  records.forEach((r, i) => r.inputs.forEach((x) => lastUse.set(x.storage.id, i)));
  const pinned = new Set([...held.map((s) => s.id), output.id]);
  const live = new Map<number, number>(held.map((s) => [s.id, s.bytes]));
  let current = held.reduce((a, s) => a + s.bytes, 0);
  let peak = current;
  const release = (s: Storage) => {
    if (pinned.has(s.id) || !live.has(s.id)) return;
    current -= live.get(s.id)!;
    live.delete(s.id);
  };
  records.forEach((r, i) => {
    const out = r.output.storage;
    if (!live.has(out.id)) {
      live.set(out.id, out.bytes);
      current += out.bytes;
    }
    peak = Math.max(peak, current);
    for (const x of r.inputs) if (lastUse.get(x.storage.id) === i) release(x.storage);
    if (!lastUse.has(out.id)) release(out); // computed but never read (e.g. an unused branch)
  });
  return peak;
}

/** Per-module costs of a trace (modules in order of first use), plus parameter counts of the tree. */
function moduleCosts(model: Module, records: OpRecord[], savedByRecord: number[]): ModuleCost[] {
  const byPath = new Map<string, ModuleCost>();
  const get = (path: string) => {
    let m = byPath.get(path);
    if (!m) byPath.set(path, (m = { path, params: 0, macs: 0, flops: {}, savedBytes: 0, ops: 0 }));
    return m;
  };
  records.forEach((r, i) => {
    const m = get(r.module);
    m.macs += r.macs;
    addFlops(m.flops, r.flops);
    m.savedBytes += savedByRecord[i];
    m.ops += 1;
  });
  for (const [, p] of model.namedTensors()) if (p.trainable) get(moduleOfParam(p)).params += p.numel;
  return [...byPath.values()];
}

export function profileModel(model: VideoModel, clips = 1): ModelProfile {
  if (!Number.isInteger(clips) || clips < 1) throw new Error(`profile: clips must be a positive integer, got ${clips}`);
  const train = withMode(model, true, () => traceModel(model, clips));
  const infer = withMode(model, false, () => traceModel(model, clips));
  const saved = savedBytes(train.records);
  const macs = train.records.reduce((a, r) => a + r.macs, 0);
  // Other FLOPs are an inference figure (dropout is identity there).
  const inferFlops: OtherFlops = {};
  for (const r of infer.records) addFlops(inferFlops, r.flops);
  const tensors = model.namedTensors().map(([, p]) => p);
  const otherFlops = sumFlops(inferFlops);
  return {
    modelId: model.id,
    family: model.family,
    inputShape: [...train.input.shape],
    clips,
    params: tensors.filter((p) => p.trainable).reduce((a, p) => a + p.numel, 0),
    paramBytes: tensors.reduce((a, p) => a + p.numel * (p.dtype === "int64" ? 8 : 4), 0),
    macs,
    flops: inferFlops,
    otherFlops,
    totalFlops: 2 * macs + otherFlops,
    savedActivationBytes: saved.total,
    inferencePeakBytes: peakLiveBytes(infer.records, [infer.input.storage], infer.output.storage),
    modules: moduleCosts(model, train.records, saved.byRecord),
  };
}

/**
 * Roll module costs up to `depth` path segments (fvcore-style breakdown): "a.b.c.d" at depth 2
 * is charged to "a.b". Order of first appearance is kept.
 */
export function modulesAtDepth(modules: ModuleCost[], depth: number): ModuleCost[] {
  const out = new Map<string, ModuleCost>();
  for (const m of modules) {
    const path = m.path === "" ? "" : m.path.split(".").slice(0, depth).join(".");
    let acc = out.get(path);
    if (!acc) out.set(path, (acc = { path, params: 0, macs: 0, flops: {}, savedBytes: 0, ops: 0 }));
    acc.params += m.params;
    acc.macs += m.macs;
    addFlops(acc.flops, m.flops);
    acc.savedBytes += m.savedBytes;
    acc.ops += m.ops;
  }
  return [...out.values()];
}
