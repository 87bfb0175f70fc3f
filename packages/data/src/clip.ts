/**
 * Loading one sample: pick frame indices, decode (sharp for JPEG folders, ffmpeg for videos), apply
 * the view plans, and write normalised floats in the model's input layout. Any problem becomes a
 * SampleError naming the offending file; the loader adds the list line and skips the sample.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { InputLayout, Rng } from "@blvnet/core";
import sharp, { type Metadata, type OutputInfo, type Sharp } from "sharp";
import { SampleError } from "./errors.js";
import { decodeVideoFrames, probeVideo, shortSideSize, type VideoInfo } from "./ffmpeg.js";
import { type FrameNaming, frameFolderProblem, frameName, parseTemplate } from "./frames.js";
import { testViews, trainView, type ViewPlan } from "./geometry.js";
import type { VideoRecord } from "./record.js";
import { type SamplingOptions, sampleClips } from "./sampling.js";

export type ClipLayout = Extract<InputLayout, "N(TC)HW" | "NCTHW">;

export interface ClipSpec {
  frames: number;
  size: number;
  layout: ClipLayout;
  train: boolean;
  sampling: SamplingOptions;
  /** Test-time crops per clip (1 centre crop or 3 crops). */
  crops: 1 | 3;
  /** Test-time short side before cropping (default int(size / 0.875 + 0.5)). */
  scaleSize?: number;
  /** Training-time random horizontal flip. */
  flip: boolean;
  scales?: number[];
  mean: readonly number[];
  std: readonly number[];
  template: string;
  /** Short side that videos are scaled to before cropping (as the frame extraction does). */
  videoShortSide: number;
}

/** Number of views (clips x crops) a sample yields: 1 in training. */
export function viewsPerSample(spec: ClipSpec): number {
  return spec.train ? 1 : spec.sampling.clips * spec.crops;
}

/** Floats per view. */
export function viewLength(spec: ClipSpec): number {
  return spec.frames * 3 * spec.size * spec.size;
}

/** A decoded frame: packed pixels with 3 (RGB) or 1 (grey) channels. */
export interface Pixels {
  data: Uint8Array;
  channels: 1 | 3;
}

/** Write one decoded frame as normalised planes of frame t of a view starting at `base`. */
export function writeFrame(dst: Float32Array, base: number, px: Pixels, t: number, spec: ClipSpec): void {
  const hw = spec.size * spec.size;
  const { data, channels } = px;
  for (let c = 0; c < 3; c++) {
    const plane = base + (spec.layout === "NCTHW" ? c * spec.frames + t : t * 3 + c) * hw;
    const a = 1 / (255 * spec.std[c]!);
    const b = -spec.mean[c]! / spec.std[c]!;
    for (let i = 0, j = channels === 3 ? c : 0; i < hw; i++, j += channels) dst[plane + i] = data[j]! * a + b;
  }
}

/**
 * Add a view plan's crop/resize/flip to a sharp pipeline, ending in packed raw pixels (alpha
 * dropped). `toSrgb` forces 3-channel sRGB; it costs about half a decode, so it is only used for
 * the rare frames that are neither RGB nor grey (CMYK JPEGs).
 */
export function applyPlan(img: Sharp, plan: ViewPlan, toSrgb = false): Sharp {
  if (plan.crop) img = img.extract(plan.crop);
  if (plan.resize) img = img.resize(plan.resize.width, plan.resize.height, { fit: "fill", kernel: "linear", fastShrinkOnLoad: false });
  if (plan.cropAfter) img = img.extract(plan.cropAfter);
  if (plan.flip) img = img.flop();
  img = img.removeAlpha();
  return (toSrgb ? img.toColourspace("srgb") : img).raw();
}

async function render(source: () => Sharp, plan: ViewPlan, what: string): Promise<Pixels> {
  let res: { data: Buffer; info: OutputInfo };
  try {
    res = await applyPlan(source(), plan).toBuffer({ resolveWithObject: true });
    if (res.info.channels !== 3 && res.info.channels !== 1)
      res = await applyPlan(source(), plan, true).toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new SampleError(`unreadable image ${what}: ${(e as Error).message}`);
  }
  const { width, height, channels } = res.info;
  if (width !== plan.out.width || height !== plan.out.height || (channels !== 3 && channels !== 1)) {
    throw new SampleError(`${what} decoded to ${width}x${height}x${channels}, expected ${plan.out.width}x${plan.out.height}x3`);
  }
  return { data: res.data, channels };
}

