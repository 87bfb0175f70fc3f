/**
 * Which registered models can tell a clip from its time reverse. TSN's consensus averages per-frame
 * logits, so reversing the frames leaves its output unchanged: on the synthetic benchmark's
 * time-reversed class pairs it can only sit at chance (synthetic.bench.ts measures it). Every other
 * video model mixes frames in order (TAM, temporal shift, 3D convs, bLVNet's big/little frame
 * pairs) and must give different logits for the reversed clip.
 */

import { fillDeterministic, type InputSpec, inputShape, refgenInput } from "@blvnet/core";
import { initBackend, runForward } from "@blvnet/engine-tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { createModel, listModels } from "./index.js";

/** The clip with its frames in reverse order, in the model's input layout. */
function reverseFrames(x: Float32Array, spec: InputSpec, clips: number): Float32Array {
  const { frames: t, channels: c, size: s } = spec;
  const plane = s * s;
  const out = new Float32Array(x.length);
  for (let n = 0; n < clips; n++) {
    for (let f = 0; f < t; f++) {
      for (let ch = 0; ch < c; ch++) {
        // N(TC)HW: frame-major channels; NCTHW: channel-major frames.
        const at = (frame: number) => (spec.layout === "NCTHW" ? ((n * c + ch) * t + frame) * plane : ((n * t + frame) * c + ch) * plane);
        out.set(x.subarray(at(t - 1 - f), at(t - 1 - f) + plane), at(f));
      }
    }
  }
  return out;
}

const SMALL: Record<string, Record<string, unknown>> = {
  "blvnet-tam": { depth: 50, width: 8, frames: 8, size: 32 },
  blvnet: { depth: 50, width: 8, frames: 8, size: 32 },
  tsn: { depth: 18, width: 8, frames: 8, size: 32 },
  tsm: { depth: 18, width: 8, frames: 8, size: 32 },
  "tam-resnet": { depth: 18, width: 8, frames: 8, size: 32 },
  // The 3D CNNs have the official width only: the fewest frames and pixels that keep them cheap.
  r3d: { frames: 4, size: 16 },
  mc3: { frames: 4, size: 16 },
  r2plus1d: { frames: 4, size: 16 },
  i3d: { frames: 4, size: 32 },
};
/** Models whose output ignores frame order by design. */
const ORDER_BLIND = new Set(["tsn"]);

describe("frame order: reversed clips", () => {
  beforeAll(async () => {
    await initBackend();
  });

  it("covers every registered video model (the TAM module alone is not a classifier)", () => {
    expect(Object.keys(SMALL).sort()).toEqual(
      listModels()
        .map((e) => e.name)
        .filter((n) => n !== "tam")
        .sort(),
    );
  });

  it.each(Object.keys(SMALL))("%s", async (name) => {
    const model = createModel(name, { ...SMALL[name], numClasses: 5, dropout: 0 });
    fillDeterministic(model);
    model.eval();
    const shape = inputShape(model.inputSpec, 2);
    const x = refgenInput(shape);
    const forward = (await runForward(model, x, shape)).data;
    const reversed = (await runForward(model, reverseFrames(x, model.inputSpec, 2), shape)).data;
    const scale = Math.max(...forward.map(Math.abs));
    const change = Math.max(...forward.map((v, i) => Math.abs(v - reversed[i]!))) / scale;
    if (ORDER_BLIND.has(name)) expect(change).toBeLessThan(1e-5);
    else expect(change).toBeGreaterThan(1e-3);
  });
});
