import { deriveSeed, Rng } from "@blvnet/core";
import { describe, expect, it } from "vitest";
import { clipShifts, denseIndicesTest, denseIndicesTrain, linspaceInt, segmentIndicesTest, segmentIndicesTrain } from "./sampling.js";

/** An Rng whose int(n) always returns a fixed choice (lowest or highest), to pin random offsets. */
function pinned(which: "low" | "high"): Rng {
  const r = new Rng(0);
  r.int = (n: number) => (which === "low" ? 0 : n - 1);
  return r;
}

describe("Rng", () => {
  it("is deterministic for a seed and differs across seeds", () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const xs = Array.from({ length: 5 }, () => a.nextU32());
    expect(Array.from({ length: 5 }, () => b.nextU32())).toEqual(xs);
    expect(new Rng(43).nextU32()).not.toBe(xs[0]);
    expect(deriveSeed(1, 2, 3)).not.toBe(deriveSeed(1, 3, 2));
  });
  it("int(n) stays in [0, n) and covers it", () => {
    const r = new Rng(7);
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) {
      const v = r.int(5);
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(5);
      seen.add(v);
    }
    expect(seen.size).toBe(5);
  });
});

describe("segment sampling (TSN)", () => {
  it("test mode takes segment centres int(tick/2 + tick*i)", () => {
    // tick = 12.5: 6.25, 18.75, 31.25, ... truncated
    expect(segmentIndicesTest(100, 8)).toEqual([[6, 18, 31, 43, 56, 68, 81, 93]]);
  });
  it("test mode repeats frames in order when the video is shorter than the clip", () => {
    // tick = 3/8: 0.1875, 0.5625, 0.9375, 1.3125, 1.6875, 2.0625, 2.4375, 2.8125
    expect(segmentIndicesTest(3, 8)).toEqual([[0, 0, 0, 1, 1, 2, 2, 2]]);
  });
  it("multi-clip test shifts the centres by range(-clips//2+1, clips//2+1)", () => {
    expect(clipShifts(1)).toEqual([0]);
    expect(clipShifts(2)).toEqual([0, 1]);
    expect(clipShifts(3)).toEqual([-1, 0, 1]);
    expect(clipShifts(10)).toEqual([-4, -3, -2, -1, 0, 1, 2, 3, 4, 5]);
    expect(segmentIndicesTest(100, 8, 3)).toEqual([
      [5, 17, 30, 42, 55, 67, 80, 92],
      [6, 18, 31, 43, 56, 68, 81, 93],
      [7, 19, 32, 44, 57, 69, 82, 94],
    ]);
  });
  it("multi-clip shifts are clamped to half a segment", () => {
    // n=10, 8 segments: tick 1.25, shifts -1 -> -0.625 and +1 -> 0.6249
    expect(segmentIndicesTest(10, 8, 3)).toEqual([
      [0, 1, 2, 3, 5, 6, 7, 8],
      [0, 1, 3, 4, 5, 6, 8, 9],
      [1, 2, 3, 4, 6, 7, 8, 9],
    ]);
  });
  it("training picks one random frame inside each segment of n // segments frames", () => {
    expect(segmentIndicesTrain(100, 8, pinned("low"))).toEqual([0, 12, 24, 36, 48, 60, 72, 84]);
    expect(segmentIndicesTrain(100, 8, pinned("high"))).toEqual([11, 23, 35, 47, 59, 71, 83, 95]);
    const r = new Rng(3);
    for (let k = 0; k < 50; k++) {
      segmentIndicesTrain(37, 8, r).forEach((idx, i) => {
        expect(idx).toBeGreaterThanOrEqual(i * 4);
        expect(idx).toBeLessThan((i + 1) * 4);
      });
    }
  });
  it("bLVNet-TAM's variant shares one offset across segments", () => {
    const r = new Rng(9);
    for (let k = 0; k < 20; k++) {
      const idx = segmentIndicesTrain(100, 8, r, true);
      const offset = idx[0]!;
      expect(offset).toBeLessThan(12);
      expect(idx).toEqual(Array.from({ length: 8 }, (_, i) => 12 * i + offset));
    }
  });
  it("training with fewer frames than segments draws sorted frames with repetition", () => {
    const r = new Rng(5);
    for (let k = 0; k < 20; k++) {
      const idx = segmentIndicesTrain(5, 8, r);
      expect(idx).toHaveLength(8);
      expect([...idx].sort((a, b) => a - b)).toEqual(idx);
      for (const i of idx) expect(i >= 0 && i < 5).toBe(true);
    }
  });
});

describe("dense sampling", () => {
  it("numpy-style linspace truncated to int", () => {
    expect(linspaceInt(10, 4)).toEqual([0, 3, 6, 10]);
    expect(linspaceInt(68, 3)).toEqual([0, 34, 68]);
    expect(linspaceInt(5, 1)).toEqual([0]);
  });
  it("test clips start evenly over [0, n - interval*frames]", () => {
    const clip = (s: number) => Array.from({ length: 8 }, (_, i) => s + 4 * i);
    expect(denseIndicesTest(100, 8, 4, 3)).toEqual([clip(0), clip(34), clip(68)]);
  });
  it("wraps around when the video is shorter than the clip", () => {
    expect(denseIndicesTest(20, 8, 4, 1)).toEqual([[0, 4, 8, 12, 16, 0, 4, 8]]);
    expect(denseIndicesTrain(20, 8, 4, pinned("high"))).toEqual([0, 4, 8, 12, 16, 0, 4, 8]);
  });
  it("training starts anywhere in [0, n - interval*frames)", () => {
    expect(denseIndicesTrain(100, 8, 4, pinned("low"))).toEqual([0, 4, 8, 12, 16, 20, 24, 28]);
    expect(denseIndicesTrain(100, 8, 4, pinned("high"))).toEqual([67, 71, 75, 79, 83, 87, 91, 95]);
  });
});
