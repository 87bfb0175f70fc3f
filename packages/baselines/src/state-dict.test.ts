/**
 * State-dict names, shapes and order against the official listing in the public TSM golden, the
 * refgen-v1 values of every entry, and the naming variants (TSN, dropout > 0, "block", TAM, R-101).
 */
import { readFileSync } from "node:fs";
import { createModel, getModelEntry, refgenTensor, type VideoModel } from "@blvnet/core";
import { describe, expect, it } from "vitest";
import "./index.js";

interface GoldenParam {
  key: string;
  shape: number[];
  sum: number;
  sum_abs: number;
  first4: number[];
}

const golden = JSON.parse(readFileSync(new URL("../../../fixtures/golden/small-tsm-r50-8f-64-2clips.json", import.meta.url), "utf8")) as {
  family: string;
  config: Record<string, unknown>;
  params: GoldenParam[];
};

/** Entries as the golden lists them: state_dict order without num_batches_tracked. */
const listing = (m: VideoModel) =>
  m
    .namedTensors()
    .filter(([k]) => !k.endsWith("num_batches_tracked"))
    .map(([k, p]) => ({ key: k, shape: p.shape }));

function goldenModel(config: Record<string, unknown>): VideoModel {
  const candidates = ["tsn", "tsm"].map(getModelEntry).filter((e) => e.goldenFamilies?.includes(golden.family));
  const hits = candidates.map((e) => [e.name, e.fromGoldenConfig?.(config)] as const).filter(([, o]) => o);
  expect(hits.map(([n]) => n)).toHaveLength(1);
  return createModel(hits[0][0], hits[0][1]!);
}

describe("TSM-R50 state dict vs the official listing (small-tsm-r50-8f-64-2clips)", () => {
  const model = goldenModel(golden.config);

  it("is built by the tsm entry with the golden's options", () => {
    expect(model.id).toBe("tsm-r50-s8-blockres-f8");
    expect(model.numClasses).toBe(10);
    expect(model.inputSpec.size).toBe(64);
  });

  it("has the same keys, shapes and order", () => {
    expect(listing(model)).toEqual(golden.params.map(({ key, shape }) => ({ key, shape })));
  });

  it("gets the golden's refgen-v1 values for every entry", () => {
    for (const e of golden.params) {
      const v = refgenTensor(e.key, e.shape);
      let sum = 0;
      let sumAbs = 0;
      for (const x of v) {
        sum += x;
        sumAbs += Math.abs(x);
      }
      expect(Math.abs(sum - e.sum), e.key).toBeLessThanOrEqual(1e-9 * Math.max(1, e.sum_abs));
      expect(Math.abs(sumAbs - e.sum_abs), e.key).toBeLessThanOrEqual(1e-9 * Math.max(1, e.sum_abs));
      expect([...v.subarray(0, 4)], e.key).toEqual(e.first4);
    }
  });
});

describe("naming variants", () => {
  const keys = (name: string, o: Record<string, unknown>) =>
    createModel(name, o)
      .namedTensors()
      .map(([k]) => k);
  const tsmKeys = keys("tsm", { numClasses: 10, dropout: 0 });

  it("TSN (is_shift=False) is TSM without the .net wrapper", () => {
    const g = goldenModel({ ...golden.config, shift: false });
    expect(g.id).toBe("tsn-r50-f8");
    expect(g.namedTensors().map(([k]) => k)).toEqual(tsmKeys.map((k) => k.replace(".conv1.net.", ".conv1.")));
  });

  it("dropout > 0 moves the classifier from base_model.fc to new_fc (last), as TSN._prepare_tsn does", () => {
    const k = keys("tsm", { numClasses: 10, dropout: 0.5 });
    expect(k.filter((x) => x.includes("fc"))).toEqual(["new_fc.weight", "new_fc.bias"]);
    expect(k.slice(0, -2)).toEqual(tsmKeys.filter((x) => !x.startsWith("base_model.fc.")));
    // a golden config without `dropout` takes the TSN constructor default (0.8)
    expect(getModelEntry("tsm").fromGoldenConfig!({ num_segments: 8, num_classes: 10, shift: true })).toMatchObject({ dropout: 0.8 });
  });

  it('shiftPlace "block" wraps whole blocks: layer1.0.net.conv1.weight', () => {
    const k = keys("tsm", { shiftPlace: "block", dropout: 0 });
    expect(k).toContain("base_model.layer1.0.net.conv1.weight");
    expect(k).toContain("base_model.layer4.0.net.downsample.0.weight");
    expect(k.filter((x) => x.includes(".conv1.net."))).toEqual([]);
  });

  it("ResNet-101 blockres shifts every other block of each stage (official n_round = 2)", () => {
    const k = keys("tsm", { depth: 101 });
    const shifted = k.filter((x) => x.endsWith("conv1.net.weight")).map((x) => x.split(".").slice(1, 3).join("."));
    const expected = [3, 4, 23, 3].flatMap((n, s) =>
      Array.from({ length: n }, (_, i) => i)
        .filter((i) => i % 2 === 0)
        .map((i) => `layer${s + 1}.${i}`),
    );
    expect(shifted).toEqual(expected);
  });

  it("TAM-ResNet puts conv1.tam.{prev,next,curr} before conv1.net in every block", () => {
    const k = keys("tam-resnet", { dropout: 0 });
    const i = k.indexOf("base_model.layer1.0.conv1.tam.prev.weight");
    expect(k.slice(i, i + 4)).toEqual([
      "base_model.layer1.0.conv1.tam.prev.weight",
      "base_model.layer1.0.conv1.tam.next.weight",
      "base_model.layer1.0.conv1.tam.curr.weight",
      "base_model.layer1.0.conv1.net.weight",
    ]);
    expect(k.filter((x) => x.endsWith("conv1.net.weight"))).toHaveLength(16);
    expect(keys("tam-resnet", { blendingFrames: 5 })).toContain("base_model.layer3.5.conv1.tam.blending_layers.4.weight");
  });
});
