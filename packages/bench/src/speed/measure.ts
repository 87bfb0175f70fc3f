/**
 * Speed and memory of one model on one engine: inference latency (tinybench), clips/s, a training
 * step where the engine trains (tfjs backends, core's `trainStep`: SGD with momentum), tfjs
 * tensor bytes, and the process' peak RSS. Inputs are refgen-v1 (deterministic), weights are the
 * model's current values. An optional `interleave` callback runs another engine (the PyTorch peer)
 * between our chunks of runs, so both see the same machine load.
 */

import { inputShape, refgenInput, UserError, type VideoModel } from "@blvnet/core";
import {
  buildOnnx,
  defaultThreads,
  deviceOfBackend,
  formatPeak,
  formatPlacement,
  type GpuMemoryPeak,
  GpuMemorySampler,
  isOrtBackend,
  type NodePlacement,
  nvidiaGpus,
  OrtEngine,
  OrtTrainer,
  probeNodePlacement,
} from "@blvnet/engine-onnx";
import { backendThreads, initBackend, sgdOf, TfOps, tfForward, trainStep } from "@blvnet/engine-tfjs";
import * as tf from "@tensorflow/tfjs-core";
import { Bench } from "tinybench";
import { settle } from "./settle.js";

export const SPEED_BACKENDS = ["ort", "ort-webgpu", "ort-cuda", "tensorflow", "wasm", "cpu"] as const;
export type SpeedBackend = (typeof SPEED_BACKENDS)[number];

export function checkSpeedBackend(name: string): SpeedBackend {
  if (!(SPEED_BACKENDS as readonly string[]).includes(name)) {
    throw new UserError(`--backend ${name}: choose one of ${SPEED_BACKENDS.join(", ")}`);
  }
  return name as SpeedBackend;
}

export type SpeedPhase = "forward" | "train";

/** Called before our timed runs (warm-up only) and after each chunk of them (timed runs). */
export type InterleaveFn = (phase: SpeedPhase, warmup: number, iters: number) => Promise<void>;

export interface SpeedConfig {
  model: VideoModel;
  /** Clips per batch. */
  batch: number;
  backend: SpeedBackend;
  /** Compute threads (ORT intra-op threads; wasm pool size). */
  threads: number;
  warmup: number;
  iters: number;
  /** Also time training steps (tfjs: tf.variableGrads; onnxruntime: the compiled SGD step on the backend's device). */
  train: boolean;
  seed: number;
  /** Split the timed runs into this many chunks, calling `interleave` after each (default 1). */
  rounds?: number;
  interleave?: InterleaveFn;
  log?: (line: string) => void;
}

export interface LatencyStats {
  mean: number;
  p50: number;
  sd: number;
  min: number;
  max: number;
  samples: number;
}

export interface SpeedResult {
  backend: SpeedBackend;
  /** Threads actually used (wasm may fall back to 1). */
  threads: number;
  /** Model export + session creation (ORT) or weight upload + first run (tfjs), ms. */
  setupMs: number;
  latency: LatencyStats;
  clipsPerS: number;
  trainStepMs?: number;
  /** tfjs only: peak bytes of live tensors during one forward (weights included). */
  peakTensorBytes?: number;
  peakRssBytes: number;
  /** GPU backends: peak device memory over session creation and runs (nvidia-smi); null where it cannot be sampled. */
  gpuPeak?: GpuMemoryPeak | null;
  /** GPU backends: the GPU's name where nvidia-smi tells it (the device column of the rows). */
  device?: string;
  /** GPU backends: where onnxruntime placed the nodes (CPU fallbacks), from its own report. */
  placement?: NodePlacement | null;
  notes: string[];
}

/** The SGD settings of the timed training step (the PyTorch peer uses the same). */
export const SPEED_SGD = { lr: 0.001, momentum: 0.9 };

/** Training steps timed at most (each is many forward passes' worth of work). */
const MAX_TRAIN_STEPS = 5;

/** Peak resident set size of this process so far, bytes. */
export function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

const rssNow = () => `rss after runs=${(process.memoryUsage().rss / 2 ** 20).toFixed(0)}MiB`;

