import { readFileSync } from "node:fs";
import { createModel, fillDeterministic, getModelEntry, type Ops, pair, refgenInput, type VideoModel, windowOut } from "@blvnet/core";
import { initBackend, runForward } from "@blvnet/engine-tfjs";
import { describe, expect, it } from "vitest";
import "./index.js";

const fixture = (p: string) => new URL(`../../../fixtures/${p}`, import.meta.url);

/** Shapes only: checks every op's operand shapes and returns the result shape (logical layout). */
const shapeOps: Ops<number[]> = {
  kind: "shape-test",
  shape: (x) => x,
  conv2d(x, w, _b, o = {}) {
    const [n, c, h, wd] = x;
    const [cout, cin, kh, kw] = w.shape;
    expect(cin * (o.groups ?? 1), `${w.name} input channels`).toBe(c);
    const [sh, sw] = pair(o.stride, 1);
    const [ph, pw] = pair(o.padding, 0);
    return [n, cout, windowOut(h, kh, sh, ph), windowOut(wd, kw, sw, pw)];
  },
  conv3d: () => {
    throw new Error("no conv3d in bLVNet");
  },
  linear(x, w) {
    expect(x[1], w.name).toBe(w.shape[1]);
    return [x[0], w.shape[0]];
  },
  batchNorm(x, bn) {
    expect(x[1], bn.weight.name).toBe(bn.weight.shape[0]);
    return x;
  },
  relu: (x) => x,
  add(a, b) {
    expect(a).toEqual(b);
    return a;
  },
  sum(xs) {
    for (const x of xs) expect(x).toEqual(xs[0]);
    return xs[0];
  },
  dropout: (x) => x,
  maxPool2d: () => {
    throw new Error("no max pool in bLVNet");
  },
  avgPool2d(x, o) {
    const [k, s, p] = [pair(o.kernel, 1), pair(o.stride ?? o.kernel, 1), pair(o.padding, 0)];
    return [x[0], x[1], windowOut(x[2], k[0], s[0], p[0]), windowOut(x[3], k[1], s[1], p[1])];
  },
  maxPool3d: () => {
    throw new Error("no 3-D pooling in bLVNet");
  },
  globalAvgPool: (x) => [x[0], x[1]],
  resizeNearest: (x, h, w) => [x[0], x[1], h, w],
  clipsToFrames(x, t) {
    expect(x[1] % t).toBe(0);
    return [x[0] * t, x[1] / t, x[2], x[3]];
  },
  gatherRows(x, rows) {
    expect(Math.max(...rows)).toBeLessThan(x[0]);
    return [rows.length, ...x.slice(1)];
  },
  timeShift(x, frames) {
    expect(x[0] % frames).toBe(0);
    return x;
  },
  sliceChannels: (x, a, b) => [x[0], b - a, ...x.slice(2)],
  concatChannels: (xs) => [xs[0][0], xs.reduce((s, x) => s + x[1], 0), ...xs[0].slice(2)],
  segmentMean(x, s) {
    expect(x[0] % s).toBe(0);
    return [x[0] / s, x[1]];
  },
};

const keysOf = (m: VideoModel) => m.namedTensors().filter(([k]) => !k.endsWith("num_batches_tracked"));
const trainable = (m: VideoModel, filter: (k: string) => boolean = () => true) =>
  m
    .namedTensors()
    .filter(([k, p]) => p.trainable && filter(k))
    .reduce((s, [, p]) => s + p.numel, 0);

