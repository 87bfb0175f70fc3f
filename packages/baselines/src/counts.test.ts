/**
 * Parameter counts (sum of Param.numel, no tensors) and MACs (shape-only interpreter) against the
 * official figures in results/reference/counts.csv (forward hooks on the official PyTorch code).
 */
import { readFileSync } from "node:fs";
import { createModel, profileModel, type VideoModel } from "@blvnet/core";
import { describe, expect, it } from "vitest";
import "./index.js";

interface CountRow {
  model: string;
  paramsM: number;
  gmacs: number;
}

/** The leading numeric columns of counts.csv (quoted free-text columns come later). */
function readCounts(): Map<string, CountRow> {
  const lines = readFileSync(new URL("../../../results/reference/counts.csv", import.meta.url), "utf8")
    .trim()
    .split("\n");
  const header = lines[0].split(",");
  const col = (name: string) => header.indexOf(name);
  const rows = new Map<string, CountRow>();
  for (const line of lines.slice(1)) {
    const f = line.split(",");
    rows.set(f[col("model")], { model: f[col("model")], paramsM: Number(f[col("params_M")]), gmacs: Number(f[col("GMACs")]) });
  }
  return rows;
}

const trainableParams = (m: VideoModel) => m.parameters().reduce((a, p) => a + p.numel, 0);

const CASES: [csvRow: string, name: string, options: Record<string, unknown>][] = [
  ["tsn-r50-8f", "tsn", { frames: 8 }],
  ["tsn-r50-16f", "tsn", { frames: 16 }],
  ["tsm-r50-8f", "tsm", { frames: 8 }],
  ["tsm-r50-16f", "tsm", { frames: 16 }],
  ["r2plus1d_18-16f", "r2plus1d", {}],
  ["r3d_18-16f", "r3d", {}],
];

describe("params and MACs vs results/reference/counts.csv", () => {
  const counts = readCounts();
  for (const [row, name, options] of CASES) {
    it(`${row}: ${name} ${JSON.stringify(options)} with default classes and input size`, () => {
      const ref = counts.get(row);
      expect(ref, `row ${row} in counts.csv`).toBeDefined();
      const model = createModel(name, options);
      model.eval();
      expect(trainableParams(model) / 1e6).toBeCloseTo(ref!.paramsM, 6);
      const prof = profileModel(model);
      expect(prof.params).toBe(trainableParams(model));
      expect(Math.abs(prof.macs / 1e9 - ref!.gmacs) / ref!.gmacs).toBeLessThan(1e-3);
    });
  }

  it("TSN and TSM default to 174 classes (Something-Something), the 3D models to 400 (Kinetics)", () => {
    expect(createModel("tsn").numClasses).toBe(174);
    expect(createModel("tsm").numClasses).toBe(174);
    expect(createModel("tam-resnet").numClasses).toBe(174);
    for (const n of ["r3d", "mc3", "r2plus1d", "i3d"]) expect(createModel(n).numClasses).toBe(400);
  });

  it("mc3_18 has torchvision's 11,695,440 parameters", () => {
    expect(trainableParams(createModel("mc3"))).toBe(11_695_440);
  });

  it("TAM-ResNet-50 adds B * C_in per block to TSN-R50 (B = 3)", () => {
    const inChannels = [64, 256, 256, 256, 512, 512, 512, 512, 1024, 1024, 1024, 1024, 1024, 1024, 2048, 2048];
    const extra = 3 * inChannels.reduce((a, b) => a + b, 0);
    expect(trainableParams(createModel("tam-resnet")) - trainableParams(createModel("tsn"))).toBe(extra);
  });
});