function viewPlans(w: number, h: number, spec: ClipSpec, rng: Rng): ViewPlan[] {
  return spec.train
    ? [trainView(w, h, spec.size, rng, { flip: spec.flip, scales: spec.scales })]
    : testViews(w, h, spec.size, spec.crops, spec.scaleSize);
}

/**
 * Decode every (crop, clip) view; views are ordered crop-major (view = crop * clips + clip), as the
 * official GroupOverSample stacks them. `frame(index, plan)` renders one frame index with one plan.
 */
async function renderViews(
  clips: number[][],
  plans: ViewPlan[],
  spec: ClipSpec,
  alloc: Alloc,
  frame: (index: number, plan: ViewPlan) => Promise<Pixels>,
): Promise<Float32Array> {
  const len = viewLength(spec);
  const out = alloc(plans.length * clips.length * len);
  const jobs: Promise<void>[] = [];
  plans.forEach((plan, p) =>
    clips.forEach((indices, c) => {
      const base = (p * clips.length + c) * len;
      indices.forEach((index, t) => jobs.push(frame(index, plan).then((rgb) => writeFrame(out, base, rgb, t, spec))));
    }),
  );
  await Promise.all(jobs);
  return out;
}

/** Supplies the sample's output array (the loader recycles them). */
export type Alloc = (length: number) => Float32Array;

async function loadFrameFolder(rec: VideoRecord, spec: ClipSpec, naming: FrameNaming, rng: Rng, alloc: Alloc): Promise<Float32Array> {
  const { dir, start, count } = rec.frames!;
  const names = await readdir(dir).catch(() => null);
  const problem = frameFolderProblem(rec.frames!, names, naming);
  if (problem) throw new SampleError(problem);

  const clips = sampleClips(count, spec.train, spec.sampling, rng);
  const file = (index: number) => join(dir, frameName(naming, start + index));
  const first = file(clips[0]![0]!);
  let meta: Metadata;
  try {
    meta = await sharp(first).metadata();
  } catch (e) {
    throw new SampleError(`unreadable image ${first}: ${(e as Error).message}`);
  }
  const plans = viewPlans(meta.width, meta.height, spec, rng);
  return renderViews(clips, plans, spec, alloc, (index, plan) => render(() => sharp(file(index)), plan, file(index)));
}

const probes = new Map<string, Promise<VideoInfo>>();

async function loadVideo(rec: VideoRecord, spec: ClipSpec, rng: Rng, alloc: Alloc): Promise<Float32Array> {
  const file = rec.video!;
  let probe = probes.get(file);
  if (!probe) {
    probe = probeVideo(file);
    probes.set(file, probe);
    probe.catch(() => probes.delete(file));
  }
  const info = await probe;
  const size = shortSideSize(info.width, info.height, spec.videoShortSide);
  const clips = sampleClips(info.numFrames, spec.train, spec.sampling, rng);
  const plans = viewPlans(size.width, size.height, spec, rng);
  const decoded = await decodeVideoFrames(file, clips.flat(), size);
  const raw = { width: size.width, height: size.height, channels: 3 as const };
  return renderViews(clips, plans, spec, alloc, (index, plan) =>
    render(() => sharp(decoded.get(index)!, { raw }), plan, `frame ${index} of ${file}`),
  );
}

/** One sample's views, concatenated: (views, T*3, H, W) or (views, 3, T, H, W). */
export function loadSample(rec: VideoRecord, spec: ClipSpec, rng: Rng, alloc: Alloc = (n) => new Float32Array(n)): Promise<Float32Array> {
  if (rec.frames) return loadFrameFolder(rec, spec, parseTemplate(spec.template), rng, alloc);
  if (rec.video) return loadVideo(rec, spec, rng, alloc);
  return Promise.reject(new SampleError(`record "${rec.id}" has neither frames nor a video`));
}
