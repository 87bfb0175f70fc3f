/**
 * Each model's `initWeights` against a frozen copy of the trainer's init before models owned it
 * (train/src/init.ts at ed7e7e5): same values bit for bit, so earlier training runs reproduce.
 */
import { createHash } from "node:crypto";
import { BatchNorm, Conv2d, Conv3d, deriveSeed, Linear, Rng, type VideoModel } from "@blvnet/core";
import { describe, expect, it } from "vitest";
import { createModel } from "./index.js";

function legacyInit(model: VideoModel, seed: number): void {
  const fillNormal = (data: Float32Array, std: number, rng: Rng) => {
    for (let i = 0; i < data.length; i++) data[i] = rng.normal() * std;
  };
  const zeroLastBn = model.family.startsWith("blvnet");
  model.namedModules().forEach(([name, m], index) => {
    const rng = new Rng(deriveSeed(seed, 0x1417, index));
    if (m instanceof Conv2d || m instanceof Conv3d) {
      const [out, , ...kernel] = m.weight.shape;
      const fanOut = out! * kernel.reduce((a, b) => a * b, 1);
      const w = new Float32Array(m.weight.numel);
      fillNormal(w, Math.sqrt(2 / fanOut), rng);
      m.weight.set(w);
      m.bias?.set(new Float32Array(m.bias.numel));
    } else if (m instanceof BatchNorm) {
      const { weight, bias, runningMean, runningVar, numBatchesTracked } = m.params;
      weight.set(new Float32Array(weight.numel).fill(zeroLastBn && /(^|\.)bn3$/.test(name) ? 0 : 1));
      bias.set(new Float32Array(bias.numel));
      runningMean.set(new Float32Array(runningMean.numel));
      runningVar.set(new Float32Array(runningVar.numel).fill(1));
      numBatchesTracked.set(new BigInt64Array(1));
    } else if (m instanceof Linear) {
      const w = new Float32Array(m.weight.numel);
      fillNormal(w, 0.001, rng);
      m.weight.set(w);
      m.bias?.set(new Float32Array(m.bias.numel));
    }
  });
}

const SMALL: [string, Record<string, unknown>][] = [
  ["blvnet-tam", { width: 8, frames: 4, size: 32, numClasses: 5 }],
  ["blvnet", { width: 8, frames: 4, size: 32, numClasses: 5, dropout: 0 }],
  ["tsm", { depth: 50, width: 8, frames: 4, size: 32, numClasses: 5 }],
  ["tam-resnet", { depth: 18, width: 8, frames: 4, size: 32, numClasses: 5 }],
  ["r2plus1d", { frames: 4, size: 16, numClasses: 5 }],
];

/** Each tensor's key and a digest of its bytes (cheap enough for 30M-parameter models). */
const values = (m: VideoModel) =>
  m.namedTensors().map(
    ([k, p]) =>
      `${k} ${createHash("sha1")
        .update(new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.byteLength))
        .digest("hex")}`,
  );

describe("model-owned init", () => {
  it.each(SMALL)("%s: initWeights(new Rng(seed)) equals the former trainer init", (name, opts) => {
    const ours = createModel(name, opts);
    const legacy = createModel(name, opts);
    ours.initWeights(new Rng(1234));
    legacyInit(legacy, 1234);
    expect(values(ours)).toEqual(values(legacy));
  });

  it("zero-inits every residual branch's last BN on request, in every ResNet", () => {
    const cases = [
      ["tsm", { depth: 50, width: 8, shiftPlace: "block" }, /\.bn3\.weight$/],
      ["tsn", { depth: 18, width: 8 }, /layer\d\.\d+\.bn2\.weight$/],
      ["tam-resnet", { depth: 50, width: 8 }, /\.bn3\.weight$/],
      ["i3d", {}, /\.bn3\.weight$/],
    ] as const;
    for (const [name, opts, last] of cases) {
      const lastBns = (m: VideoModel) => m.namedTensors().filter(([k]) => last.test(k));
      const m = createModel(name, { ...opts, numClasses: 5 });
      m.initWeights(new Rng(1));
      expect(
        lastBns(m).every(([, p]) => p.f32.every((v) => v === 1)),
        `${name} default`,
      ).toBe(true);
      m.initWeights(new Rng(1), { zeroInitResidual: true });
      expect(lastBns(m).length).toBeGreaterThan(0);
      expect(
        lastBns(m).every(([, p]) => p.f32.every((v) => v === 0)),
        `${name} zeroInitResidual`,
      ).toBe(true);
    }
    const video = createModel("r3d", { numClasses: 5, frames: 2, size: 16 });
    video.initWeights(new Rng(1), { zeroInitResidual: true });
    expect(
      video
        .namedTensors()
        .filter(([k]) => /conv2\.1\.weight$/.test(k))
        .every(([, p]) => p.f32.every((v) => v === 0)),
    ).toBe(true);
  });

  it("bLVNet zero-inits its bottlenecks' bn3 by default, and not when asked not to", () => {
    const m = createModel("blvnet-tam", { width: 8, frames: 4, numClasses: 5 });
    const bn3 = () => m.namedTensors().filter(([k]) => k.endsWith("bn3.weight"));
    m.initWeights(new Rng(2));
    expect(bn3().every(([, p]) => p.f32.every((v) => v === 0))).toBe(true);
    m.initWeights(new Rng(2), { zeroInitResidual: false });
    expect(bn3().every(([, p]) => p.f32.every((v) => v === 1))).toBe(true);
  });
});
