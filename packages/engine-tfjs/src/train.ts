/**
 * One training step on the tfjs interpreter: forward + softmax cross-entropy + backward
 * (tf.variableGrads) + torch.optim.SGD (dampening 0), after torch's clip_grad_norm_:
 *   d = g*clip + wd*p;  buf = d (first step) or momentum*buf + d;  p -= lr * (nesterov ? d + momentum*buf : buf).
 * `Sgd` is the one tfjs implementation of that update (the trainer's TfjsEngine uses it too);
 * it owns no data loading, schedules or logging.
 */

import type { Param, SgdConfig } from "@blvnet/core";
import * as tf from "@tensorflow/tfjs-core";
import { type ForwardModule, tfForward } from "./forward.js";
import "./grads.js";
import type { ParamStore } from "./store.js";
import type { TfOps } from "./tfops.js";

/** What trainStep needs of a model: a module tree with a forward producing logits [N, K]. */
export type TrainableModel = ForwardModule;

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

/** torch.optim.SGD state and update; momentum buffers are kept in the variables' (tfjs) layout. */
export class Sgd {
  /** Momentum buffer per parameter, created on its first update (torch's lazy `momentum_buffer`). */
  readonly buffers = new Map<Param, tf.Tensor>();

  /**
   * Apply one update to every variable that has a gradient (others are skipped, as torch skips
   * `p.grad is None`). `gradNorm`, the global L2 norm of `grads`, is computed when clipping needs it
   * and was not given.
   */
  step(
    vars: Iterable<readonly [Param, tf.Variable]>,
    grads: ReadonlyMap<Param, tf.Tensor>,
    lr: number,
    cfg: SgdConfig,
    gradNorm?: number,
  ): void {
    const momentum = cfg.momentum ?? 0;
    const weightDecay = cfg.weightDecay ?? 0;
    const clip = cfg.clipGradNorm ?? 0;
    let clipCoef = 1;
    if (clip > 0) {
      // clip_grad_norm_: coef = max_norm / (norm + 1e-6), applied when < 1 (float32, as torch)
      const norm = gradNorm ?? globalNorm([...grads.values()]);
      clipCoef = Math.fround(clip / (norm + 1e-6));
    }
    for (const [param, variable] of vars) {
      const g = grads.get(param);
      if (!g) continue;
      tf.tidy(() => {
        let d = clipCoef < 1 ? tf.mul(g, clipCoef) : g;
        if (weightDecay !== 0) d = tf.add(d, tf.mul(variable, weightDecay));
        if (momentum !== 0) {
          const prev = this.buffers.get(param);
          const buf = prev ? tf.add(tf.mul(prev, momentum), d) : tf.clone(d);
          prev?.dispose();
          this.buffers.set(param, tf.keep(buf));
          d = cfg.nesterov ? tf.add(d, tf.mul(buf, momentum)) : buf;
        }
        variable.assign(tf.add(variable, tf.mul(d, -lr)));
      });
    }
  }

  dispose(): void {
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
  }
}

/** Global L2 norm of a list of gradients (float32 sum of squares on the device, square root in float64). */
export function globalNorm(grads: tf.Tensor[]): number {
  if (grads.length === 0) return 0;
  const sumSq = tf.tidy(() => tf.addN(grads.map((g) => tf.sum(tf.square(g)))));
  try {
    return Math.sqrt(sumSq.dataSync()[0]!);
  } finally {
    sumSq.dispose();
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
export function trainStep(
  model: TrainableModel,
  ops: TfOps,
  input: tf.Tensor,
  labels: ArrayLike<number>,
  opts: SgdConfig & { lr: number },
): number {
  const { loss, grads } = lossAndGrads(model, ops, input, labels);
  try {
    sgdOf(ops.store).step(ops.store.variables(), grads, opts.lr, opts);
    for (const p of grads.keys()) ops.store.markDirty(p);
    return loss;
  } finally {
    tf.dispose([...grads.values()]);
  }
}
