/**
 * One `bench speed` measurement: our engine, optionally side by side with the official PyTorch code
 * (runs interleaved so both see the same machine load), and the result rows with their ratio notes.
 */
import { resolve } from "node:path";
import { shutdownBackend } from "@blvnet/engine-tfjs";
import type { LogSink } from "@blvnet/train";
import type { Row } from "../sweep/rows.js";
import { latencyStats, measureSpeed, type SpeedBackend, type SpeedPhase, type SpeedResult, trainSteps } from "./measure.js";
import { type PeerDevice, PeerSession } from "./peer.js";
import { type PeerMeasurement, peerRow, type SpeedRowContext, speedRow } from "./rows.js";

export interface SpeedRunConfig extends SpeedRowContext {
  backend: SpeedBackend;
  threads: number;
  warmup: number;
  iters: number;
  /** Also time training steps. */
  train: boolean;
  /** Also run the official code from this checkout (`python`: the interpreter with PyTorch). */
  peer?: { src: string; python?: string; rounds?: number; device?: PeerDevice };
  log?: LogSink;
}

export interface SpeedRunResult {
  ours: SpeedResult;
  peer: PeerMeasurement | null;
  /** PyTorch / ours mean latency and training-step time (with a peer). */
  ratios: { latency: number; trainStep?: number } | null;
  /** One row per engine measured, in the results schema. */
  rows: Row[];
}

const threadsLabel = (n: number) => `${n} thread${n === 1 ? "" : "s"}`;

export async function runSpeed(cfg: SpeedRunConfig): Promise<SpeedRunResult> {
  const log = cfg.log ?? ((m: string) => console.error(m));
  const { model, batch, seed, threads } = cfg;
  let ours: SpeedResult;
  let peer: PeerMeasurement | null = null;
  let session: PeerSession | null = null;
  try {
    const samples: Record<SpeedPhase, number[]> = { forward: [], train: [] };
    const source = cfg.peer ? resolve(cfg.peer.src) : "";
    if (cfg.peer) {
      log(`pytorch: building the official model from ${source} (${threadsLabel(threads)})`);
      session = await PeerSession.start({
        model: cfg.modelName,
        options: { ...model.options },
        batch,
        threads,
        seed,
        src: source,
        python: cfg.peer.python,
        device: cfg.peer.device,
      });
    }
    const s = session;
    ours = await measureSpeed({
      model,
      batch,
      backend: cfg.backend,
      threads,
      warmup: cfg.warmup,
      iters: cfg.iters,
      train: cfg.train,
      seed,
      rounds: s ? (cfg.peer?.rounds ?? cfg.iters) : 1,
      interleave: s ? async (phase, w, n) => void samples[phase].push(...(await s.run(phase, w, n))) : undefined,
      log,
    });
    if (s) {
      // Engines that do not train (onnxruntime): the peer's training steps run on their own.
      if (cfg.train && !samples.train.length) samples.train.push(...(await s.run("train", 1, trainSteps(cfg.iters))));
      const info = await s.close();
      const trainStep = samples.train.length ? latencyStats(samples.train) : undefined;
      peer = { info, source, latency: latencyStats(samples.forward), trainStep };
    }
  } finally {
    session?.kill();
    await shutdownBackend();
  }
  if (!peer) return { ours, peer, ratios: null, rows: [speedRow(cfg, ours)] };
  const ratios = {
    latency: peer.latency.mean / ours.latency.mean,
    trainStep: ours.trainStepMs !== undefined && peer.trainStep ? peer.trainStep.mean / ours.trainStepMs : undefined,
  };
  const notes = [`pytorch/${cfg.backend} latency ratio=${ratios.latency.toFixed(3)}`];
  if (ratios.trainStep !== undefined) notes.push(`pytorch/${cfg.backend} train-step ratio=${ratios.trainStep.toFixed(3)}`);
  return { ours, peer, ratios, rows: [speedRow(cfg, ours, notes), peerRow(cfg, peer, notes)] };
}
