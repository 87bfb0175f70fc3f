/**
 * The tfjs training engine: the model runs through TfOps with trainable weights (tf.Variables in
 * the ParamStore), tf.variableGrads gives the gradients of the mean softmax cross-entropy, and
 * engine-tfjs's `Sgd` applies torch.optim.SGD after clip_grad_norm_. Dropout masks come from a seed
 * derived from (seed, step), so a resumed run draws the same masks.
 *
 * Unlike `trainStep`, the engine also returns the step's accuracy and gradient norm, checks
 * finiteness *before* the update (a diverging run keeps its last good weights) and exposes the
 * momentum buffers for checkpoints.
 */

import { deriveSeed, type Param, type SgdConfig, stateDict, type TensorMap, type VideoModel } from "@blvnet/core";
import { fromNative, Sgd, softmaxCrossEntropy, TfOps, tfForward, toNative } from "@blvnet/engine-tfjs";
import { loadStateDict } from "@blvnet/io";
import * as tf from "@tensorflow/tfjs-core";
import { MOMENTUM_PREFIX, NonFiniteLossError, type StepResult, type TrainingEngine } from "./engine.js";

/** Key of the engine's step counter in `state()` (int64 scalar): the dropout stream position. */
export const STEP_KEY = "optimizer.step";

export interface TfjsEngineOptions extends SgdConfig {
  /** Seed of the dropout masks. */
  seed: number;
}

export class TfjsEngine implements TrainingEngine {
  readonly kind = "tfjs" as const;
  private readonly ops: TfOps;
  /** Trainable variables reached by the forward pass, in state_dict order (null until the first step). */
  private vars: { param: Param; variable: tf.Variable }[] | null = null;
  /** The update and its momentum buffers (tfjs layout, created on a parameter's first update). */
  private readonly sgd = new Sgd();
  /** Buffers restored by `load` (PyTorch layout), uploaded once the variables exist. */
  private pendingMomentum = new Map<Param, Float32Array>();
  private steps = 0;

  constructor(
    readonly model: VideoModel,
    readonly opts: TfjsEngineOptions,
  ) {
    this.ops = new TfOps({ trainable: true, seed: opts.seed });
  }

  /** Create the variables with one eval-mode forward (no BN statistics touched). */
  private materialize(input: Float32Array, shape: number[]): void {
    if (this.vars) return;
    const wasTraining = this.model.training;
    this.model.eval();
    try {
      tf.tidy(() => tfForward(this.model, this.ops, this.ops.input(input, shape)));
    } finally {
      this.model.train(wasTraining);
    }
    const byParam = this.ops.store.variables();
    this.vars = this.model
      .namedTensors()
      .filter(([, p]) => byParam.has(p))
      .map(([, param]) => ({ param, variable: byParam.get(param)! }));
    for (const [p, data] of this.pendingMomentum) {
      const form = this.ops.store.entryOf(p)?.form;
      if (!form) continue; // a buffer for a parameter this forward does not use: dropped, as torch would never update it
      const native = toNative(form, data, p.shape);
      this.sgd.buffers.set(p, tf.keep(tf.tensor(native.data, native.shape)));
    }
    this.pendingMomentum.clear();
  }

  async step(input: Float32Array, shape: number[], labels: Int32Array, lr: number): Promise<StepResult> {
    this.materialize(input, shape);
    const vars = this.vars!;
    this.model.train();
    // A fresh TfOps over the same store: its dropout generator starts from a seed of (seed, step).
    const ops = new TfOps({ store: this.ops.store, seed: deriveSeed(this.opts.seed, 0xd809, this.steps) });
    const x = ops.input(input, shape);
    let logitsKept: tf.Tensor | null = null;
    const { value, grads } = tf.variableGrads(
      () => {
        const logits = tfForward(this.model, ops, x);
        logitsKept = tf.keep(logits);
        return softmaxCrossEntropy(logits, labels);
      },
      vars.map((v) => v.variable),
    );
    const gradList = vars.map((v) => grads[v.variable.name] ?? null);
    try {
      const sumSq = tf.tidy(() => tf.addN(gradList.filter((g): g is tf.Tensor => g !== null).map((g) => tf.sum(tf.square(g)))));
      const correctT = tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(logitsKept!, 1), tf.tensor1d(labels, "int32")), "int32")));
      const [lossArr, sumSqArr, correctArr] = await Promise.all([value.data(), sumSq.data(), correctT.data()]);
      tf.dispose([sumSq, correctT]);
      const loss = lossArr[0]!;
      const gradNorm = Math.sqrt(sumSqArr[0]!);
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) throw new NonFiniteLossError(loss, gradNorm);
      this.sgd.step(
        vars.map((v) => [v.param, v.variable] as const),
        new Map(vars.flatMap((v, i) => (gradList[i] ? [[v.param, gradList[i]] as const] : []))),
        lr,
        this.opts,
        gradNorm,
      );
      for (let i = 0; i < vars.length; i++) if (gradList[i]) this.ops.store.markDirty(vars[i]!.param);
      this.steps++;
      return { loss, correct: correctArr[0]!, gradNorm };
    } finally {
      tf.dispose([value, x, ...Object.values(grads)]);
      if (logitsKept) (logitsKept as tf.Tensor).dispose();
    }
  }

  async evalLogits(input: Float32Array, shape: number[]): Promise<Float32Array> {
    const wasTraining = this.model.training;
    this.model.eval();
    try {
      const out = tf.tidy(() => tfForward(this.model, this.ops, this.ops.input(input, shape)));
      try {
        return (await out.data()) as Float32Array;
      } finally {
        out.dispose();
      }
    } finally {
      this.model.train(wasTraining);
    }
  }

  async state(): Promise<TensorMap> {
    this.ops.store.syncToParams();
    const out = stateDict(this.model);
    const named = new Map(this.model.namedTensors().map(([n, p]) => [p, n]));
    for (const [p, buf] of this.sgd.buffers) {
      const form = this.ops.store.entryOf(p)!.form;
      out.set(MOMENTUM_PREFIX + named.get(p)!, {
        shape: [...p.shape],
        data: fromNative(form, buf.dataSync() as Float32Array, p.shape).slice(),
      });
    }
    for (const [p, data] of this.pendingMomentum) out.set(MOMENTUM_PREFIX + named.get(p)!, { shape: [...p.shape], data });
    out.set(STEP_KEY, { shape: [], data: BigInt64Array.of(BigInt(this.steps)) });
    return out;
  }

  load(state: TensorMap): void {
    const weights: TensorMap = new Map();
    const buffers = new Map<string, Float32Array>();
    let steps = 0;
    for (const [k, t] of state) {
      if (k === STEP_KEY) steps = Number(t.data[0]);
      else if (k.startsWith(MOMENTUM_PREFIX)) buffers.set(k.slice(MOMENTUM_PREFIX.length), t.data as Float32Array);
      else weights.set(k, t);
    }
    loadStateDict(this.model, weights, { source: "training state" });
    // Drop device copies: the next step re-creates the variables from the loaded values.
    this.resetDevice();
    const byName = new Map(this.model.namedTensors());
    for (const [name, data] of buffers) {
      const p = byName.get(name);
      if (!p) throw new Error(`training state: momentum buffer for unknown parameter ${name}`);
      this.pendingMomentum.set(p, data);
    }
    this.steps = steps;
  }

  private resetDevice(): void {
    this.sgd.dispose();
    this.pendingMomentum.clear();
    this.ops.store.dispose();
    this.vars = null;
  }

  async dispose(): Promise<void> {
    this.ops.store.syncToParams();
    this.resetDevice();
  }
}
