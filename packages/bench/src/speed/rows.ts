/** Result rows of `bench speed` in the shared results schema (sweep/rows.ts), one per engine measured. */
import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import type { VideoModel } from "@blvnet/core";
import { provenance } from "@blvnet/train";
import type { Row } from "../sweep/rows.js";
import { jobKey } from "../sweep/spec.js";
import { readRows, writeRows } from "../sweep/store.js";
import type { LatencyStats, SpeedResult } from "./measure.js";
import { PEER_MODELS, type PeerInfo } from "./peer.js";

/** What `bench speed --peer pytorch` measured of the official code. */
export interface PeerMeasurement {
  info: PeerInfo;
  latency: LatencyStats;
  trainStep?: LatencyStats;
  /** The checkout the official code came from. */
  source: string;
}

export interface SpeedRowContext {
  modelName: string;
  model: VideoModel;
  batch: number;
  seed: number;
  /** "refgen-v1" or the weights file. */
  weights: string;
}

/** The model options that are not frames/size (those have their own columns). */
function variantOptions(model: VideoModel): Record<string, number | string | boolean> {
  const out: Record<string, number | string | boolean> = {};
  for (const [k, v] of Object.entries(model.options)) {
    if (k === "frames" || k === "size") continue;
    if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") out[k] = v;
  }
  return out;
}

function idColumns(ctx: SpeedRowContext, backend: string): Row {
  const { model } = ctx;
  const frames = model.inputSpec.frames;
  const size = model.inputSpec.size;
  const options = variantOptions(model);
  return {
    kind: "speed",
    key: jobKey({ kind: "speed", model: ctx.modelName, options, frames, size, batch: ctx.batch, backend, dataset: "", seed: ctx.seed }),
    model: ctx.modelName,
    model_id: model.id,
    depth: typeof options.depth === "number" ? options.depth : "",
    frames,
    size,
    batch: ctx.batch,
    dataset: "",
    seed: ctx.seed,
  };
}

/** The GPU peak of a measurement in bytes: the process' own (nvidia-smi compute apps), else the device's rise above its baseline; blank where none was sampled. */
export function gpuPeakBytes(r: Pick<SpeedResult, "gpuPeak">): number | "" {
  const mib = r.gpuPeak ? (r.gpuPeak.processPeakMiB ?? r.gpuPeak.devicePeakMiB) : null;
  return mib === null || mib === undefined ? "" : mib * 2 ** 20;
}

const loadNote = () => `load1=${loadavg()[0].toFixed(2)}`;

export function speedRow(ctx: SpeedRowContext, r: SpeedResult, extraNotes: string[] = []): Row {
  const notes = [
    `p50=${r.latency.p50.toFixed(2)}ms sd=${r.latency.sd.toFixed(2)}ms n=${r.latency.samples}`,
    `setup=${r.setupMs.toFixed(0)}ms`,
    `weights=${ctx.weights}`,
    loadNote(),
    ...r.notes,
    ...extraNotes,
  ];
  return {
    ...provenance({ backend: r.backend, threads: r.threads, seed: ctx.seed, ...(r.device ? { device: r.device } : {}) }),
    ...idColumns(ctx, r.backend),
    latency_ms: r.latency.mean,
    clips_per_s: r.clipsPerS,
    train_step_ms: r.trainStepMs ?? "",
    peak_tensor_bytes: r.peakTensorBytes ?? "",
    peak_rss_bytes: r.peakRssBytes,
    peak_gpu_bytes: gpuPeakBytes(r),
    note: notes.join("; "),
  };
}

export function peerRow(ctx: SpeedRowContext, p: PeerMeasurement, extraNotes: string[] = []): Row {
  const l = p.latency;
  const notes = [
    `official PyTorch code: ${PEER_MODELS[ctx.modelName] ?? ctx.modelName}`,
    `torch ${p.info.torch_version}, python ${p.info.python_version}`,
    ...(p.info.device === "cuda"
      ? [`cuda ${p.info.gpu_name ?? ""} cudnn.benchmark=${p.info.cudnn_benchmark} tf32=${p.info.allow_tf32}`]
      : []),
    `p50=${l.p50.toFixed(2)}ms sd=${l.sd.toFixed(2)}ms n=${l.samples}`,
    "random weights and input",
    loadNote(),
    ...extraNotes,
  ];
  return {
    ...provenance({
      backend: p.info.device === "cuda" ? "pytorch-cuda" : "pytorch",
      threads: p.info.threads,
      seed: ctx.seed,
      ...(p.info.gpu_name ? { device: p.info.gpu_name } : {}),
    }),
    ...idColumns(ctx, p.info.device === "cuda" ? "pytorch-cuda" : "pytorch"),
    latency_ms: l.mean,
    clips_per_s: (1000 * ctx.batch) / l.mean,
    train_step_ms: p.trainStep?.mean ?? "",
    peak_tensor_bytes: "",
    peak_rss_bytes: p.info.peak_rss_bytes,
    peak_gpu_bytes: p.info.peak_gpu_bytes ?? "",
    note: notes.join("; "),
  };
}

/** Add rows to a results CSV (replacing rows with the same key), atomically. */
export function appendRows(file: string, rows: Row[]): void {
  const keep = existsSync(file) ? readRows(file).filter((r) => !rows.some((n) => n.key === r.key)) : [];
  writeRows(file, [...keep, ...rows]);
}
