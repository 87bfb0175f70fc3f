import { describe, expect, it } from "vitest";
import { deviceName, simdLevel } from "./provenance.js";

describe("deviceName", () => {
  it("names the widest SIMD level from /proc/cpuinfo's flags", () => {
    const info = (flags: string) => `processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu ${flags} sse4_2\n\nprocessor\t: 1\n`;
    expect(simdLevel(info("avx avx2 fma avx512f avx512bw"))).toBe("AVX-512");
    expect(simdLevel(info("avx avx2 fma"))).toBe("AVX2");
    expect(simdLevel(info("avx fma"))).toBe("");
    expect(simdLevel("no flags here")).toBe("");
  });

  it("holds the model, the core count and (on Linux x86) the SIMD level", () => {
    expect(deviceName()).toMatch(/ x\d+( AVX-512| AVX2)?$/);
  });
});
