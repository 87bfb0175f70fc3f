import { describe, expect, it } from "vitest";
import { deviceName, portableCommand, simdLevel } from "./provenance.js";

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

describe("portableCommand", () => {
  it("publishes no folder of the machine: paths inside the working directory relative, others by their last part", () => {
    const args = [
      "reproduce",
      "--peer-src",
      "/work/main/.gpu/bLVNet-TAM",
      "/opt/x/temporal-shift-module",
      "--out=/root/out/speed.csv",
      "--frames",
      "16",
    ];
    expect(portableCommand(args, "/work/main")).toBe(
      "blvnet reproduce --peer-src .gpu/bLVNet-TAM .../temporal-shift-module --out=.../speed.csv --frames 16",
    );
    expect(portableCommand(["--backend", "ort", "/work/main"], "/work/main")).toBe("blvnet --backend ort .../main");
  });
});
