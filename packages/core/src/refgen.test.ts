import { describe, expect, it } from "vitest";
import { fanInScale, fnv1a32, hash, refgenInput, refgenTensor } from "./refgen.js";

const bits = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];

// Test vectors from fixtures/golden/weights-spec.md.
describe("refgen-v1", () => {
  it("hashes names and indices like the spec", () => {
    expect(fnv1a32("conv1.weight")).toBe(0xbdcec494);
    expect(fnv1a32("input")).toBe(0xf9d86f7b);
    const seed = fnv1a32("conv1.weight");
    expect([...Array(8).keys()].map((i) => hash(seed, i))).toEqual([
      0xf454cb0b, 0x85c50188, 0x440a9e17, 0x18317c28, 0xaf25b126, 0x23988b7d, 0xaf6caa6a, 0x3551ad4d,
    ]);
  });

  it("generates conv weights bit-exactly", () => {
    expect(bits(new Float32Array([fanInScale(147)]))).toEqual([0x3e924925]);
    const w = refgenTensor("conv1.weight", [64, 3, 7, 7]).subarray(0, 8);
    expect(bits(w)).toEqual([0x3e04f332, 0x3bd30025, 0xbd890c4e, 0xbded45c1, 0x3d5787bc, 0xbdd3359e, 0x3d58cc2e, 0xbdaab307]);
  });

  it("generates the input bit-exactly", () => {
    expect(bits(new Float32Array([fanInScale(1)]))).toEqual([0x405db3d7]);
    expect(bits(refgenInput([8]))).toEqual([
      0x3f8497c0, 0x3ea0dc60, 0xbf7caa04, 0x3e08c8a7, 0xbeb5617e, 0x3e580baf, 0x3d702037, 0xbee84e12,
    ]);
  });

  it("generates BN weights and running variances", () => {
    expect(bits(refgenTensor("bn1.weight", [64]).subarray(0, 2))).toEqual([0x3f6bdf66, 0x3f89ead0]);
    expect(bits(refgenTensor("bn1.running_var", [64]).subarray(0, 2))).toEqual([0x3f837266, 0x3f99944a]);
    expect(refgenTensor("bn1.num_batches_tracked", []).every((v) => v === 0)).toBe(true);
  });
});
