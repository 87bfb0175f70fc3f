import { describe, expect, it } from "vitest";
import { confusionSvg } from "./confusion-svg.js";
import { reversePartners } from "./evaluate.js";
import { averageViews, ClassificationTally, crossEntropy, ranking, softmaxRows } from "./metrics.js";

describe("classification metrics", () => {
  it("softmax rows sum to one and keep the order of logits", () => {
    const p = softmaxRows(Float32Array.from([1, 2, 3, 1000, 0, 0]), 3);
    expect(p[0]! + p[1]! + p[2]!).toBeCloseTo(1, 12);
    expect(p[2]).toBeGreaterThan(p[1]!);
    expect(p[3]).toBeCloseTo(1, 12); // no overflow on large logits
  });

  it("video scores average the softmax of each video's views", () => {
    const views = Float64Array.from([1, 0, 0, 1, 0.5, 0.5, 0.5, 0.5]); // 2 videos x 2 views x 2 classes
    expect([...averageViews(views, 2, 2)]).toEqual([0.5, 0.5, 0.5, 0.5]);
  });

  it("ranking is best first, ties by class index; top-k, confusion and per-class accuracy", () => {
    expect(ranking([0.1, 0.5, 0.5, 0.2], 4, 0)).toEqual([1, 2, 3, 0]);
    const t = new ClassificationTally(3);
    t.add(0, [0, 1, 2]);
    t.add(0, [1, 0, 2]);
    t.add(2, [1, 0, 2]);
    t.add(-1, [0, 1, 2]); // unlabelled: ignored
    expect(t.count).toBe(3);
    expect(t.top1Accuracy).toBeCloseTo(1 / 3, 12);
    expect(t.top5Accuracy).toBe(1);
    expect(t.confusion).toEqual([
      [1, 1, 0],
      [0, 0, 0],
      [0, 1, 0],
    ]);
    expect(t.perClass()[0]).toBe(0.5);
    expect(Number.isNaN(t.perClass()[1]!)).toBe(true);
    expect(t.meanClassAccuracy()).toBeCloseTo(0.25, 12);
  });

  it("cross-entropy of probabilities", () => {
    expect(crossEntropy([0.5, 0.5, 0.25, 0.75], 2, [0, 1])).toBeCloseTo(-(Math.log(0.5) + Math.log(0.75)) / 2, 12);
  });

  it("finds the time-reversed partner of synthetic classes only", () => {
    expect(reversePartners(["move-right", "grow", "move-left"])).toEqual([2, null, 0]);
    expect(reversePartners(["cat", "dog"])).toBeNull();
  });

  it("draws the confusion matrix as a standalone SVG", () => {
    const svg = confusionSvg(
      [
        [3, 1],
        [0, 4],
      ],
      ["a<b", "c"],
      { title: "t" },
    );
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("a&lt;b");
    expect((svg.match(/<rect /g) ?? []).length).toBe(1 + 4 + 1);
  });
});
