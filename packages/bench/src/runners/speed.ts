/**
 * Measured speed rows: inference latency and clips/s, a training step where asked (tfjs backends
 * and onnxruntime's compiled step), peak GPU memory on GPU backends. Backends `pytorch` and
 * `pytorch-cuda` time the official PyTorch code (peer sources given) on the CPU or the GPU.
 */
import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { fillDeterministic, UserError } from "@blvnet/core";
import { checkSpeedBackend, defaultThreads, latencyStats, measureSpeed, trainSteps } from "../speed/measure.js";
import { PEER_MODELS, PeerSession } from "../speed/peer.js";
import { gpuPeakBytes } from "../speed/rows.js";
import type { RunnerResult } from "../sweep/run.js";
import type { Job } from "../sweep/spec.js";
import { depthOf, jobModel, temporalOf } from "./model.js";

export interface SpeedSettings {
  warmup: number;
  iters: number;
  train: boolean;
  threads?: number;
  /** Checkouts of the official code (IBM/bLVNet-TAM, mit-han-lab/temporal-shift-module) for pytorch / pytorch-cuda jobs. */
  peerSrc?: string[];
  peerPython?: string;
  /** Start no job after this time (ms since the epoch): it fails with "over the time budget" (a rerun continues). */
  deadline?: number;
}

export const PEER_BACKENDS = ["pytorch", "pytorch-cuda"] as const;
export const isPeerBackend = (b: string) => (PEER_BACKENDS as readonly string[]).includes(b);

/** The checkout among `srcs` that holds the official code of `model`. */
export function peerSourceFor(model: string, srcs: string[]): string {
  const marker = model === "blvnet-tam" ? join("core", "models", "blvnet_tam.py") : join("ops", "models.py");
  const src = srcs.find((d) => existsSync(join(d, marker)));
  if (!src) throw new UserError(`no --peer-src holds ${marker} (the official code of ${model}); given: ${srcs.join(", ") || "none"}`);
  return resolve(src);
}

export function speedRunner(s: SpeedSettings) {
  return async (job: Job): Promise<RunnerResult> => {
    if (s.deadline !== undefined && Date.now() > s.deadline)
      throw new Error("not started: over the time budget (run the same command again to continue)");
    const model = jobModel(job, { dropout: 0 });
    fillDeterministic(model); // speed does not depend on values; refgen keeps the inputs finite
    if (isPeerBackend(job.backend)) return peerJob(job, model, s);
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
      ...(r.device ? { device: r.device } : {}),
      metrics: {
        latency_ms: +r.latency.mean.toFixed(3),
        clips_per_s: +r.clipsPerS.toFixed(4),
        train_step_ms: r.trainStepMs === undefined ? "" : +r.trainStepMs.toFixed(3),
        peak_tensor_bytes: r.peakTensorBytes ?? "",
        // the process peak RSS covers every earlier job of the sweep: only `bench speed` (one model per process) reports it
        peak_rss_bytes: "",
        // GPU backends: sampled over this job only (nvidia-smi), blank without it
        peak_gpu_bytes: gpuPeakBytes(r),
      },
      // the machine's load when the job ended: speed figures from a busy machine are flagged by it
      note: [
        `load1=${loadavg()[0].toFixed(2)}`,
        `p50=${r.latency.p50.toFixed(2)}ms sd=${r.latency.sd.toFixed(2)}ms n=${r.latency.samples}`,
        `setup=${r.setupMs.toFixed(0)}ms`,
        ...r.notes,
      ].join("; "),
    };
  };
}

/** The official PyTorch code on this job's configuration (one adapter process per job). */
async function peerJob(job: Job, model: ReturnType<typeof jobModel>, s: SpeedSettings): Promise<RunnerResult> {
  const src = peerSourceFor(job.model, s.peerSrc ?? []);
  const threads = s.threads ?? defaultThreads();
  const device = job.backend === "pytorch-cuda" ? "cuda" : "cpu";
  const session = await PeerSession.start({
    model: job.model,
    options: { ...model.options },
    batch: job.batch,
    threads,
    seed: 0,
    src,
    python: s.peerPython,
    device,
  });
  try {
    const latency = latencyStats(await session.run("forward", s.warmup, s.iters));
    const train = s.train ? latencyStats(await session.run("train", 1, trainSteps(s.iters))) : undefined;
    const info = await session.close();
    return {
      modelId: model.id,
      depth: depthOf(model),
      temporal: temporalOf(model),
      threads: info.threads,
      ...(info.gpu_name ? { device: info.gpu_name } : {}),
      metrics: {
        latency_ms: +latency.mean.toFixed(3),
        clips_per_s: +((1000 * job.batch) / latency.mean).toFixed(4),
        train_step_ms: train ? +train.mean.toFixed(3) : "",
        peak_tensor_bytes: "",
        peak_rss_bytes: info.peak_rss_bytes,
        peak_gpu_bytes: info.peak_gpu_bytes ?? "",
      },
      note: [
        `official PyTorch code: ${PEER_MODELS[job.model] ?? job.model}`,
        `torch ${info.torch_version}`,
        ...(device === "cuda" ? [`cudnn.benchmark=${info.cudnn_benchmark} tf32=${info.allow_tf32}`] : []),
        `p50=${latency.p50.toFixed(2)}ms sd=${latency.sd.toFixed(2)}ms n=${latency.samples}`,
        `load1=${loadavg()[0].toFixed(2)}`,
      ].join("; "),
    };
  } finally {
    session.kill();
  }
}
