/**
 * Crop/resize/flip geometry of the official augmentations, as plans that a decoder (sharp or
 * ffmpeg) applies to every frame of a clip. Pure functions; randomness comes from an explicit Rng.
 *
 *  - training: GroupMultiScaleCrop(size, scales [1, .875, .75, .66], max_distort 1, fix_crop,
 *    more_fix_crop): crop sides int(min(w,h) * scale) (snapped to `size` when within 3 px), width and
 *    height scales at most `maxDistort` steps apart, the crop placed at one of 13 fixed offsets, then
 *    resized to size x size; then a horizontal flip with probability 1/2 (when allowed).
 *  - testing: resize the short side to `scaleSize` (default int(size / 0.875 + 0.5)), then a centre
 *    crop (torchvision: round((h - size) / 2)) or three crops (left/centre/right along the long side).
 */
import type { Rng } from "@blvnet/core";

export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface Size {
  width: number;
  height: number;
}

/** Applied in order: crop, resize, cropAfter, flip. The result is `out` pixels. */
export interface ViewPlan {
  crop?: Rect;
  resize?: Size;
  cropAfter?: Rect;
  flip: boolean;
  out: Size;
}

export const MULTI_SCALES = [1, 0.875, 0.75, 0.66];

/** Python's round(): halves go to the even neighbour. */
export function pyRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 ? 2 * Math.round(x / 2) : r;
}

/** The fixed crop offsets [left, top]: 5 (corners + centre), or 13 with `more`. */
export function fixCropOffsets(more: boolean, imgW: number, imgH: number, cropW: number, cropH: number): [number, number][] {
  const w = Math.floor((imgW - cropW) / 4);
  const h = Math.floor((imgH - cropH) / 4);
  const out: [number, number][] = [
    [0, 0],
    [4 * w, 0],
    [0, 4 * h],
    [4 * w, 4 * h],
    [2 * w, 2 * h],
  ];
  if (more) {
    out.push([0, 2 * h], [4 * w, 2 * h], [2 * w, 4 * h], [2 * w, 0]);
    out.push([w, h], [3 * w, h], [w, 3 * h], [3 * w, 3 * h]);
  }
  return out;
}

/** The (width, height) crop pairs the multi-scale crop chooses from. */
export function multiScaleCropSizes(imgW: number, imgH: number, size: number, scales = MULTI_SCALES, maxDistort = 1): [number, number][] {
  const base = Math.min(imgW, imgH);
  const sides = scales.map((s) => Math.trunc(base * s));
  const snap = (x: number) => (Math.abs(x - size) < 3 ? size : x);
  const pairs: [number, number][] = [];
  sides.forEach((h, i) =>
    sides.forEach((w, j) => {
      if (Math.abs(i - j) <= maxDistort) pairs.push([snap(w), snap(h)]);
    }),
  );
  return pairs;
}

export interface TrainCropOptions {
  scales?: number[];
  maxDistort?: number;
  moreFixCrop?: boolean;
  flip: boolean;
}

export function trainView(imgW: number, imgH: number, size: number, rng: Rng, o: TrainCropOptions): ViewPlan {
  const [cw, ch] = rng.choice(multiScaleCropSizes(imgW, imgH, size, o.scales, o.maxDistort));
  const [left, top] = rng.choice(fixCropOffsets(o.moreFixCrop ?? true, imgW, imgH, cw, ch));
  const flip = o.flip && rng.next() < 0.5;
  return { crop: { left, top, width: cw, height: ch }, resize: { width: size, height: size }, flip, out: { width: size, height: size } };
}

/** torchvision Resize(short): the short side becomes `short`, the long side int(short * long / short_side). */
export function scaleShortSide(imgW: number, imgH: number, short: number): Size {
  if (imgW <= imgH) return { width: short, height: Math.trunc((short * imgH) / imgW) };
  return { width: Math.trunc((short * imgW) / imgH), height: short };
}

export function centerCrop(imgW: number, imgH: number, cropW: number, cropH: number): Rect {
  return { left: pyRound((imgW - cropW) / 2), top: pyRound((imgH - cropH) / 2), width: cropW, height: cropH };
}

/** GroupOverSample(num_crops=3): along the long side, [start, end, centre]. */
export function threeCrops(imgW: number, imgH: number, cropW: number, cropH: number): Rect[] {
  const w = Math.floor((imgW - cropW) / 4);
  const h = Math.floor((imgH - cropH) / 4);
  const offsets: [number, number][] =
    imgW < imgH
      ? [
          [2 * w, 0],
          [2 * w, 4 * h],
          [2 * w, 2 * h],
        ]
      : [
          [0, 2 * h],
          [4 * w, 2 * h],
          [2 * w, 2 * h],
        ];
  return offsets.map(([left, top]) => ({ left, top, width: cropW, height: cropH }));
}

export function defaultScaleSize(size: number): number {
  return Math.trunc(size / 0.875 + 0.5);
}

/** Test-time views of one frame size: 1 centre crop or 3 crops, after scaling the short side. */
export function testViews(imgW: number, imgH: number, size: number, crops: 1 | 3, scaleSize = defaultScaleSize(size)): ViewPlan[] {
  const resize = scaleShortSide(imgW, imgH, scaleSize);
  const rects = crops === 1 ? [centerCrop(resize.width, resize.height, size, size)] : threeCrops(resize.width, resize.height, size, size);
  return rects.map((cropAfter) => ({ resize, cropAfter, flip: false, out: { width: size, height: size } }));
}