describe("bLVNet-TAM structure", () => {
  it("has the official state_dict keys, shapes and order (small golden config)", () => {
    const golden = JSON.parse(readFileSync(fixture("golden/small-blvnet-tam-50-f4x2-64.json"), "utf8")) as {
      params: { key: string; shape: number[] }[];
    };
    const model = createModel("blvnet-tam", { depth: 50, frames: 8, numClasses: 10, dropout: 0, size: 64 });
    expect(keysOf(model).map(([k, p]) => `${k} [${p.shape}]`)).toEqual(golden.params.map((p) => `${p.key} [${p.shape}]`));
    expect(model.id).toBe("blvnet-tam-50-a2-b4-f4x2");
  });

  it("moves the classifier to new_fc when dropout > 0, like the official wrapper", () => {
    const keys = keysOf(createModel("blvnet-tam", { frames: 4, numClasses: 7, dropout: 0.5 })).map(([k]) => k);
    expect(keys.slice(-2)).toEqual(["new_fc.weight", "new_fc.bias"]);
    expect(keys.some((k) => k.startsWith("baseline_model.fc."))).toBe(false);
  });

  // Official counts (results/reference/counts.csv, 174 classes): whole model and TAM-only parameters.
  const counts = readFileSync(new URL("../../../results/reference/counts.csv", import.meta.url), "utf8")
    .split("\n")
    .map((l) => l.split(","))
    .filter((r) => /^blvnet-(tam|notam)-\d+-f\d+x2$/.test(r[0]));
  it.each(counts.map((r) => [r[0], Number(r[3]), Number(r[4])]))("%s has %f M params (%i in TAMs)", (id, paramsM, tamParams) => {
    const [, kind, depth, k] = /^blvnet-(tam|notam)-(\d+)-f(\d+)x2$/.exec(id as string)!;
    const model = createModel(kind === "tam" ? "blvnet-tam" : "blvnet", { depth: Number(depth), frames: 2 * Number(k), numClasses: 174 });
    expect((trainable(model) / 1e6).toFixed(6)).toBe((paramsM as number).toFixed(6));
    expect(trainable(model, (key) => /(^|\.)tam\./.test(key))).toBe(tamParams);
  });

  it("removes every TAM in the `blvnet` entry", () => {
    const model = createModel("blvnet", { frames: 8 });
    expect(model.namedTensors().some(([k]) => k.includes("tam"))).toBe(false);
    expect(model.id).toBe("blvnet-notam-50-a2-b4-f4x2");
  });

  it("maps golden configs to the right entry", () => {
    const cfg = { depth: 101, groups: 32, num_classes: 174, blending_frames: 3, alpha: 2, beta: 4, dropout: 0.0, resolution: 224 };
    const tam = getModelEntry("blvnet-tam");
    const notam = getModelEntry("blvnet");
    expect(tam.fromGoldenConfig!(cfg)).toEqual({
      depth: 101,
      alpha: 2,
      beta: 4,
      frames: 32,
      numClasses: 174,
      size: 224,
      blendingFrames: 3,
      dropout: 0,
    });
    expect(notam.fromGoldenConfig!(cfg)).toBeNull();
    expect(tam.fromGoldenConfig!({ ...cfg, tam: false })).toBeNull();
    expect(notam.fromGoldenConfig!({ ...cfg, blending_frames: 0 })).toMatchObject({ depth: 101, frames: 32 });
  });

  it("rejects odd frame counts with a clear error", () => {
    expect(() => createModel("blvnet-tam", { frames: 7 })).toThrow(
      /option frames of model "blvnet-tam" must be an even integer >= 2, got 7/,
    );
  });

  const configs: [number, number, number][] = [];
  for (const depth of [50, 101, 152]) for (const frames of [16, 32]) for (const size of [112, 224]) configs.push([depth, frames, size]);
  it.each(configs)("builds and runs bLResNet-%i, %i frames, %ix%i (shapes)", (depth, frames, size) => {
    for (const name of ["blvnet-tam", "blvnet"]) {
      const model = createModel(name, { depth, frames, size, numClasses: 174 });
      expect(model.forward(shapeOps, [2, frames * 3, size, size])).toEqual([2, 174]);
    }
  });
});

describe("bLVNet-TAM numerics", () => {
  it("keeps clips apart at 112x112 (7->4->7 nearest upsampling in layer3)", async () => {
    await initBackend();
    const model = createModel("blvnet-tam", { depth: 50, frames: 2, size: 112, numClasses: 5, dropout: 0 });
    fillDeterministic(model);
    model.eval();
    const one = [1, 6, 112, 112];
    const two = [2, 6, 112, 112];
    const x2 = refgenInput(two);
    const both = await runForward(model, x2, two);
    const first = await runForward(model, x2.subarray(0, x2.length / 2), one);
    expect(both.shape).toEqual([2, 5]);
    expect(both.data.every(Number.isFinite)).toBe(true);
    const scale = Math.max(...first.data.map(Math.abs));
    for (let i = 0; i < 5; i++) expect(Math.abs(both.data[i] - first.data[i])).toBeLessThan(1e-5 * scale);
    expect(Math.max(...[0, 1, 2, 3, 4].map((i) => Math.abs(both.data[5 + i] - first.data[i])))).toBeGreaterThan(1e-3 * scale);
  });
});
