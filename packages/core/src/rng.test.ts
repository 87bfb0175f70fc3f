import { describe, expect, it } from "vitest";
import { dropoutMask, Rng } from "./rng.js";

/** The engines' former private generator (unsigned state): masks must not change. */
function legacyMask(seed: number, size: number, p: number): Float32Array {
  let state = seed >>> 0;
  const keep = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    let t = (state = (state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    keep[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296 >= p ? 1 / (1 - p) : 0;
  }
  return keep;
}

describe("dropoutMask", () => {
  it.each([0, 1, 7, 2 ** 31 + 5, 4294967295])("draws the former masks from seed %i", (seed) => {
    const rng = new Rng(seed);
    const first = dropoutMask(rng, 1000, 0.5);
    const second = dropoutMask(rng, 10, 0.2);
    expect(first).toEqual(legacyMask(seed, 1000, 0.5));
    expect(second).toEqual(legacyMask(seed, 1010, 0.2).subarray(1000));
  });
});
