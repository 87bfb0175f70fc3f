import { describe, expect, it } from "vitest";
import { epochLr, learningRate, lrStepsProblem, type ScheduleConfig } from "./schedule.js";

const base: ScheduleConfig = { kind: "cosine", baseLr: 0.01, epochs: 50, lrSteps: [20, 40], stepsPerEpoch: 10 };

describe("learning-rate schedules (PyTorch closed forms, per epoch)", () => {
  it("cosine follows CosineAnnealingLR(T_max=epochs, eta_min=0)", () => {
    expect(epochLr(base, 0)).toBe(0.01);
    expect(epochLr(base, 25)).toBeCloseTo(0.005, 15);
    expect(epochLr(base, 50)).toBeCloseTo(0, 15);
    expect(epochLr(base, 10)).toBeCloseTo((0.01 * (1 + Math.cos(Math.PI / 5))) / 2, 15);
    // constant within an epoch
    expect(learningRate(base, 10, 0)).toBe(learningRate(base, 10, 9));
  });

  it("step decays x0.1 every lrSteps[0] epochs (StepLR), multisteps at each milestone (MultiStepLR)", () => {
    const step = { ...base, kind: "step" as const };
    expect([0, 19, 20, 39, 40, 41].map((e) => epochLr(step, e))).toEqual([
      0.01,
      0.01,
      0.01 * 0.1,
      0.01 * 0.1,
      0.01 * 0.1 ** 2,
      0.01 * 0.1 ** 2,
    ]);
    const multi = { ...base, kind: "multisteps" as const, lrSteps: [15, 30, 45] };
    expect([0, 14, 15, 29, 30, 45, 49].map((e) => epochLr(multi, e))).toEqual([
      0.01,
      0.01,
      0.001,
      0.001,
      0.01 * 0.1 ** 2,
      0.01 * 0.1 ** 3,
      0.01 * 0.1 ** 3,
    ]);
  });

  it("linear warm-up scales per step from 1/W to 1 over W steps, then hands over", () => {
    const w = { ...base, warmupEpochs: 2 }; // 20 steps
    expect(learningRate(w, 0, 0)).toBeCloseTo(0.01 / 20, 15);
    expect(learningRate(w, 0, 9)).toBeCloseTo((0.01 * 10) / 20, 15);
    expect(learningRate(w, 1, 9)).toBeCloseTo(epochLr(w, 1), 15);
    expect(learningRate(w, 2, 0)).toBe(epochLr(w, 2));
  });

  it("accepts positive increasing lr steps only", () => {
    expect(lrStepsProblem([20, 40])).toBeNull();
    expect(lrStepsProblem([20, NaN])).toMatch(/positive epochs/);
    expect(lrStepsProblem([])).toMatch(/positive epochs/);
    expect(lrStepsProblem([40, 20])).toMatch(/increase/);
  });
});
