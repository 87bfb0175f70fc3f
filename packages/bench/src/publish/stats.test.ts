import { describe, expect, it } from "vitest";
import { formatCi, formatDifference, formatMeanStd, pairedDifference, summarize, tQuantile975 } from "./stats.js";

describe("stats over seeds", () => {
  it("t quantiles: table values and the large-df expansion", () => {
    expect(tQuantile975(1)).toBeCloseTo(12.7062, 4);
    expect(tQuantile975(2)).toBeCloseTo(4.3027, 4);
    expect(tQuantile975(30)).toBeCloseTo(2.0423, 4);
    expect(tQuantile975(60)).toBeCloseTo(2.0003, 3);
    expect(tQuantile975(1000)).toBeCloseTo(1.9623, 3);
    expect(tQuantile975(0)).toBeNaN();
  });

  it("mean, sample std and the Student-t 95% interval", () => {
    const s = summarize([1, 2, 3]);
    expect(s.n).toBe(3);
    expect(s.mean).toBe(2);
    expect(s.std).toBe(1);
    // t(2) * 1 / sqrt(3)
    expect(s.half).toBeCloseTo(4.302653 / Math.sqrt(3), 9);
    expect(s.lo).toBeCloseTo(2 - 2.484138, 5);
    expect(s.hi).toBeCloseTo(2 + 2.484138, 5);
    expect(formatMeanStd(s)).toBe("2.0 ± 1.0");
    expect(formatCi(s)).toBe("[-0.5, 4.5]");
    expect(formatCi(s, 1, [0, 100])).toBe("[0.0, 4.5]");
    const one = summarize([95]);
    expect([one.std, one.half]).toEqual([0, NaN]);
    expect(formatMeanStd(one)).toBe("95.0");
    expect(formatCi(one)).toBe("");
    expect(summarize([]).n).toBe(0);
    expect(formatMeanStd(summarize([]))).toBe("");
  });

  it("paired difference over the shared seeds only", () => {
    const a = new Map([
      [0, 96],
      [1, 98],
      [2, 97],
      [5, 50],
    ]);
    const b = new Map([
      [0, 26],
      [1, 20],
      [2, 25],
    ]);
    const d = pairedDifference(a, b);
    expect(d.seeds).toEqual([0, 1, 2]);
    // differences 70, 78, 72: mean 73.333, variance 52/3, std 4.163
    expect(d.mean).toBeCloseTo(73.3333, 4);
    expect(d.std).toBeCloseTo(Math.sqrt(52 / 3), 9);
    expect(d.half).toBeCloseTo((4.302653 * Math.sqrt(52 / 3)) / Math.sqrt(3), 6);
    expect(formatDifference(d)).toBe("+73.3 [63.0, 83.7]");
    expect(formatDifference(pairedDifference(new Map([[0, 10]]), new Map([[0, 12]])))).toBe("-2.0");
  });
});

describe("error bars", () => {
  it("chart draws a bar with two caps for a point with err, none without", async () => {
    const { chart } = await import("./svg.js");
    const svg = chart(
      [
        {
          name: "a",
          points: [
            { x: 1, y: 50, err: { lo: 40, hi: 60 } },
            { x: 2, y: 70 },
          ],
        },
      ],
      { title: "t", xLabel: "x", yLabel: "y" },
    );
    expect(svg.match(/<line [^>]*stroke-width="1.5"/g)).toHaveLength(3);
  });
});
