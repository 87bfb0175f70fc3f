import { initBackend, TfOps } from "@blvnet/engine-tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { temporalShift } from "./temporal-shift.js";

beforeAll(async () => {
  await initBackend("cpu");
});

/** x[n*T + t, c, 0, w] = 100n + 10t + c + w/2 (2 clips, T = 3, C = 5, 1x2 maps). */
function input(): Float32Array {
  const x = new Float32Array(2 * 3 * 5 * 2);
  let i = 0;
  for (let n = 0; n < 2; n++)
    for (let t = 0; t < 3; t++) for (let c = 0; c < 5; c++) for (let w = 0; w < 2; w++) x[i++] = 100 * n + 10 * t + c + w / 2;
  return x;
}

describe("temporalShift", () => {
  it("shifts channels [0,fold) from t+1 and [fold,2fold) from t-1, zeros at clip ends (C=5, shiftDiv 2: fold 2)", async () => {
    const ops = new TfOps();
    const out = temporalShift(ops, ops.input(input(), [6, 5, 1, 2]), 3, 2);
    const { data, shape } = await ops.read(out);
    expect(shape).toEqual([6, 5, 1, 2]);
    // Per row (clip n, frame t): channel values at w = 0, written out by hand.
    // ch0,ch1 <- frame t+1; ch2,ch3 <- frame t-1; ch4 unchanged; 0 where the frame is outside the clip.
    const expected = [
      [10, 11, 0, 0, 4], //    n0 t0
      [20, 21, 2, 3, 14], //   n0 t1
      [0, 0, 12, 13, 24], //   n0 t2
      [110, 111, 0, 0, 104], // n1 t0 (never reads clip 0)
      [120, 121, 102, 103, 114],
      [0, 0, 112, 113, 124],
    ];
    for (let r = 0; r < 6; r++) {
      for (let c = 0; c < 5; c++) {
        const e = expected[r][c];
        expect(data[(r * 5 + c) * 2]).toBe(e);
        expect(data[(r * 5 + c) * 2 + 1]).toBe(e === 0 ? 0 : e + 0.5);
      }
    }
  });

  it("uses fold = floor(C / shiftDiv) (C=5, shiftDiv 4: fold 1) and is the identity when fold is 0", async () => {
    const ops = new TfOps();
    const x = ops.input(input(), [6, 5, 1, 2]);
    const { data } = await ops.read(temporalShift(ops, x, 3, 4));
    // row n0 t1: ch0 <- t2, ch1 <- t0, ch2..4 unchanged
    expect([0, 1, 2, 3, 4].map((c) => data[(1 * 5 + c) * 2])).toEqual([20, 1, 12, 13, 14]);
    expect(temporalShift(ops, x, 3, 8)).toBe(x);
  });
});
