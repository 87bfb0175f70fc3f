/**
 * The GPU reproduction as one sweep (`blvnet reproduce --gpu`): speed and memory of bLVNet-TAM-50/101
 * at f8x2..f32x2 (16..64 input frames) and TSM/TSN-R50 at 8..64 frames, 224x224, batch 1 and 8,
 * inference and one SGD training step, on one GPU backend (ort-webgpu by default, or ort-cuda), and
 * with peer sources the official PyTorch code on the same GPU (backend pytorch-cuda). 16 model
 * configurations x 2 batches = 32 jobs per engine. Protocol of results/reference/official-h100.csv:
 * 3 warm-up + 10 timed inference runs (5 timed training steps). The sweep stops starting jobs once
 * `budgetS` has passed (the rest fail with "over the time budget", and a second run with the same
 * --out continues), so one call fits the 8-minute budget of a lent GPU; every model's smallest
 * configuration runs first, so a cut sweep still compares all four.
 */
import type { SweepSpec } from "./spec.js";

export const GPU_BLV_FRAMES = [16, 32, 48, 64]; // f8x2, f16x2, f24x2, f32x2
export const GPU_BASELINE_FRAMES = [8, 16, 32, 64];
/** Wall seconds after which the GPU sweep starts no new job (8 minutes minus a margin for setup and publish). */
export const GPU_BUDGET_S = 420;

export function gpuSpeedSpec(o: { backend?: string; peer?: boolean; iters?: number; warmup?: number; budgetS?: number } = {}): SweepSpec {
  return {
    name: "speed-gpu",
    kinds: ["speed"],
    frames: GPU_BLV_FRAMES,
    sizes: [224],
    batches: [1, 8],
    backends: [o.backend ?? "ort-webgpu", ...(o.peer ? ["pytorch-cuda"] : [])],
    models: [
      { model: "blvnet-tam", options: { depth: 50 } },
      { model: "tsm", options: { depth: 50 }, frames: GPU_BASELINE_FRAMES },
      { model: "tsn", options: { depth: 50 }, frames: GPU_BASELINE_FRAMES },
      { model: "blvnet-tam", options: { depth: 101 } },
    ],
    settings: { warmup: o.warmup ?? 3, iters: o.iters ?? 10, train: true, budgetS: o.budgetS ?? GPU_BUDGET_S },
    order: "smallest-first",
  };
}

export interface GpuBudgetInput {
  /** Seconds per job for our engine before timing: ONNX export/step-graph build + session creation + first run (shader compile). */
  setupS: number;
  /** Mean inference and training-step latency per job, seconds. */
  inferS: number;
  trainS: number;
  /** Peer seconds per job (build + both measurements); 0 without a peer. */
  peerS: number;
  jobs?: number;
  warmup?: number;
  iters?: number;
}

/** Wall seconds of the sweep: jobs x (2 sessions' setup + (warmup + iters) inference + 6 training steps + peer). */
export function estimateGpuSweepSeconds(b: GpuBudgetInput): number {
  const jobs = b.jobs ?? 32;
  const runs = (b.warmup ?? 3) + (b.iters ?? 10);
  return jobs * (2 * b.setupS + runs * b.inferS + 6 * b.trainS + b.peerS);
}
