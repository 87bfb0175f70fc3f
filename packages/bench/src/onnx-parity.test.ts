/**
 * The registered models exported to ONNX and run by onnxruntime give the logits of the tfjs path
 * and of the official code (goldens), to 1e-4; every model exports with a dynamic batch.
 */
import { fileURLToPath } from "node:url";
import { fillDeterministic, inputShape, refgenInput, type VideoModel } from "@blvnet/core";
import { buildOnnx, OrtEngine, onnxNodes } from "@blvnet/engine-onnx";
import { initBackend, runForward } from "@blvnet/engine-tfjs";
import { createModel, listModels } from "@blvnet/models";
import { beforeAll, describe, expect, it } from "vitest";
import { loadGolden, outputValues } from "./golden.js";
import { maxRelErr, resolveGoldenModel } from "./verify.js";

const fixture = (name: string) => fileURLToPath(new URL(`../../../fixtures/golden/${name}`, import.meta.url));

function build(name: string, options: Record<string, unknown>): VideoModel {
  const model = createModel(name, options);
  fillDeterministic(model);
  return model.eval();
}

async function ortLogits(
  model: VideoModel,
  clips: number,
  dynamicBatch: boolean,
): Promise<{ data: Float32Array; shape: number[]; input: Float32Array }> {
  const shape = inputShape(model.inputSpec, clips);
  const input = refgenInput(shape);
  const engine = await OrtEngine.create(model, { dynamicBatch, clips, threads: 1 });
  try {
    return { ...(await engine.run(input, shape)), input };
  } finally {
    await engine.release();
  }
}

describe("ONNX (onnxruntime) vs tfjs logits", () => {
  beforeAll(async () => {
    await initBackend();
  });

  const cases: [string, Record<string, unknown>][] = [
    ["blvnet-tam", { depth: 50, frames: 4, size: 64, numClasses: 10, dropout: 0 }],
    ["tsm", { depth: 18, frames: 4, size: 32, numClasses: 10, dropout: 0 }],
    ["tsn", { depth: 18, frames: 4, size: 32, numClasses: 10, dropout: 0 }],
    ["r2plus1d", { depth: 18, frames: 4, size: 32, numClasses: 10 }],
  ];
  it.each(cases)("%s %j", async (name, options) => {
    const model = build(name, options);
    const ort = await ortLogits(model, 1, false);
    const ref = await runForward(model, ort.input, inputShape(model.inputSpec, 1));
    expect(ort.shape).toEqual(ref.shape);
    expect(maxRelErr(ort.data, ref.data)).toBeLessThanOrEqual(1e-4);
  });
});

describe("ONNX (onnxruntime, dynamic batch) vs the official goldens", () => {
  it.each(["small-blvnet-tam-50-f4x2-64-2clips.json", "small-tsm-r50-8f-64-2clips.json"])("%s", async (file) => {
    const golden = loadGolden(fixture(file));
    const { name, options } = resolveGoldenModel(golden);
    const model = build(name, options);
    const clips = golden.input.shape[0];
    const ort = await ortLogits(model, clips, true);
    expect(ort.shape).toEqual(golden.output.shape);
    expect(maxRelErr(ort.data, outputValues(golden))).toBeLessThanOrEqual(golden.tolerance_hint.float32_impl);
  });
});

/** Small options per registry entry (each model's own names). */
const SMALL: Record<string, Record<string, unknown>> = {
  tam: { channels: 8, frames: 4, size: 5 },
  "blvnet-tam": { depth: 50, frames: 4, size: 32, numClasses: 3, dropout: 0.5 },
  blvnet: { depth: 50, frames: 2, size: 32, numClasses: 3 },
  tsn: { depth: 18, frames: 2, size: 32, numClasses: 3 },
  tsm: { depth: 18, frames: 4, size: 32, numClasses: 3 },
  "tam-resnet": { depth: 18, frames: 4, size: 32, numClasses: 3 },
  r3d: { frames: 4, size: 32, numClasses: 3 },
  mc3: { frames: 4, size: 32, numClasses: 3 },
  r2plus1d: { frames: 4, size: 32, numClasses: 3 },
  i3d: { frames: 4, size: 32, numClasses: 3 },
};

describe("every registered model exports with a dynamic batch", () => {
  it.each(listModels().map((e) => e.name))("%s: 2 clips in one batch = each clip alone", async (name) => {
    const model = build(name, SMALL[name] ?? {});
    const shape = inputShape(model.inputSpec, 2);
    const input = refgenInput(shape);
    const engine = await OrtEngine.create(model, { dynamicBatch: true, threads: 1 });
    try {
      const both = await engine.run(input, shape);
      const half = input.length / 2;
      const one = [shape[0] / 2, ...shape.slice(1)];
      const first = await engine.run(input.slice(0, half), one);
      const second = await engine.run(input.slice(half), one);
      expect(both.shape[0]).toBe(2 * first.shape[0]);
      const joined = new Float32Array(both.data.length);
      joined.set(first.data);
      joined.set(second.data, first.data.length);
      expect(maxRelErr(both.data, joined)).toBeLessThanOrEqual(1e-5);
    } finally {
      await engine.release();
    }
  });
});

describe("TAM export", () => {
  it.each([3, 5])(
    "blending %i: depthwise Convs joined by Adds (no Mul, no Sum), equal to tfjs, 2 clips dynamic",
    async (blendingFrames) => {
      const model = build("tam", { channels: 16, frames: 8, blendingFrames, size: 6 });
      const ops = onnxNodes(buildOnnx(model, { dynamicBatch: true, clips: 2 }).bytes).map((n) => n.opType);
      expect(ops.filter((o) => o === "Conv")).toHaveLength(blendingFrames);
      expect(ops.filter((o) => o === "Add")).toHaveLength(blendingFrames - 1);
      expect(ops.filter((o) => o === "Pad")).toHaveLength(blendingFrames - 1);
      expect(ops.filter((o) => o === "Mul" || o === "Sum")).toHaveLength(0);
      const shape = inputShape(model.inputSpec, 2);
      const input = refgenInput(shape);
      const engine = await OrtEngine.create(model, { dynamicBatch: true, clips: 2, threads: 1 });
      try {
        const ort = await engine.run(input, shape);
        const ref = await runForward(model, input, shape);
        expect(maxRelErr(ort.data, ref.data)).toBeLessThanOrEqual(1e-5);
      } finally {
        await engine.release();
      }
    },
  );
});