export function latencyStats(samples: number[]): LatencyStats {
  const s = [...samples].sort((a, b) => a - b);
  const n = s.length;
  const mean = s.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(s.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  const p50 = n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  return { mean, p50, sd, min: s[0], max: s[n - 1], samples: n };
}

/** Exactly `iters` timed runs (no warm-up) with tinybench; the per-run latencies in ms. */
async function timeRuns(name: string, fn: () => Promise<void>, iters: number): Promise<number[]> {
  const bench = new Bench({ iterations: iters, time: 0, warmup: false, retainSamples: true, throws: true });
  bench.add(name, fn);
  await bench.run();
  const r = bench.tasks[0].result;
  if (r.state !== "completed") throw new Error(`${name}: benchmark ended in state ${r.state}`);
  return [...(r.latency.samples ?? [])];
}

/** Warm-up, then the timed runs in `rounds` chunks with the interleaved engine between them (each turn after a settle). */
async function sample(cfg: SpeedConfig, phase: SpeedPhase, fn: () => Promise<void>, warmup: number, iters: number): Promise<LatencyStats> {
  for (let i = 0; i < warmup; i++) await fn();
  if (warmup > 0) await cfg.interleave?.(phase, warmup, 0);
  const rounds = Math.max(1, Math.min(cfg.rounds ?? 1, iters));
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const chunk = Math.floor(((r + 1) * iters) / rounds) - Math.floor((r * iters) / rounds);
    if (cfg.interleave) await settle();
    samples.push(...(await timeRuns(phase, fn, chunk)));
    if (cfg.interleave) await settle();
    await cfg.interleave?.(phase, 0, chunk);
  }
  return latencyStats(samples);
}

export function trainSteps(iters: number): number {
  return Math.max(1, Math.min(iters, MAX_TRAIN_STEPS));
}

export async function measureSpeed(cfg: SpeedConfig): Promise<SpeedResult> {
  if (!Number.isInteger(cfg.iters) || cfg.iters < 1) throw new UserError(`--iters must be a positive integer, got ${cfg.iters}`);
  if (!Number.isInteger(cfg.warmup) || cfg.warmup < 0) throw new UserError(`--warmup must be a non-negative integer, got ${cfg.warmup}`);
  cfg.model.eval();
  return isOrtBackend(cfg.backend) ? measureOrt(cfg) : measureTfjs(cfg);
}

