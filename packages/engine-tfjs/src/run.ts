/** Convenience: run a model's forward pass with the tfjs interpreter on logical-layout data. */
import type { VideoModel } from "@blvnet/core";
import { tfForward } from "./forward.js";
import { TfOps } from "./tfops.js";

export interface ForwardResult {
  data: Float32Array;
  shape: number[];
}

export async function runForward(model: VideoModel, input: Float32Array, shape: number[], ops = new TfOps()): Promise<ForwardResult> {
  const x = ops.input(input, shape);
  const out = tfForward(model, ops, x);
  try {
    return await ops.read(out);
  } finally {
    out.dispose();
    x.dispose();
  }
}
