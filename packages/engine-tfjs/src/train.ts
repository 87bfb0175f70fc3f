/**
 * One training step on the tfjs interpreter: forward + softmax cross-entropy + backward
 * (tf.variableGrads) + SGD with momentum and weight decay, exactly like torch.optim.SGD
 * (dampening 0, no Nesterov):
 *   d_p = g + wd * p;  buf = d_p (first step) or momentum * buf + d_p;  p -= lr * buf.
 * The building block of the trainer; it owns no data loading, schedules or logging.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Param } from "@blvnet/core";
import { type ForwardModule, tfForward } from "./forward.js";
import "./grads.js";
import type { ParamStore } from "./store.js";
import type { TfOps } from "./tfops.js";

/** What trainStep needs of a model: a module tree with a forward producing logits [N, K]. */
export type TrainableModel = ForwardModule;

export interface SgdOptions {
  lr: number;
  /** Default 0 (plain SGD, no momentum buffer). */
  momentum?: number;
  /** L2 penalty added to the gradient (torch's weight_decay). Default 0. */
  weightDecay?: number;
  /**
   * Per-parameter multipliers of lr and weight decay (like the official code's optimizer policies,
   * e.g. no decay on BN parameters). Default: 1 and 1 for every parameter.
   */
  paramOptions?: (p: Param) => { lrMult?: number; decayMult?: number };
  /** If set, scale the gradients so their global L2 norm is at most this (torch clip_grad_norm_). */
  clipGradNorm?: number;
}

/** mean over the batch of -log softmax(logits)[label]. */
export function softmaxCrossEntropy(logits: tf.Tensor, labels: ArrayLike<number>): tf.Scalar {
  const [n, k] = logits.shape;
  if (logits.rank !== 2 || labels.length !== n) throw new Error(`softmaxCrossEntropy: logits [${logits.shape}] vs ${labels.length} labels`);
  for (let i = 0; i < n; i++) {
    const l = labels[i];
    if (!Number.isInteger(l) || l < 0 || l >= k) throw new Error(`softmaxCrossEntropy: label ${l} outside [0, ${k})`);
  }
  return tf.tidy(() => {
    const oneHot = tf.oneHot(tf.tensor1d(Array.from(labels), "int32"), k);
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), oneHot), 1)));
  });
}

/** SGD state (momentum buffers) of one ParamStore. */
export class Sgd {
  private readonly buffers = new Map<Param, tf.Tensor>();

  /** Apply one update to `vars` from `grads` (same keys; params without a gradient are skipped). */
  step(vars: Map<Param, tf.Variable>, grads: Map<Param, tf.Tensor>, opts: SgdOptions): void {
    const momentum = opts.momentum ?? 0;
    const wd = opts.weightDecay ?? 0;
    let scale = 1;
    if (opts.clipGradNorm !== undefined) {
      const norm = tf.tidy(() => tf.sqrt(tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g))))).dataSync()[0]);
      const coef = opts.clipGradNorm / (norm + 1e-6);
      if (coef < 1) scale = coef;
    }
    for (const [p, v] of vars) {
      const g = grads.get(p);
      if (!g) continue;
      const { lrMult = 1, decayMult = 1 } = opts.paramOptions?.(p) ?? {};
      const next = tf.tidy(() => {
        let d: tf.Tensor = scale === 1 ? g : tf.mul(g, scale);
        if (wd * decayMult !== 0) d = tf.add(d, tf.mul(v, wd * decayMult));
        if (momentum !== 0) {
          const old = this.buffers.get(p);
          const buf = old ? tf.add(tf.mul(old, momentum), d) : d.clone();
          old?.dispose();
          this.buffers.set(p, tf.keep(buf));
          d = buf;
        }
        return tf.sub(v, tf.mul(d, opts.lr * lrMult));
      });
      v.assign(next);
      next.dispose();
    }
  }

  dispose(): void {
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
  }
}

const optimizers = new WeakMap<ParamStore, Sgd>();

/** The SGD state trainStep keeps for a store (dispose it with the store when training ends). */
export function sgdOf(store: ParamStore): Sgd {
  let s = optimizers.get(store);
  if (!s) optimizers.set(store, (s = new Sgd()));
  return s;
}

/**
 * Create every variable the forward uses (the store creates them lazily) with one eval-mode forward,
 * which updates no BN statistics. Needed before the first step: tf.variableGrads only sees variables
 * that exist when it starts.
 */
function materializeVariables(model: TrainableModel, ops: TfOps, input: tf.Tensor): void {
  const flags = model.namedModules().map(([, m]) => [m, m.training] as const);
  try {
    model.eval();
    tf.dispose(tfForward(model, ops, input));
  } finally {
    for (const [m, t] of flags) m.training = t;
  }
}

export interface LossAndGrads {
  /** Mean cross-entropy of the batch. */
  loss: number;
  /** Gradient of the loss per trainable Param, in the store's (tfjs) layout. Caller disposes. */
  grads: Map<Param, tf.Tensor>;
}

/**
 * Forward (with the model's current training flags) + softmax cross-entropy + backward.
 * `ops` must be `new TfOps({ trainable: true })`; `input` is a physical tensor from `ops.input`.
 */
export function lossAndGrads(model: TrainableModel, ops: TfOps, input: tf.Tensor, labels: ArrayLike<number>): LossAndGrads {
  const store = ops.store;
  if (!store.trainable) throw new Error("training needs a TfOps created with { trainable: true }");
  if (store.variables().size === 0 || store.hasStale()) materializeVariables(model, ops, input);
  const byName = new Map<string, Param>();
  const vars = store.variables();
  for (const [p, v] of vars) byName.set(v.name, p);
  const { value, grads } = tf.variableGrads(() => softmaxCrossEntropy(tfForward(model, ops, input), labels), [...vars.values()]);
  const named = new Map<Param, tf.Tensor>();
  for (const [name, g] of Object.entries(grads)) named.set(byName.get(name)!, g);
  const loss = value.dataSync()[0];
  value.dispose();
  return { loss, grads: named };
}

/**
 * One SGD step on a batch: returns the batch's mean cross-entropy loss (before the update).
 * The model's training flags are used as they are (call `model.train()` first for BN batch
 * statistics and dropout). BN running statistics and weights are updated on the device: call
 * `ops.store.syncToParams()` before reading Params, and `sgdOf(ops.store).dispose()` at the end.
 */
export function trainStep(model: TrainableModel, ops: TfOps, input: tf.Tensor, labels: ArrayLike<number>, opts: SgdOptions): number {
  const { loss, grads } = lossAndGrads(model, ops, input, labels);
  try {
    sgdOf(ops.store).step(ops.store.variables(), grads, opts);
    for (const p of grads.keys()) ops.store.markDirty(p);
    return loss;
  } finally {
    tf.dispose([...grads.values()]);
  }
}
