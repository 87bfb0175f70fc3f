/**
 * The `width` option: the same bLResNet with every channel count scaled by width/64, for quick CPU
 * runs. Default width must leave the official model untouched (blvnet.test.ts checks its keys and
 * counts); here: thinner shapes, a hand-derived parameter count, ids, errors, and a real forward.
 */

import { createModel, fillDeterministic, profileModel, refgenInput, type VideoModel } from "@blvnet/core";
import { initBackend, runForward } from "@blvnet/engine-tfjs";
import { describe, expect, it } from "vitest";
import "./index.js";

const shapes = (m: VideoModel) => m.namedTensors().map(([k, p]) => [k, p.shape] as const);

/**
 * bLVNet-TAM-50 (alpha 2, beta 4, 3 blending frames) at base width w, K classes, fc in the backbone.
 * Conv weights are quadratic in w and sum to 6000 w^2 (layer0 17.25, layer1 65.75, layer2 345,
 * layer3 1924, layer4 3648); the linear terms are the 7x7 stem (147 w), BatchNorm weight+bias
 * (940 w) and the TAMs (3 per channel: 282 w); the fc is (32 w + 1) K.
 */
const blvnetTam50Params = (w: number, k: number) => 6000 * w * w + (147 + 940 + 282) * w + (32 * w + 1) * k;

describe("bLVNet width option", () => {
  it("the hand-derived count matches the official one at width 64 (25.020142 M, 18048 in TAMs)", () => {
    expect(blvnetTam50Params(64, 174)).toBe(25_020_142);
    expect(profileModel(createModel("blvnet-tam", { frames: 8, numClasses: 174 })).params).toBe(25_020_142);
  });

  it("bLVNet-TAM-50 at width 16 has the hand-derived parameter count and runs through ShapeOps", () => {
    const model = createModel("blvnet-tam", { width: 16, frames: 8, size: 64, numClasses: 174 });
    expect(model.id).toBe("blvnet-tam-50-w16-a2-b4-f4x2");
    const p = profileModel(model);
    expect(p.params).toBe(blvnetTam50Params(16, 174));
    expect(p.params).toBe(1_647_166);
    const tam = model.namedTensors().filter(([k, t]) => t.trainable && /(^|\.)tam\./.test(k));
    expect(tam.reduce((s, [, t]) => s + t.numel, 0)).toBe(282 * 16);
    expect(p.macs).toBeGreaterThan(0);
  });

  it("keeps the official keys and order, every channel dimension scaled by width/64", () => {
    // 10 classes and kernel sizes 1, 3, 7 never collide with a channel count (multiples of 32 at width 64).
    for (const name of ["blvnet-tam", "blvnet"]) {
      const official = shapes(createModel(name, { frames: 4, numClasses: 10, dropout: 0.5 }));
      const thin = shapes(createModel(name, { frames: 4, numClasses: 10, dropout: 0.5, width: 16 }));
      const scaled = official.map(([k, s]) => [k, s.map((d) => ([1, 3, 7, 10].includes(d) ? d : d / 4))] as const);
      expect(thin).toEqual(scaled);
    }
  });

  it("tags the id only when the width is not 64", () => {
    expect(createModel("blvnet-tam", { width: 64, frames: 8 }).id).toBe("blvnet-tam-50-a2-b4-f4x2");
    expect(createModel("blvnet", { width: 32, alpha: 4, frames: 16 }).id).toBe("blvnet-notam-50-w32-a4-b4-f8x2");
  });

  it("rejects a width that alpha does not divide, and non-positive widths", () => {
    expect(() => createModel("blvnet-tam", { width: 6, alpha: 4 })).toThrow(/alpha must divide width \(6\), got 4/);
    expect(() => createModel("blvnet", { width: 0 })).toThrow(/option width of model "blvnet" must be an integer >= 1, got 0/);
  });

  it("runs a width-8, 4-frame, 32x32 bLVNet-TAM forward on the tfjs cpu backend, clips kept apart", async () => {
    await initBackend("cpu");
    const model = createModel("blvnet-tam", { width: 8, frames: 4, size: 32, numClasses: 5, dropout: 0 });
    fillDeterministic(model);
    model.eval();
    const two = [2, 12, 32, 32];
    const x = refgenInput(two);
    const both = await runForward(model, x, two);
    const first = await runForward(model, x.subarray(0, x.length / 2), [1, 12, 32, 32]);
    expect(both.shape).toEqual([2, 5]);
    expect(both.data.every(Number.isFinite)).toBe(true);
    const scale = Math.max(...first.data.map(Math.abs));
    expect(scale).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) expect(Math.abs(both.data[i] - first.data[i])).toBeLessThan(1e-5 * scale);
    // the second clip is a different input, so its logits differ
    expect(Math.max(...[0, 1, 2, 3, 4].map((i) => Math.abs(both.data[5 + i] - first.data[i])))).toBeGreaterThan(1e-4 * scale);
  });
});
