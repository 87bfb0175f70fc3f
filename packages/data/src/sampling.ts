/**
 * Which frames of a video make a clip. Indices are 0-based offsets into the video's frames
 * (frame file = start + offset). The formulas follow the official TSN / bLVNet-TAM dataset code.
 *
 * Segment (TSN) sampling splits the video into `segments` equal parts and takes one frame per part:
 *  - training: avg = n // segments; offset_i = i*avg + randint(avg) (independent per segment, as in TSN;
 *    `sharedOffset` draws one randint(avg) for all segments, as bLVNet-TAM's VideoDataSet does);
 *    with fewer frames than segments (avg = 0), `segments` random frames with repetition, sorted
 *    (bLVNet-TAM's fallback; it keeps temporal order).
 *  - testing: tick = n / segments; offset_i = int(tick/2 + tick*i): the segment centres. With
 *    fewer frames than segments this repeats frames evenly in order. Multi-clip testing shifts the
 *    centres by s in range(-clips//2 + 1, clips//2 + 1), clamped to [-tick/2, tick/2 - 1e-4].
 * Dense (I3D/Kinetics) sampling takes `frames` frames every `interval` frames:
 *  - training: a random start in [0, n - interval*frames) (0 if the clip is longer than the video);
 *  - testing: `clips` starts evenly spaced (numpy linspace, truncated) over [0, n - interval*frames];
 *  indices wrap around modulo n.
 */
import type { Rng } from "@blvnet/core";

/** `shared`: one random offset for every segment, as bLVNet-TAM's own training sampler draws it. */
export function segmentIndicesTrain(numFrames: number, segments: number, rng: Rng, shared = false): number[] {
  const avg = Math.floor(numFrames / segments);
  if (avg > 0 && shared) {
    const offset = rng.int(avg);
    return Array.from({ length: segments }, (_, i) => i * avg + offset);
  }
  if (avg > 0) return Array.from({ length: segments }, (_, i) => i * avg + rng.int(avg));
  return Array.from({ length: segments }, () => rng.int(numFrames)).sort((a, b) => a - b);
}

/** Python's `range(-clips // 2 + 1, clips // 2 + 1)` (floor division). */
export function clipShifts(clips: number): number[] {
  const lo = Math.floor(-clips / 2) + 1;
  const hi = Math.floor(clips / 2) + 1;
  return Array.from({ length: hi - lo }, (_, i) => lo + i);
}

/** One index list per clip. */
export function segmentIndicesTest(numFrames: number, segments: number, clips = 1): number[][] {
  const tick = numFrames / segments;
  return clipShifts(clips).map((shift) => {
    let s = shift;
    if (s >= tick / 2) s = tick / 2 - 1e-4;
    else if (s < -tick / 2) s = -tick / 2;
    return Array.from({ length: segments }, (_, i) => Math.trunc(tick / 2 + s + tick * i));
  });
}

export function denseIndicesTrain(numFrames: number, frames: number, interval: number, rng: Rng): number[] {
  const highest = numFrames - interval * frames;
  const start = highest <= 0 ? 0 : rng.int(highest);
  return Array.from({ length: frames }, (_, i) => (start + i * interval) % numFrames);
}

/** numpy.linspace(0, stop, num) cast to int (truncation), as the official multi-clip dense test uses. */
export function linspaceInt(stop: number, num: number): number[] {
  if (num === 1) return [0];
  const step = stop / (num - 1);
  return Array.from({ length: num }, (_, i) => Math.trunc(i === num - 1 ? stop : i * step));
}

export function denseIndicesTest(numFrames: number, frames: number, interval: number, clips = 1): number[][] {
  const samplePos = Math.max(1, 1 + numFrames - interval * frames);
  return linspaceInt(samplePos - 1, clips).map((start) => Array.from({ length: frames }, (_, i) => (start + i * interval) % numFrames));
}

export type SamplingMode = "segment" | "dense";

export interface SamplingOptions {
  mode: SamplingMode;
  frames: number;
  /** Dense sampling stride (frames between samples). */
  interval: number;
  /** Clips per video at test time. */
  clips: number;
  /** Training segment sampling: one random offset shared by all segments (bLVNet-TAM) instead of one each (TSN). */
  sharedOffset?: boolean;
}

/** Index lists for one video: one list when training, `clips` lists when testing. */
export function sampleClips(numFrames: number, train: boolean, o: SamplingOptions, rng: Rng): number[][] {
  if (o.mode === "dense") {
    return train ? [denseIndicesTrain(numFrames, o.frames, o.interval, rng)] : denseIndicesTest(numFrames, o.frames, o.interval, o.clips);
  }
  return train ? [segmentIndicesTrain(numFrames, o.frames, rng, o.sharedOffset)] : segmentIndicesTest(numFrames, o.frames, o.clips);
}
