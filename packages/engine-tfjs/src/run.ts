/** Convenience: run a model's forward pass with the tfjs interpreter on logical-layout data. */
import * as tf from "@tensorflow/tfjs-core";
import type { VideoModel } from "@blvnet/core";
import { TfOps } from "./tfops.js";

export interface ForwardResult {
  data: Float32Array;
  shape: number[];
}

export async function runForward(model: VideoModel, input: Float32Array, shape: number[], ops = new TfOps()): Promise<ForwardResult> {
  const out = tf.tidy(() => model.forward(ops, ops.input(input, shape)));
  try {
    return await ops.read(out);
  } finally {
    out.dispose();
  }
}
