/** Measured speed rows: inference latency and clips/s (and a tfjs training step where asked). */
import { loadavg } from "node:os";
import { fillDeterministic } from "@blvnet/core";
import { checkSpeedBackend, defaultThreads, measureSpeed } from "../speed/measure.js";
import type { Job } from "../sweep/spec.js";
import type { RunnerResult } from "../sweep/run.js";
import { depthOf, jobModel, temporalOf } from "./model.js";

export interface SpeedSettings {
  warmup: number;
  iters: number;
  train: boolean;
  threads?: number;
}

export function speedRunner(s: SpeedSettings) {
  return async (job: Job): Promise<RunnerResult> => {
    const model = jobModel(job, { dropout: 0 });
    fillDeterministic(model); // speed does not depend on values; refgen keeps the inputs finite
    const r = await measureSpeed({
      model,
      batch: job.batch,
      backend: checkSpeedBackend(job.backend),
      threads: s.threads ?? defaultThreads(),
      warmup: s.warmup,
      iters: s.iters,
      train: s.train,
      seed: 0,
    });
    return {
      modelId: model.id,
      depth: depthOf(model),
      temporal: temporalOf(model),
      threads: r.threads,
      metrics: {
        latency_ms: +r.latency.mean.toFixed(3),
        clips_per_s: +r.clipsPerS.toFixed(4),
        train_step_ms: r.trainStepMs === undefined ? "" : +r.trainStepMs.toFixed(3),
        peak_tensor_bytes: r.peakTensorBytes ?? "",
        // the process peak RSS covers every earlier job of the sweep: only `bench speed` (one model per process) reports it
        peak_rss_bytes: "",
      },
      // the machine's load when the job ended: speed figures from a busy machine are flagged by it
      note: [`load1=${loadavg()[0].toFixed(2)}`, `p50=${r.latency.p50.toFixed(2)}ms sd=${r.latency.sd.toFixed(2)}ms n=${r.latency.samples}`, `setup=${r.setupMs.toFixed(0)}ms`, ...r.notes].join("; "),
    };
  };
}
