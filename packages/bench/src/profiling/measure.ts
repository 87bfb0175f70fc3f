/**
 * Measured memory of the real tfjs interpreter, to set beside the analytic figures: peak bytes of
 * live tensor buffers during an eval forward and during a training forward + backward (above the
 * bytes live before: weights and the input), and the process's peak RSS.
 *
 * tfjs keeps every intermediate of the forward on its gradient tape until backward ends, so its
 * training peak is expected above PyTorch's saved-for-backward bytes. Inference frees each
 * intermediate after its last reader (tfForward), like the analytic inference peak assumes.
 */

import { inputShape, type VideoModel } from "@blvnet/core";
import { initBackend, TfOps, tfForward } from "@blvnet/engine-tfjs";
import * as tf from "@tensorflow/tfjs-core";

export interface MeasuredMemory {
  backend: string;
  /** Peak live tensor bytes above the starting bytes during an eval forward. */
  inferencePeakTensorBytes: number;
  /** Same for a training-mode forward + backward (tf.variableGrads of the mean logit). */
  trainPeakTensorBytes: number;
  /** Process peak resident set size after both passes (includes the interpreter and weights). */
  peakRssBytes: number;
  inferenceMs: number;
  trainMs: number;
}

type InfoMap = WeakMap<object, { bytes: number }>;

/**
 * Change in live bytes of distinct tensor buffers since construction, with its peak.
 * tf.memory().numBytes counts every tensor handle, so reshapes and the tape's clones of a shared
 * buffer are counted twice; the engine's `tensorInfo` map holds one entry per data buffer (set on
 * first use, deleted when the backend frees it), so following its set/delete gives the bytes really
 * allocated. (tfjs-core 4.x internals, checked against 4.22.)
 */
class BufferBytes {
  private readonly map: InfoMap;
  private readonly set: InfoMap["set"];
  private readonly del: InfoMap["delete"];
  current = 0;
  peak = 0;

  constructor() {
    this.map = (tf.engine().state as unknown as { tensorInfo: InfoMap }).tensorInfo;
    this.set = this.map.set;
    this.del = this.map.delete;
    const map = this.map;
    map.set = (k, v) => {
      this.current += v.bytes - (map.get(k)?.bytes ?? 0);
      this.peak = Math.max(this.peak, this.current);
      return this.set.call(map, k, v);
    };
    map.delete = (k) => {
      this.current -= map.get(k)?.bytes ?? 0;
      return this.del.call(map, k);
    };
  }

  stop(): void {
    this.map.set = this.set;
    this.map.delete = this.del;
  }
}

/** Peak distinct buffer bytes above those live at the start while `fn` runs; `fn`'s results are freed. */
function peakAbove(fn: () => tf.TensorContainer): number {
  const track = new BufferBytes();
  try {
    tf.dispose(fn());
    return track.peak;
  } finally {
    track.stop();
  }
}

export async function measureMemory(model: VideoModel, clips: number, backend?: string): Promise<MeasuredMemory> {
  const name = await initBackend(backend);
  const before = model.namedModules().map(([, m]) => [m, m.training] as const);
  const ops = new TfOps({ trainable: true });
  const shape = inputShape(model.inputSpec, clips);
  const x = ops.input(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
  try {
    model.eval();
    tf.dispose(tfForward(model, ops, x)); // uploads the weights once, outside the measurement
    let t = performance.now();
    const inferencePeakTensorBytes = peakAbove(() => tfForward(model, ops, x));
    const inferenceMs = performance.now() - t;
    model.train();
    const vars = [...ops.store.variables().values()];
    t = performance.now();
    const trainPeakTensorBytes = peakAbove(() => {
      const { value, grads } = tf.variableGrads(() => tf.mean(tfForward(model, ops, x)) as tf.Scalar, vars);
      return [value, ...Object.values(grads)];
    });
    const trainMs = performance.now() - t;
    return {
      backend: name,
      inferencePeakTensorBytes,
      trainPeakTensorBytes,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      inferenceMs,
      trainMs,
    };
  } finally {
    for (const [m, training] of before) m.training = training;
    x.dispose();
    ops.store.dispose();
  }
}
