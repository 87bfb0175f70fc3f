/**
 * What the training loop needs from an engine: one optimizer step on a batch, logits for
 * evaluation, and the full state (weights + optimizer buffers) as a tensor map for checkpoints.
 * `tfjs` runs the model through the TfOps interpreter with tf.variableGrads; `ort` compiles a
 * whole SGD step to one ONNX graph.
 */
import type { TensorMap } from "@blvnet/core";

export const ENGINES = ["tfjs", "ort"] as const;
export type EngineKind = (typeof ENGINES)[number];

export interface StepResult {
  /** Mean softmax cross-entropy of the batch. */
  loss: number;
  /** Rows whose arg-max logit is the label. */
  correct: number;
  /** Global L2 norm of the gradients before clipping. */
  gradNorm: number;
}

/** Key prefix of the momentum buffers in `state()`: `optimizer.momentum_buffer.<param name>`. */
export const MOMENTUM_PREFIX = "optimizer.momentum_buffer.";

export interface TrainingEngine {
  readonly kind: EngineKind;
  /**
   * One SGD step on a batch (input in the model's layout, one label per row). Throws
   * NonFiniteLossError when the loss or a gradient is not finite. The engine's state is then
   * undefined (the onnxruntime engine updates weights and momentum buffers in place, like
   * torch.optim.SGD): it refuses to step or save (`state()` throws) until `load()` restores a
   * good state; the training loop stops there and resumes from the last good checkpoint.
   */
  step(input: Float32Array, shape: number[], labels: Int32Array, lr: number): Promise<StepResult>;
  /** Eval-mode logits [rows, classes], row-major. */
  evalLogits(input: Float32Array, shape: number[]): Promise<Float32Array>;
  /** Weights and buffers under their state_dict names plus MOMENTUM_PREFIX entries, PyTorch layout. */
  state(): Promise<TensorMap>;
  /** Restore what `state()` returned. */
  load(state: TensorMap): void;
  /** Release the engine (the model's Params hold the latest weights afterwards). */
  dispose(): Promise<void>;
}

export class NonFiniteLossError extends Error {
  constructor(
    readonly loss: number,
    readonly gradNorm: number,
  ) {
    super(`non-finite ${Number.isFinite(loss) ? `gradient (norm ${gradNorm})` : `loss (${loss})`}`);
    this.name = "NonFiniteLossError";
  }
}
