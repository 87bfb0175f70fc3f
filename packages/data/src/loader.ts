/**
 * The batched loader: an async iterator of batches for one epoch at a time. It keeps up to
 * `workers` samples decoding at once (JPEG decode/resize runs on sharp's native thread pool, videos
 * in parallel ffmpeg processes) and starts samples up to `prefetch` batches ahead of the consumer,
 * so the model does not wait on I/O. Bad samples are skipped and counted (or fatal with `strict`);
 * the epoch always runs to its end. All randomness derives from (seed, epoch, sample index), so a
 * run is reproducible whatever order the decodes finish in.
 */
import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { deriveSeed, IMAGENET_MEAN, IMAGENET_STD, Rng, UserError } from "@blvnet/core";
import { type ClipLayout, type ClipSpec, loadSample, viewLength, viewsPerSample } from "./clip.js";
import type { Dataset } from "./dataset.js";
import { type BadSample, DataError, formatBadSample } from "./errors.js";
import { parseTemplate } from "./frames.js";
import type { SamplingMode } from "./sampling.js";

export interface LoaderOptions {
  /** Videos per batch (default 8). */
  batch?: number;
  /** Frames per clip (segments for segment sampling; default 8). */
  frames?: number;
  /** Square input size (default 224). */
  size?: number;
  /** Training augmentation and sampling (default true); false = test-time centre/three crops. */
  train?: boolean;
  seed?: number;
  /** Samples decoding at once (default: 2 x CPU cores). */
  workers?: number;
  /** Batches decoded ahead of the consumer (default 2). */
  prefetch?: number;
  /** "N(TC)HW" = the official (N, T*3, H, W), channel t*3+c (default); "NCTHW" = (N, 3, T, H, W) for 3D models. */
  layout?: ClipLayout;
  /** "segment" (TSN, default) or "dense" (I3D-style, stride `interval`). */
  sampling?: SamplingMode;
  interval?: number;
  /** Segment sampling in training: one random offset for all segments (bLVNet-TAM's sampler) instead of one per segment (TSN, default). */
  sharedOffset?: boolean;
  /** Test-time clips per video (default 1). */
  clips?: number;
  /** Test-time crops per clip: 1 (centre) or 3 (default 1). */
  crops?: 1 | 3;
  /** Test-time short side before cropping (default int(size / 0.875 + 0.5)). */
  scaleSize?: number;
  /** Random horizontal flip in training (default: the dataset's `flip`, false for Something-Something). */
  flip?: boolean;
  /** Multi-scale crop scales (default [1, .875, .75, .66]). */
  scales?: number[];
  mean?: readonly number[];
  std?: readonly number[];
  /** Shuffle each epoch (default: `train`). */
  shuffle?: boolean;
  /** Drop a last, incomplete batch (default false). */
  dropLast?: boolean;
  /** Bad samples throw a DataError instead of being skipped. */
  strict?: boolean;
  /**
   * Stop (a one-line UserError) once more samples than this were skipped in an epoch, counting the
   * entries `openDataset` rejected. Default: no limit.
   */
  maxSkipped?: number;
  /** Called for each sample skipped while loading. */
  onBadSample?: (bad: BadSample) => void;
  /** Short side that videos are scaled to before cropping (default 256, as the official extraction). */
  videoShortSide?: number;
}

export interface Batch {
  /** The clips in `shape`'s layout; rows are video-major, `views` rows per video. */
  input: Float32Array;
  /** [N*views, T*3, H, W] ("N(TC)HW") or [N*views, 3, T, H, W] ("NCTHW"). */
  shape: number[];
  /** One label per video (N), -1 when unlabeled. */
  labels: Int32Array;
  ids: string[];
  /** Views (clips x crops) per video: average the model's outputs over each group of `views` rows. */
  views: number;
}

export interface LoaderStats {
  epoch: number;
  batches: number;
  samples: number;
  /** Views produced (samples x views). */
  clips: number;
  /** Samples skipped this epoch, including the entries `openDataset` already rejected. */
  skipped: number;
  /** The skipped samples, with file and line (the first 1000). */
  bad: BadSample[];
  /** Wall time of the epoch so far. */
  seconds: number;
  /** Time the consumer spent waiting for data. */
  waitSeconds: number;
  clipsPerSecond: number;
}