async function measureOrt(cfg: SpeedConfig): Promise<SpeedResult> {
  const { model, batch } = cfg;
  const shape = inputShape(model.inputSpec, batch);
  const input = refgenInput(shape);
  const device = deviceOfBackend(cfg.backend) ?? "cpu";
  // Peak GPU memory over session creation + runs; null (n/a) without nvidia-smi.
  const gpuSampler = device !== "cpu" ? await GpuMemorySampler.start() : null;
  const t0 = performance.now();
  let engine: OrtEngine;
  try {
    engine = await OrtEngine.create(model, {
      clips: batch,
      backend: cfg.backend as "ort" | "ort-webgpu" | "ort-cuda",
      threads: cfg.threads,
    });
  } catch (e) {
    await gpuSampler?.stop();
    throw e;
  }
  const setupMs = performance.now() - t0;
  try {
    cfg.log?.(`${cfg.backend}: session ready in ${(setupMs / 1000).toFixed(1)} s; timing ${cfg.warmup} warm-up + ${cfg.iters} runs`);
    const latency = await sample(cfg, "forward", async () => void (await engine.run(input, shape)), cfg.warmup, cfg.iters);
    const notes = [rssNow()];
    // how TAM's blends ran (bLVNet-TAM on the CPU EP): one custom op each, or depthwise convs and shifts
    if (engine.rowBlend) notes.push("tam blend=RowBlend op");
    let trainStepMs: number | undefined;
    if (cfg.train) {
      // The compiled SGD step (one ONNX graph) on the same device; on WebGPU its state stays there.
      model.train();
      const trainer = await OrtTrainer.create(model, { momentum: SPEED_SGD.momentum, threads: cfg.threads, inputShape: shape, device });
      try {
        const labels = Int32Array.from({ length: batch }, (_, i) => i % model.numClasses);
        // one untimed step also compiles the device pipelines; the weights of `model` are not touched
        trainStepMs = (
          await sample(cfg, "train", async () => void (await trainer.step(input, labels, SPEED_SGD.lr)), 1, trainSteps(cfg.iters))
        ).mean;
        if (device === "webgpu") notes.push(`train state ${trainer.resident ? "resident on the device" : "host round trip"}`);
      } finally {
        model.eval();
        await trainer.release();
      }
    }
    let gpuPeak: GpuMemoryPeak | null | undefined;
    let placement: NodePlacement | null | undefined;
    if (device !== "cpu") {
      gpuPeak = gpuSampler ? await gpuSampler.stop() : null;
      notes.push(`gpu peak MiB=${formatPeak(gpuPeak)}${cfg.train ? " (inference + training step)" : ""}`);
    }
    // Nodes the GPU EP left to the CPU EP, from onnxruntime's own placement report (a child process).
    if (device !== "cpu") {
      try {
        placement = await probeNodePlacement(buildOnnx(model, { clips: batch }).bytes, device);
        notes.push(`nodes: ${formatPlacement(placement)}`);
      } catch (e) {
        placement = null;
        notes.push(`nodes: placement unknown (${(e as Error).message.split("\n")[0]})`);
      }
    }
    const gpuName = device !== "cpu" ? (await nvidiaGpus())?.[0]?.name : undefined;
    return {
      backend: cfg.backend,
      threads: engine.threads,
      ...(gpuName ? { device: gpuName } : {}),
      setupMs,
      latency,
      clipsPerS: (1000 * batch) / latency.mean,
      trainStepMs,
      peakRssBytes: peakRssBytes(),
      gpuPeak,
      placement,
      notes,
    };
  } finally {
    await engine.release();
  }
}

async function measureTfjs(cfg: SpeedConfig): Promise<SpeedResult> {
  const { model, batch } = cfg;
  const backend = await initBackend(cfg.backend, { threads: cfg.threads });
  const threads = backendThreads() ?? cfg.threads;
  const shape = inputShape(model.inputSpec, batch);
  const input = refgenInput(shape);
  const ops = new TfOps({ seed: cfg.seed });
  const forward = async () => {
    const y = tf.tidy(() => tfForward(model, ops, ops.input(input, shape)));
    await y.data();
    y.dispose();
  };
  const t0 = performance.now();
  await forward(); // uploads the weights once
  const setupMs = performance.now() - t0;
  cfg.log?.(`${backend}: first forward in ${(setupMs / 1000).toFixed(1)} s; timing ${cfg.warmup} warm-up + ${cfg.iters} runs`);
  const latency = await sample(cfg, "forward", forward, cfg.warmup, cfg.iters);
  const peakTensorBytes = (await tf.profile(forward)).peakBytes;

  let trainStepMs: number | undefined;
  if (cfg.train) {
    const trainOps = new TfOps({ trainable: true, seed: cfg.seed });
    const labels = Int32Array.from({ length: batch }, (_, i) => i % model.numClasses);
    const x = trainOps.input(input, shape);
    model.train();
    try {
      // one untimed step also creates the variables and the momentum buffers
      const step = async () => void trainStep(model, trainOps, x, labels, SPEED_SGD);
      trainStepMs = (await sample(cfg, "train", step, 1, trainSteps(cfg.iters))).mean;
    } finally {
      model.eval();
      x.dispose();
      sgdOf(trainOps.store).dispose();
      trainOps.store.dispose();
    }
  }
  const notes = [rssNow()];
  ops.store.dispose();
  return {
    backend: cfg.backend,
    threads,
    setupMs,
    latency,
    clipsPerS: (1000 * batch) / latency.mean,
    trainStepMs,
    peakTensorBytes,
    peakRssBytes: peakRssBytes(),
    notes,
  };
}

/** Re-exported for runners that default to every core, like `bench speed`. */
export { defaultThreads };
