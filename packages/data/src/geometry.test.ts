import { Rng } from "@blvnet/core";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { applyPlan } from "./clip.js";
import {
  centerCrop,
  defaultScaleSize,
  fixCropOffsets,
  multiScaleCropSizes,
  pyRound,
  scaleShortSide,
  testViews,
  threeCrops,
  trainView,
  type ViewPlan,
} from "./geometry.js";

describe("official crop geometry", () => {
  it("13 fixed offsets (corners, centre, edge centres, quarters) for a 340x256 frame, 224 crop", () => {
    // w_step = (340-224)//4 = 29, h_step = (256-224)//4 = 8
    expect(fixCropOffsets(true, 340, 256, 224, 224)).toEqual([
      [0, 0],
      [116, 0],
      [0, 32],
      [116, 32],
      [58, 16],
      [0, 16],
      [116, 16],
      [58, 32],
      [58, 0],
      [29, 8],
      [87, 8],
      [29, 24],
      [87, 24],
    ]);
    expect(fixCropOffsets(false, 340, 256, 224, 224)).toHaveLength(5);
  });
  it("multi-scale crop sizes: int(256 * [1, .875, .75, .66]), aspect distortion at most one step", () => {
    expect(multiScaleCropSizes(340, 256, 224)).toEqual([
      [256, 256],
      [224, 256],
      [256, 224],
      [224, 224],
      [192, 224],
      [224, 192],
      [192, 192],
      [168, 192],
      [192, 168],
      [168, 168],
    ]);
  });
  it("crop sides within 3 px of the input size snap to it", () => {
    // int(114 * scales) = 114, 99, 85, 75; 114 is within 3 of 112
    expect(multiScaleCropSizes(114, 114, 112).map(([w]) => w)).toContain(112);
    expect(multiScaleCropSizes(114, 114, 112).flat()).not.toContain(114);
  });
  it("training views are one of the listed crops, resized to the input size", () => {
    const r = new Rng(1);
    const sizes = multiScaleCropSizes(340, 256, 224).map((p) => p.join("x"));
    for (let k = 0; k < 40; k++) {
      const v = trainView(340, 256, 224, r, { flip: false });
      expect(sizes).toContain(`${v.crop!.width}x${v.crop!.height}`);
      const offsets = fixCropOffsets(true, 340, 256, v.crop!.width, v.crop!.height).map((o) => o.join(","));
      expect(offsets).toContain(`${v.crop!.left},${v.crop!.top}`);
      expect(v.resize).toEqual({ width: 224, height: 224 });
      expect(v.flip).toBe(false);
    }
    const flips = Array.from({ length: 200 }, () => trainView(340, 256, 224, r, { flip: true }).flip).filter(Boolean).length;
    expect(flips).toBeGreaterThan(60);
    expect(flips).toBeLessThan(140);
  });
  it("test scale: short side int(size/0.875 + 0.5), long side truncated", () => {
    expect(defaultScaleSize(224)).toBe(256);
    expect(defaultScaleSize(112)).toBe(128);
    expect(scaleShortSide(320, 240, 256)).toEqual({ width: 341, height: 256 });
    expect(scaleShortSide(240, 320, 128)).toEqual({ width: 128, height: 170 });
  });
  it("centre crop rounds half to even, like torchvision", () => {
    expect(pyRound(58.5)).toBe(58);
    expect(pyRound(59.5)).toBe(60);
    expect(centerCrop(341, 256, 224, 224)).toEqual({ left: 58, top: 16, width: 224, height: 224 });
    expect(centerCrop(343, 256, 224, 224)).toEqual({ left: 60, top: 16, width: 224, height: 224 });
  });
  it("three crops along the long side: start, end, centre", () => {
    // w_step = (341-224)//4 = 29, h_step = 32//4 = 8
    expect(threeCrops(341, 256, 224, 224).map((r) => [r.left, r.top])).toEqual([
      [0, 16],
      [116, 16],
      [58, 16],
    ]);
    expect(threeCrops(256, 341, 224, 224).map((r) => [r.left, r.top])).toEqual([
      [16, 0],
      [16, 116],
      [16, 58],
    ]);
    expect(testViews(320, 240, 224, 3)).toHaveLength(3);
  });
});

describe("applying a plan with sharp", () => {
  // A 16x12 frame whose red channel is 10*x and green channel 10*y: pixel values name their position.
  const W = 16;
  const H = 12;
  const raw = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) raw.set([10 * x, 10 * y, 7], (y * W + x) * 3);
  const run = (plan: ViewPlan) => applyPlan(sharp(raw, { raw: { width: W, height: H, channels: 3 } }), plan).toBuffer();

  it("crops exactly the planned rectangle", async () => {
    const out = await run({ crop: { left: 3, top: 2, width: 5, height: 4 }, flip: false, out: { width: 5, height: 4 } });
    expect(out.length).toBe(5 * 4 * 3);
    expect([out[0], out[1]]).toEqual([30, 20]);
    const last = (4 * 5 - 1) * 3;
    expect([out[last], out[last + 1]]).toEqual([70, 50]);
  });
  it("flips horizontally after cropping", async () => {
    const out = await run({ cropAfter: { left: 3, top: 2, width: 5, height: 4 }, flip: true, out: { width: 5, height: 4 } });
    expect([out[0], out[1]]).toEqual([70, 20]);
    expect([out[4 * 3], out[4 * 3 + 1]]).toEqual([30, 20]);
  });
  it("resizes to the planned size", async () => {
    const out = await run({ resize: { width: 8, height: 6 }, flip: false, out: { width: 8, height: 6 } });
    expect(out.length).toBe(8 * 6 * 3);
    // bilinear halving: left column averages x=0 and x=1 -> around 5
    expect(out[0]).toBeLessThan(15);
    expect(out[(8 - 1) * 3]).toBeGreaterThan(130);
  });
});