export interface Loader extends AsyncIterable<Batch> {
  readonly dataset: Dataset;
  readonly spec: Readonly<ClipSpec>;
  readonly batchesPerEpoch: number;
  /** Statistics of the current (or last) epoch. */
  readonly stats: LoaderStats;
  /** Iterate one given epoch (the plain iterator runs epochs 0, 1, 2, ... in turn). */
  epoch(n: number): AsyncGenerator<Batch>;
}

const MAX_REPORTED = 1000;

// sharp decodes on libuv's thread pool, which has 4 threads unless UV_THREADPOOL_SIZE says otherwise;
// libuv reads it when the pool first starts, so widen it to the core count at import when unset.
if (process.env.UV_THREADPOOL_SIZE === undefined) process.env.UV_THREADPOOL_SIZE = String(Math.max(4, availableParallelism()));

type Loaded = { ok: true; index: number; data: Float32Array } | { ok: false; bad: BadSample } | { ok: false; fatal: Error };

/** Runs at most `limit` tasks at once. */
class Semaphore {
  private active = 0;
  private queue: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.queue.push(r));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new UserError(`loader option ${name} must be a positive integer, got ${v}`);
  return v;
}

export function createLoader(dataset: Dataset, opts: LoaderOptions = {}): Loader {
  const train = opts.train ?? true;
  const spec: ClipSpec = {
    frames: positiveInt("frames", opts.frames ?? 8),
    size: positiveInt("size", opts.size ?? 224),
    layout: opts.layout ?? "N(TC)HW",
    train,
    sampling: {
      mode: opts.sampling ?? "segment",
      frames: opts.frames ?? 8,
      interval: positiveInt("interval", opts.interval ?? 2),
      clips: positiveInt("clips", opts.clips ?? 1),
      sharedOffset: opts.sharedOffset ?? false,
    },
    crops: opts.crops ?? 1,
    scaleSize: opts.scaleSize,
    flip: opts.flip ?? dataset.flip,
    scales: opts.scales,
    mean: opts.mean ?? IMAGENET_MEAN,
    std: opts.std ?? IMAGENET_STD,
    template: dataset.template,
    videoShortSide: positiveInt("videoShortSide", opts.videoShortSide ?? 256),
  };
  if (spec.crops !== 1 && spec.crops !== 3) throw new UserError(`loader option crops must be 1 or 3, got ${String(spec.crops)}`);
  if (spec.layout !== "N(TC)HW" && spec.layout !== "NCTHW")
    throw new UserError(`loader option layout must be "N(TC)HW" or "NCTHW", got "${String(spec.layout)}"`);
  parseTemplate(spec.template);
  const batch = positiveInt("batch", opts.batch ?? 8);
  const workers = positiveInt("workers", opts.workers ?? 2 * availableParallelism());
  const prefetch = Math.max(0, Math.floor(opts.prefetch ?? 2));
  const seed = opts.seed ?? 0;
  const shuffle = opts.shuffle ?? train;
  const strict = opts.strict ?? false;
  if (strict && dataset.problems.length > 0) throw new DataError(dataset.problems[0]!);
  const maxSkipped = opts.maxSkipped ?? Infinity;
  const checkSkipped = (skipped: number, last: BadSample) => {
    if (skipped > maxSkipped) {
      throw new UserError(
        `${skipped} of ${dataset.records.length + dataset.problems.length} samples skipped, more than the ${maxSkipped} allowed (--max-skipped); latest: ${formatBadSample(last)}`,
      );
    }
  };
  if (dataset.problems.length > 0) checkSkipped(dataset.problems.length, dataset.problems.at(-1)!);
  const views = viewsPerSample(spec);
  const len = viewLength(spec);
  const n = dataset.records.length;

  const freshStats = (epoch: number): LoaderStats => ({
    epoch,
    batches: 0,
    samples: 0,
    clips: 0,
    skipped: dataset.problems.length,
    bad: dataset.problems.slice(0, MAX_REPORTED),
    seconds: 0,
    waitSeconds: 0,
    clipsPerSecond: 0,
  });
  let stats = freshStats(0);
  let nextEpoch = 0;

  // Per-sample arrays are copied into each batch, then recycled: fewer multi-MB allocations for the GC.
  const spare: Float32Array[] = [];
  const alloc = (length: number) => {
    const a = spare.pop();
    return a && a.length === length ? a : new Float32Array(length);
  };

  async function loadOne(index: number, epoch: number): Promise<Loaded> {
    const rec = dataset.records[index]!;
    try {
      const data = await loadSample(rec, spec, new Rng(deriveSeed(seed, epoch, index)), alloc);
      return { ok: true, index, data };
    } catch (e) {
      // A UserError is a setup problem (ffmpeg missing), not a bad sample: it ends the epoch.
      if (e instanceof UserError) return { ok: false, fatal: e };
      return { ok: false, bad: { ...rec.where, id: rec.id, reason: (e as Error).message } };
    }
  }

  function assemble(items: { index: number; data: Float32Array }[]): Batch {
    const input = new Float32Array(items.length * views * len);
    items.forEach((it, k) => input.set(it.data, k * views * len));
    for (const it of items) if (spare.length < workers + batch) spare.push(it.data);
    const rows = items.length * views;
    const shape = spec.layout === "NCTHW" ? [rows, 3, spec.frames, spec.size, spec.size] : [rows, spec.frames * 3, spec.size, spec.size];
    return {
      input,
      shape,
      labels: Int32Array.from(items, (it) => dataset.records[it.index]!.label),
      ids: items.map((it) => dataset.records[it.index]!.id),
      views,
    };
  }

  async function* runEpoch(epoch: number): AsyncGenerator<Batch> {
    stats = freshStats(epoch);
    const started = performance.now();
    const order = Array.from({ length: n }, (_, i) => i);
    if (shuffle) new Rng(deriveSeed(seed, epoch, 0x5eed)).shuffle(order);
    const sem = new Semaphore(workers);
    const pending: (Promise<Loaded> | undefined)[] = new Array(n);
    const ahead = workers + prefetch * batch;
    let scheduled = 0;
    let items: { index: number; data: Float32Array }[] = [];
    const emit = (): Batch => {
      const b = assemble(items);
      items = [];
      stats.batches++;
      stats.seconds = (performance.now() - started) / 1000;
      stats.clipsPerSecond = stats.clips / stats.seconds;
      return b;
    };
    for (let pos = 0; pos < n; pos++) {
      for (; scheduled < Math.min(n, pos + ahead); scheduled++) {
        const index = order[scheduled]!;
        pending[scheduled] = sem.run(() => loadOne(index, epoch));
      }
      const t0 = performance.now();
      const r = await pending[pos]!;
      stats.waitSeconds += (performance.now() - t0) / 1000;
      pending[pos] = undefined;
      if (!r.ok) {
        if ("fatal" in r) throw r.fatal;
        if (strict) throw new DataError(r.bad);
        stats.skipped++;
        if (stats.bad.length < MAX_REPORTED) stats.bad.push(r.bad);
        opts.onBadSample?.(r.bad);
        checkSkipped(stats.skipped, r.bad);
        continue;
      }
      items.push(r);
      stats.samples++;
      stats.clips += views;
      if (items.length === batch) yield emit();
    }
    if (items.length > 0 && !opts.dropLast) yield emit();
    stats.seconds = (performance.now() - started) / 1000;
    stats.clipsPerSecond = stats.seconds > 0 ? stats.clips / stats.seconds : 0;
  }

  return {
    dataset,
    spec,
    get batchesPerEpoch() {
      return opts.dropLast ? Math.floor(n / batch) : Math.ceil(n / batch);
    },
    get stats() {
      return stats;
    },
    epoch: (e: number) => runEpoch(e),
    [Symbol.asyncIterator]: () => runEpoch(nextEpoch++),
  };
}
