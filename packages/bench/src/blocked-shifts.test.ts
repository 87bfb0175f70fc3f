/**
 * Time shifts on onnxruntime's blocked maps (engine-onnx nchwc-reorders.ts): the rewritten session
 * gives exactly the plain session's logits, for TAM's frame shifts (bLVNet-TAM) and TSM's channel
 * shifts, with a static and a dynamic batch; and the rewrite does apply to both (x64: onnxruntime's
 * blocked layout is an x64 CPU feature). Then TAM's blends as RowBlend custom ops on blocked maps
 * (row-blend-session.ts), where the custom-op library builds: the plain session's logits again.
 */
import { fillDeterministic, inputShape, refgenInput, type VideoModel } from "@blvnet/core";
import { OrtEngine, type OrtEngineOptions, rowBlendAvailable } from "@blvnet/engine-onnx";
import { createModel } from "@blvnet/models";
import { describe, expect, it } from "vitest";

const cases: [string, Record<string, unknown>][] = [
  ["blvnet-tam", { depth: 50, frames: 8, size: 64, numClasses: 10, dropout: 0 }],
  // layers 2-4 have 128+ channels: TSM's 1/8 folds are whole channel blocks there
  ["tsm", { depth: 18, frames: 8, size: 64, numClasses: 10, dropout: 0 }],
];

/** Logits of `model` with engine options `opts`, static (1 clip) or dynamic batch (2 clips). */
async function logits(model: VideoModel, dynamicBatch: boolean, opts: OrtEngineOptions) {
  const clips = dynamicBatch ? 2 : 1;
  const shape = inputShape(model.inputSpec, clips);
  const engine = await OrtEngine.create(model, { clips, dynamicBatch, threads: 2, ...opts });
  try {
    return { engine, ...(await engine.run(refgenInput(shape), shape)) };
  } finally {
    await engine.release();
  }
}

describe.runIf(process.arch === "x64")("time shifts on blocked maps (onnxruntime CPU)", () => {
  it.each(cases)("%s %j: exactly the plain session's logits", async (name, options) => {
    const model = createModel(name, options);
    fillDeterministic(model);
    for (const dynamicBatch of [false, true]) {
      const plain = await logits(model, dynamicBatch, { blockedShifts: false, rowBlend: false });
      const blocked = await logits(model, dynamicBatch, { blockedShifts: true, rowBlend: false });
      expect(plain.engine.blockedShifts).toBe(0);
      expect(blocked.engine.blockedShifts).toBeGreaterThan(0);
      expect(blocked.shape).toEqual(plain.shape);
      expect(Array.from(blocked.data)).toEqual(Array.from(plain.data));
    }
  });
});

describe.runIf(process.arch === "x64" && rowBlendAvailable())("TAM blends as RowBlend custom ops on blocked maps", () => {
  it("bLVNet-TAM: the plain session's logits, static and dynamic batch", async () => {
    const model = createModel("blvnet-tam", cases[0][1]);
    fillDeterministic(model);
    for (const dynamicBatch of [false, true]) {
      const plain = await logits(model, dynamicBatch, { blockedShifts: false, rowBlend: false });
      const fused = await logits(model, dynamicBatch, {});
      expect(fused.engine.rowBlend).toBe(true);
      // every blend and shift on blocked maps: bLVNet-TAM-50 has 9 TAMs
      expect(fused.engine.blockedShifts).toBeGreaterThanOrEqual(9);
      expect(fused.shape).toEqual(plain.shape);
      const scale = Math.max(...Array.from(plain.data, Math.abs));
      const worst = Math.max(...Array.from(plain.data, (v, i) => Math.abs(v - fused.data[i])));
      expect(worst / scale).toBeLessThan(1e-6);
    }
  });
});
