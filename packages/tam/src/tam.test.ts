import { assignNames, createModel, fillDeterministic, getModelEntry, profileModel, refgenInput, refgenTensor } from "@blvnet/core";
import { initBackend, runForward } from "@blvnet/engine-tfjs";
import { describe, expect, it } from "vitest";
import "./index.js";
import type { TamModel } from "./model.js";
import { TAM } from "./tam.js";

/** Direct loop of the TAM definition: out[n,t,c] = ReLU(sum_k w_k[c] * x[n, t+k-B//2, c]), zero outside the clip. */
function tamReference(x: Float32Array, w: Float32Array[], clips: number, frames: number, channels: number, hw: number): Float64Array {
  const out = new Float64Array(x.length);
  const half = Math.floor(w.length / 2);
  for (let n = 0; n < clips; n++)
    for (let t = 0; t < frames; t++)
      for (let c = 0; c < channels; c++)
        for (let p = 0; p < hw; p++) {
          let s = 0;
          w.forEach((wk, k) => {
            const src = t + k - half;
            if (src >= 0 && src < frames) s += wk[c] * x[((n * frames + src) * channels + c) * hw + p];
          });
          out[((n * frames + t) * channels + c) * hw + p] = Math.max(0, s);
        }
  return out;
}

describe("TAM", () => {
  it("names its convs like the official module", () => {
    const t3 = new TAM(4, 8, 3);
    assignNames(t3);
    expect(t3.namedTensors().map(([k, p]) => `${k} [${p.shape}]`)).toEqual([
      "prev.weight [4,1,1,1]",
      "next.weight [4,1,1,1]",
      "curr.weight [4,1,1,1]",
    ]);
    const t5 = new TAM(4, 8, 5);
    expect(t5.namedTensors().map(([k]) => k)).toEqual([0, 1, 2, 3, 4].map((k) => `blending_layers.${k}.weight`));
    expect(t5.taps.map((t) => t.offset)).toEqual([-2, -1, 0, 1, 2]);
  });

  for (const blending of [3, 5]) {
    it(`blends ${blending} frames inside each clip (tfjs vs a direct loop)`, async () => {
      await initBackend();
      const [clips, frames, channels, h, w] = [2, 4, 3, 2, 3];
      const model = createModel("tam", { channels, frames, blendingFrames: blending, size: h }) as TamModel;
      fillDeterministic(model);
      model.eval();
      const shape = [clips * frames, channels, h, w];
      const x = refgenInput(shape);
      const { data, shape: outShape } = await runForward(model, x, shape);
      expect(outShape).toEqual(shape);
      const weights = model.tam.taps.map((t) => t.conv.weight.f32);
      const ref = tamReference(x, weights, clips, frames, channels, h * w);
      for (let i = 0; i < ref.length; i++) expect(data[i]).toBeCloseTo(ref[i], 5);
      // the weights really are refgen-v1's, by official key
      expect([...weights[0]]).toEqual([...refgenTensor(blending === 3 ? "prev.weight" : "blending_layers.0.weight", [channels, 1, 1, 1])]);
    });
  }

  it("is counted like the official stack-and-sum: B MACs and B reduce FLOPs per output, then a ReLU", () => {
    for (const blendingFrames of [3, 5]) {
      const model = createModel("tam", { channels: 4, frames: 4, blendingFrames, size: 5 });
      const p = profileModel(model, 2);
      const outputs = 2 * 4 * 4 * 5 * 5;
      expect(p.macs).toBe(blendingFrames * outputs);
      expect(p.flops).toEqual({ reduce: blendingFrames * outputs, relu: outputs });
    }
  });

  it("maps golden configs and rejects even blending", () => {
    const entry = getModelEntry("tam");
    expect(entry.fromGoldenConfig!({ channels: 64, duration: 8, blending_frames: 5, resolution: 14 })).toEqual({
      channels: 64,
      frames: 8,
      blendingFrames: 5,
      size: 14,
    });
    expect(() => createModel("tam", { blendingFrames: 4 })).toThrow(/odd/);
    expect(createModel("tam", { channels: 16, frames: 4 }).id).toBe("tam-c16-t4-bf3");
  });
});
