// The analytic profile against the official counts (results/reference/counts.csv): every configuration
// is profiled with the shape-only interpreter (no tensor is allocated; all 19 take about a second).
import { describe, expect, it } from "vitest";
import { configName, parseConfigName } from "./configs.js";
import { checkReferenceConfigs, readCounts, TOLERANCE } from "./reference.js";
import { profileTarget } from "./target.js";

const COUNTS = new URL("../../../../results/reference/counts.csv", import.meta.url).pathname;
const refs = readCounts(COUNTS);
const checks = checkReferenceConfigs(refs);

describe("official counts", () => {
  it("covers every configuration of counts.csv", () => {
    expect(refs.length).toBeGreaterThanOrEqual(19);
    expect(checks.map((c) => c.config)).toEqual(refs.map((r) => r.config));
  });

  it.each(checks.map((c) => [c.config, c] as const))(
    "%s: params, MACs and other FLOPs within 0.1%%, saved activations within 5%%",
    (_, c) => {
      expect(Math.abs(c.relErr.params)).toBeLessThanOrEqual(TOLERANCE.params);
      expect(Math.abs(c.relErr.macs)).toBeLessThanOrEqual(TOLERANCE.macs);
      expect(Math.abs(c.relErr.other_flops)).toBeLessThanOrEqual(TOLERANCE.other_flops);
      expect(Math.abs(c.relErr.saved_activation_bytes)).toBeLessThanOrEqual(TOLERANCE.saved_activation_bytes);
      expect(c.ok).toBe(true);
    },
  );

  // Tighter than the acceptance tolerance: the per-op rules model autograd tensor by tensor, so any
  // drift (a model op changed, a rule changed) shows up here first. The official other-op GFLOPs
  // have 6 decimals (1e-6 G of 0.07 G at the least: 1.4e-5 relative).
  it("reproduces params, MACs and saved bytes to 1e-6 relative, other-op FLOPs to the file's rounding", () => {
    for (const c of checks) {
      const { other_flops, ...rest } = c.relErr;
      for (const v of Object.values(rest)) expect(Math.abs(v), c.config).toBeLessThan(1e-6);
      expect(Math.abs(other_flops), c.config).toBeLessThan(1e-6 / (c.reference.otherFlops / 1e9));
    }
  });
});

describe("configuration names", () => {
  it("parses the official names generally", () => {
    expect(parseConfigName("blvnet-tam-101-f32x2")).toMatchObject({
      model: "blvnet-tam",
      options: { depth: 101, frames: 64, numClasses: 174, size: 224 },
    });
    expect(parseConfigName("blvnet-notam-50-f8x2")).toMatchObject({ model: "blvnet", options: { depth: 50, frames: 16 } });
    expect(parseConfigName("blvnet-tam-50-a2-b4-f4x2")).toMatchObject({ model: "blvnet-tam", options: { alpha: 2, beta: 4, frames: 8 } });
    expect(parseConfigName("tsm-r101-32f")).toMatchObject({ model: "tsm", options: { depth: 101, frames: 32 } });
    expect(parseConfigName("r2plus1d_18-16f")).toMatchObject({
      model: "r2plus1d",
      options: { depth: 18, frames: 16, numClasses: 400, size: 112 },
    });
    expect(parseConfigName("mc3_18-8f")).toMatchObject({ model: "mc3", options: { frames: 8 } });
    for (const bad of ["blvnet-tam-50", "tsn-50-8f", "resnet50", "r3d_18"]) expect(parseConfigName(bad)).toBeNull();
  });

  it("round-trips through configName", () => {
    for (const r of refs) {
      const t = parseConfigName(r.config)!;
      expect(configName(t.model, t.options.depth as number, t.options.frames as number)).toBe(r.config);
    }
  });

  it("uses the class counts the official params imply (174 for TSN-R50, not 1000)", () => {
    const tsn = parseConfigName("tsn-r50-8f")!;
    expect(profileTarget(tsn, 1).params).toBe(23_864_558);
    expect(profileTarget({ ...tsn, options: { ...tsn.options, numClasses: 1000 } }, 1).params).toBe(25_557_032);
  });
});
