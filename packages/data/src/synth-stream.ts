/**
 * The synthetic benchmark straight into batches, without JPEG files: `createSynthLoader` renders
 * clips in memory (renderClip) and normalises them like the file loader, behind the same Loader
 * interface, so training and evaluation code take it unchanged. Rendering a 32x32 8-frame clip takes
 * well under a millisecond, ~30x less than decoding its JPEG frames through the file loader, so
 * training can see new clips every epoch (`fresh`) at no cost.
 *
 * Clip k of a split is rendered from deriveSeed(seed, splitKey, k) with label k % classes, exactly as
 * `synthesize` renders clip k of that split, so epoch 0 (and every epoch without `fresh`) sees the
 * clips of the on-disk set with the same settings, minus the JPEG rounding. With `fresh`, epoch e > 0
 * renders new clips from deriveSeed(seed, splitKey, k, e). Train and val clips never coincide (keys 1
 * and 2). No crop or flip augmentation: every clip is already a new random scene.
 */
import { deriveSeed, IMAGENET_MEAN, IMAGENET_STD, Rng, UserError } from "@blvnet/core";
import type { ClipLayout, ClipSpec } from "./clip.js";
import type { Dataset } from "./dataset.js";
import { DEFAULT_TEMPLATE } from "./frames.js";
import type { Batch, Loader, LoaderStats } from "./loader.js";
import { renderClip, SYNTH_MAX_LEVEL } from "./render.js";
import { resolveSynthClasses, SYNTH_DEFAULT_LEVEL } from "./synth.js";

export interface SynthLoaderOptions {
  /** Class names (default: all 10); label = position in this list. */
  classes?: readonly string[];
  /** "train" (clips keyed 1, shuffled) or "val" (keyed 2, in order), as `synthesize` writes them. */
  split: "train" | "val";
  /** Clips per class (per epoch). */
  perClass: number;
  /** Render new training clips every epoch (default false: the same clips every epoch). */
  fresh?: boolean;
  level?: number;
  /** Frames per clip (rendered = fed: no temporal sampling). */
  frames: number;
  /** Frame side in pixels (rendered = fed: no crop). */
  size: number;
  batch: number;
  seed: number;
  layout?: ClipLayout;
  mean?: readonly number[];
  std?: readonly number[];
  /** Shuffle each epoch (default: train). */
  shuffle?: boolean;
}

const SPLIT_KEY = { train: 1, val: 2 } as const;

export function createSynthLoader(opts: SynthLoaderOptions): Loader {
  const classes = resolveSynthClasses(opts.classes);
  const level = opts.level ?? SYNTH_DEFAULT_LEVEL;
  if (!Number.isInteger(level) || level < 0 || level > SYNTH_MAX_LEVEL)
    throw new UserError(`synth loader: level must be in 0..${SYNTH_MAX_LEVEL}, got ${level}`);
  for (const [k, v] of Object.entries({ perClass: opts.perClass, frames: opts.frames, size: opts.size, batch: opts.batch })) {
    if (!Number.isInteger(v) || v < 1) throw new UserError(`synth loader: ${k} must be a positive integer, got ${v}`);
  }
  const { frames: T, size: S, batch, seed, split } = opts;
  const layout = opts.layout ?? "N(TC)HW";
  const mean = opts.mean ?? IMAGENET_MEAN;
  const std = opts.std ?? IMAGENET_STD;
  const shuffle = opts.shuffle ?? split === "train";
  const fresh = (opts.fresh ?? false) && split === "train";
  const count = opts.perClass * classes.length;
  const key = SPLIT_KEY[split];
  const dataset: Dataset = {
    root: `(synthetic level ${level}, seed ${seed})`,
    split,
    format: "list",
    records: Array.from({ length: count }, (_, k) => ({
      id: `frames/${split}/${String(k).padStart(6, "0")}`,
      label: k % classes.length,
      where: { file: "(memory)", line: k + 1 },
    })),
    classes: [...classes],
    numClasses: classes.length,
    template: DEFAULT_TEMPLATE,
    flip: false,
    problems: [],
  };
  const spec: ClipSpec = {
    frames: T,
    size: S,
    layout,
    train: split === "train",
    sampling: { mode: "segment", frames: T, interval: 1, clips: 1, sharedOffset: false },
    crops: 1,
    flip: false,
    mean,
    std,
    template: DEFAULT_TEMPLATE,
    videoShortSide: S,
  };
  const a = [0, 1, 2].map((c) => 1 / (255 * std[c]!));
  const b = [0, 1, 2].map((c) => -mean[c]! / std[c]!);
  const plane = S * S;
  const clipLen = T * 3 * plane;
  let stats: LoaderStats = {
    epoch: 0,
    batches: 0,
    samples: 0,
    clips: 0,
    skipped: 0,
    bad: [],
    seconds: 0,
    waitSeconds: 0,
    clipsPerSecond: 0,
  };

  /** Write clip `k` (epoch `epoch`) into `out` at row `row`. */
  function put(out: Float32Array, row: number, k: number, epoch: number): void {
    const clipSeed = fresh && epoch > 0 ? deriveSeed(seed, key, k, epoch) : deriveSeed(seed, key, k);
    const frames = renderClip(classes[k % classes.length]!, T, S, new Rng(clipSeed), level);
    const base = row * clipLen;
    for (let t = 0; t < T; t++) {
      const f = frames[t]!;
      for (let c = 0; c < 3; c++) {
        // N(TC)HW: channel t*3+c; NCTHW: (c, t)
        const o = base + (layout === "NCTHW" ? (c * T + t) * plane : (t * 3 + c) * plane);
        const ac = a[c]!;
        const bc = b[c]!;
        for (let p = 0; p < plane; p++) out[o + p] = f[p * 3 + c]! * ac + bc;
      }
    }
  }

  async function* epoch(n: number): AsyncGenerator<Batch> {
    const started = performance.now();
    stats = { epoch: n, batches: 0, samples: 0, clips: 0, skipped: 0, bad: [], seconds: 0, waitSeconds: 0, clipsPerSecond: 0 };
    const order = Array.from({ length: count }, (_, i) => i);
    if (shuffle) {
      const rng = new Rng(deriveSeed(seed, 0x5f1e, n));
      for (let i = count - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
    }
    for (let s = 0; s < count; s += batch) {
      const idx = order.slice(s, s + batch);
      const input = new Float32Array(idx.length * clipLen);
      idx.forEach((k, row) => put(input, row, k, n));
      const shape = layout === "NCTHW" ? [idx.length, 3, T, S, S] : [idx.length, T * 3, S, S];
      stats.batches++;
      stats.samples += idx.length;
      stats.clips += idx.length;
      stats.seconds = (performance.now() - started) / 1000;
      stats.clipsPerSecond = stats.seconds > 0 ? stats.clips / stats.seconds : 0;
      yield {
        input,
        shape,
        labels: Int32Array.from(idx, (k) => k % classes.length),
        ids: idx.map((k) => dataset.records[k]!.id),
        views: 1,
      };
    }
  }

  let next = 0;
  return {
    dataset,
    spec,
    batchesPerEpoch: Math.ceil(count / batch),
    get stats() {
      return stats;
    },
    epoch,
    [Symbol.asyncIterator]: () => epoch(next++),
  };
}
