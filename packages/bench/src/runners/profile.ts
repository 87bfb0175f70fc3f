/** Analytic profile rows: params, MACs, other FLOPs, saved activations (shape-only, no tensors). */
import { profileModel } from "@blvnet/core";
import type { RunnerResult } from "../sweep/run.js";
import type { Job } from "../sweep/spec.js";
import { depthOf, jobModel, temporalOf } from "./model.js";

export async function runProfile(job: Job): Promise<RunnerResult> {
  // dropout does not change any count; 0 keeps the official (goldens') fc naming
  const model = jobModel(job, { dropout: 0 });
  const p = profileModel(model, job.batch);
  return {
    modelId: model.id,
    depth: depthOf(model),
    temporal: temporalOf(model),
    backend: "analytic",
    threads: 1,
    metrics: {
      params: p.params,
      macs: p.macs / job.batch,
      other_flops: p.otherFlops / job.batch,
      saved_activation_bytes: p.savedActivationBytes / job.batch,
      peak_forward_bytes: p.inferencePeakBytes,
    },
  };
}
