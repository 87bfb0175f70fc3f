/**
 * The 3D CNNs: I3D-R50's parameter count (derived independently from ResNet-50's) and stage shapes,
 * golden-config dispatch, and a real forward pass of each model through the tfjs interpreter at a
 * tiny input (shapes only; no public 3D golden exists here).
 */
import { createModel, getModelEntry, ShapeOps, type VideoModel } from "@blvnet/core";
import { initBackend, TfOps } from "@blvnet/engine-tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import "./index.js";

const trainableParams = (m: VideoModel) => m.parameters().reduce((a, p) => a + p.numel, 0);

beforeAll(async () => {
  await initBackend("cpu");
});

describe("I3D-ResNet-50", () => {
  it("has ResNet-50's parameters plus the inflated kernels (~28.0 M with 400 classes)", () => {
    const resnet50 = trainableParams(createModel("tsn", { numClasses: 400, dropout: 0 }));
    // conv1 7x7 -> 5x7x7: 4 extra 64x3x7x7 slices. A 1x1 conv1 inflated to 3x1x1: 2 extra in x planes.
    const stem = 4 * 64 * 3 * 7 * 7;
    const inflatedConv1 = [
      [64 * 64, 256 * 64, 256 * 64], // res2: every block
      [256 * 128, 512 * 128], // res3: blocks 0, 2
      [512 * 256, 1024 * 256, 1024 * 256], // res4: blocks 0, 2, 4
      [2048 * 512], // res5: block 1
    ].flat();
    const expected = resnet50 + stem + 2 * inflatedConv1.reduce((a, b) => a + b, 0);
    const n = trainableParams(createModel("i3d"));
    expect(n).toBe(expected);
    expect(n / 1e6).toBeGreaterThan(27.9);
    expect(n / 1e6).toBeLessThan(28.1);
  });

  it("keeps T through res2, halves it with pool2, and outputs [N, 400]", () => {
    const model = createModel("i3d", { frames: 8, size: 224 });
    model.eval();
    const ops = new ShapeOps();
    const shapes: Record<string, number[]> = {};
    const out = model.forward(ops, ops.input([2, 3, 8, 224, 224]), (name: string, x) => (shapes[name] = ops.shape(x)));
    expect(ops.shape(out)).toEqual([2, 400]);
    expect(shapes).toMatchObject({
      stem_out: [2, 64, 8, 56, 56],
      layer1_out: [2, 256, 4, 56, 56],
      layer2_out: [2, 512, 4, 28, 28],
      layer3_out: [2, 1024, 4, 14, 14],
      layer4_out: [2, 2048, 4, 7, 7],
    });
  });
});

describe("video3d golden configs", () => {
  const pick = (cfg: Record<string, unknown>) =>
    ["r3d", "mc3", "r2plus1d"].map((n) => [n, getModelEntry(n).fromGoldenConfig!(cfg)] as const).filter(([, o]) => o);

  it("dispatches on arch and reads frames / resolution / num_classes", () => {
    expect(pick({ arch: "r2plus1d_18", num_classes: 400, frames: 16, resolution: 112 })).toEqual([
      ["r2plus1d", { depth: 18, frames: 16, size: 112, numClasses: 400 }],
    ]);
    const [[name, opts]] = pick({ arch: "r3d_18", num_classes: 7, frames: 8, resolution: 64 });
    expect(createModel(name, opts!).id).toBe("r3d-18-f8");
    expect(pick({ arch: "mc3_18" }).map(([n]) => n)).toEqual(["mc3"]);
  });
});

describe("forward through the tfjs interpreter (tiny input)", () => {
  for (const [name, opts, input] of [
    ["r3d", { frames: 4, size: 16, numClasses: 5 }, [2, 3, 4, 16, 16]],
    ["mc3", { frames: 4, size: 16, numClasses: 5 }, [1, 3, 4, 16, 16]],
    ["r2plus1d", { frames: 4, size: 16, numClasses: 5 }, [1, 3, 4, 16, 16]],
    ["i3d", { frames: 4, size: 32, numClasses: 5 }, [1, 3, 4, 32, 32]],
  ] as const) {
    it(`${name} ${JSON.stringify(input)} -> [N, 5], finite`, async () => {
      const model = createModel(name, opts);
      model.eval();
      for (const [, p] of model.namedTensors()) if (p.dtype === "float32" && p.shape.length > 1) p.f32.fill(0.01);
      const ops = new TfOps();
      const x = new Float32Array(input.reduce((a: number, b) => a * b, 1)).map((_, i) => Math.sin(i));
      const { data, shape } = await ops.read(model.forward(ops, ops.input(x, [...input])));
      expect(shape).toEqual([input[0], 5]);
      expect(data.every(Number.isFinite)).toBe(true);
      ops.store.dispose();
    });
  }
});
