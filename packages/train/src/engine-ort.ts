/**
 * The onnxruntime training engine: each SGD step is one compiled ONNX graph (forward, backward by
 * per-op rules, clip, momentum/weight-decay update; @blvnet/core `OrtTrainer`), with weights,
 * momentum buffers and BN statistics kept as onnxruntime tensors between steps. Same contract as
 * the tfjs engine: torch.optim.SGD semantics (Nesterov and clip_grad_norm_ included), dropout masks
 * from a seed derived from (seed, step), and the same state() keys, so checkpoints, logs and
 * resume behave identically. Graphs are compiled lazily per batch shape (the first step, a short
 * last batch, each evaluation shape).
 */

import { deriveSeed, type Param, type SgdConfig, stateDict, type TensorMap, type VideoModel } from "@blvnet/core";
import { type OrtDevice, OrtTrainer } from "@blvnet/engine-onnx";
import { loadStateDict } from "@blvnet/io";
import { MOMENTUM_PREFIX, NonFiniteLossError, type StepResult, type TrainingEngine } from "./engine.js";
import { STEP_KEY } from "./tfjs-engine.js";

export interface OrtEngineOptions extends SgdConfig {
  /** Seed of the dropout masks. */
  seed: number;
  /** onnxruntime intra-op threads (default: every core). */
  threads?: number;
  /** Write onnxruntime's profile of the step graph with this path prefix. */
  profilePrefix?: string;
  /** Execution provider of the step graph: cpu (default), webgpu or cuda. */
  device?: OrtDevice;
  /** webgpu: keep the state on the device between steps (default true). */
  resident?: boolean;
}

export class OrtTrainingEngine implements TrainingEngine {
  readonly kind = "ort" as const;
  private trainer: OrtTrainer | null = null;
  private creating: Promise<OrtTrainer> | null = null;
  /** Momentum buffers restored by `load` before the trainer exists. */
  private pendingMomentum = new Map<Param, Float32Array>();
  private pendingSteps = 0;

  constructor(
    readonly model: VideoModel,
    readonly opts: OrtEngineOptions,
  ) {}

  private async ready(): Promise<OrtTrainer> {
    if (this.trainer) return this.trainer;
    const { momentum, weightDecay, nesterov, clipGradNorm, threads, profilePrefix, device, resident } = this.opts;
    this.creating ??= OrtTrainer.create(this.model, {
      momentum,
      weightDecay,
      nesterov,
      clipGradNorm,
      threads,
      profilePrefix,
      device,
      resident,
    });
    const t = await this.creating;
    this.creating = null;
    t.setMomentumBuffers(this.pendingMomentum);
    t.stepCount = this.pendingSteps;
    this.pendingMomentum = new Map();
    this.trainer = t;
    return t;
  }

  async step(input: Float32Array, shape: number[], labels: Int32Array, lr: number): Promise<StepResult> {
    const t = await this.ready();
    this.model.train(); // the step graph is traced with the model's flags: BN batch statistics, dropout on
    const r = await t.step(input, labels, lr, { shape, dropoutSeed: deriveSeed(this.opts.seed, 0xd809, t.stepCount) });
    if (!r.applied) throw new NonFiniteLossError(r.loss, r.gradNorm);
    return { loss: r.loss, correct: r.correct, gradNorm: r.gradNorm };
  }

  async evalLogits(input: Float32Array, shape: number[]): Promise<Float32Array> {
    const t = await this.ready();
    const wasTraining = this.model.training;
    this.model.eval();
    try {
      return await t.logits(input, shape);
    } finally {
      this.model.train(wasTraining);
    }
  }

  async state(): Promise<TensorMap> {
    const t = this.trainer;
    // after a non-finite step the weights may hold NaN (updated in place): never hand them out to be saved
    if (t?.stateLost) throw new Error("training state: a non-finite step overwrote the weights; load() a good state first");
    await t?.download();
    t?.syncToParams();
    const out = stateDict(this.model);
    const buffers = t ? t.momentumBuffers() : this.pendingMomentum;
    // state_dict order, like the tfjs engine's (momentum buffers follow the weights)
    for (const [name, p] of this.model.namedTensors()) {
      const data = buffers.get(p);
      if (data) out.set(MOMENTUM_PREFIX + name, { shape: [...p.shape], data });
    }
    out.set(STEP_KEY, { shape: [], data: BigInt64Array.of(BigInt(t ? t.stepCount : this.pendingSteps)) });
    return out;
  }

  load(state: TensorMap): void {
    const weights: TensorMap = new Map();
    const buffers = new Map<Param, Float32Array>();
    const byName = new Map(this.model.namedTensors());
    let steps = 0;
    for (const [k, t] of state) {
      if (k === STEP_KEY) steps = Number(t.data[0]);
      else if (k.startsWith(MOMENTUM_PREFIX)) {
        const p = byName.get(k.slice(MOMENTUM_PREFIX.length));
        if (!p) throw new Error(`training state: momentum buffer for unknown parameter ${k.slice(MOMENTUM_PREFIX.length)}`);
        buffers.set(p, t.data instanceof Float32Array ? t.data.slice() : Float32Array.from(t.data, Number));
      } else weights.set(k, t);
    }
    loadStateDict(this.model, weights, { source: "training state" });
    if (this.trainer) {
      this.trainer.reloadParams();
      this.trainer.setMomentumBuffers(buffers);
      this.trainer.stepCount = steps;
    } else {
      this.pendingMomentum = buffers;
      this.pendingSteps = steps;
    }
  }

  /** Stop onnxruntime's profiler (when `profilePrefix` was given) and return the profile file. */
  endProfiling(): string | null {
    return this.trainer?.endProfiling() ?? null;
  }

  async dispose(): Promise<void> {
    const t = this.trainer;
    if (!t) return;
    this.trainer = null;
    try {
      await t.download();
      t.syncToParams();
    } finally {
      await t.release();
    }
  }
}
