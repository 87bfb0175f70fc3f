/**
 * The `width` option of the TSN-style models (tsn, tsm, tam-resnet): torchvision's ResNet with stem
 * width w and stage planes w << s, so small models compare with bLVNet-TAM at equal width. Width 64
 * is the official model (state-dict.test.ts and counts.test.ts check it); here: thinner shapes,
 * hand-derived parameter counts, ids and errors.
 */

import { createModel, profileModel, type VideoModel } from "@blvnet/core";
import { describe, expect, it } from "vitest";
import "./index.js";

const shapes = (m: VideoModel) => m.namedTensors().map(([k, p]) => [k, p.shape] as const);

/**
 * torchvision ResNet-50 at base width w with a K-class fc. Bottleneck convs are quadratic in w:
 * a stage-s block of p = w << s planes has 17 p^2 (1x1 4p->p, 3x3, 1x1 p->4p), the first block of
 * stage 1 18 p^2 and of stages 2-4 23 p^2 (with the 1x1 shortcut), summing to 5724 w^2. Linear in w:
 * the 7x7 stem (147 w) and BatchNorm weight+bias (2 w + 828 w). The fc is (32 w + 1) K.
 */
const resnet50Params = (w: number, k: number) => 5724 * w * w + (147 + 2 + 828) * w + (32 * w + 1) * k;
/** TAM-ResNet adds 3 weights per input channel of every block (inputs sum to 205 w on ResNet-50). */
const tamExtra = (w: number) => 3 * 205 * w;

const CASES: [name: string, id: string, extra: (w: number) => number][] = [
  ["tsn", "tsn-r50-w16-f8", () => 0],
  ["tsm", "tsm-r50-w16-s8-blockres-f8", () => 0],
  ["tam-resnet", "tam-r50-w16-bf3-f8", tamExtra],
];

describe("TSN/TSM/TAM-ResNet width option", () => {
  it("the hand-derived counts match the official ones at width 64", () => {
    expect(resnet50Params(64, 1000)).toBe(25_557_032); // torchvision resnet50
    expect(resnet50Params(64, 174)).toBe(23_864_558); // results/reference/counts.csv, tsn-r50
    expect(tamExtra(64)).toBe(39_360);
  });

  it.each(CASES)("%s-R50 at width 16 is %s with the hand-derived parameter count (ShapeOps)", (name, id, extra) => {
    const model = createModel(name, { width: 16, frames: 8, size: 64, numClasses: 174, dropout: 0 });
    expect(model.id).toBe(id);
    const p = profileModel(model);
    expect(p.params).toBe(resnet50Params(16, 174) + extra(16));
    expect(p.macs).toBeGreaterThan(0);
    expect(createModel(name, { width: 64 }).id).not.toMatch(/-w\d/);
  });

  it.each(CASES)("%s keeps the official keys and order, every channel dimension scaled by width/64", (name) => {
    // 10 classes and kernel sizes 1, 3, 7 never collide with a channel count (multiples of 64 at width 64).
    const official = shapes(createModel(name, { frames: 4, numClasses: 10 }));
    const thin = shapes(createModel(name, { frames: 4, numClasses: 10, width: 16 }));
    const scaled = official.map(([k, s]) => [k, s.map((d) => ([1, 3, 7, 10].includes(d) ? d : d / 4))] as const);
    expect(thin).toEqual(scaled);
  });

  it("scales ResNet-18 (basic blocks) too", () => {
    const official = shapes(createModel("tsn", { depth: 18, numClasses: 10 }));
    const thin = shapes(createModel("tsn", { depth: 18, numClasses: 10, width: 8 }));
    expect(thin).toEqual(official.map(([k, s]) => [k, s.map((d) => ([1, 3, 7, 10].includes(d) ? d : d / 8))] as const));
  });

  it("rejects a non-positive width", () => {
    expect(() => createModel("tsm", { width: 0 })).toThrow(/option width of model "tsm" must be an integer >= 1/);
  });
});
