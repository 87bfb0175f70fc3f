/**
 * ONNX export + onnxruntime vs the tfjs interpreter on small hand-made modules that use every op
 * of `Ops`, static and dynamic batch, several opsets.
 */

import type { Ops } from "@blvnet/core";
import {
  assignNames,
  BatchNorm,
  Conv2d,
  Conv3d,
  fillDeterministic,
  type InputSpec,
  inputShape,
  Linear,
  refgenInput,
  VideoModel,
} from "@blvnet/core";
import { initBackend, runForward } from "@blvnet/engine-tfjs";
import { fromBinary } from "@bufbuild/protobuf";
import { ModelProtoSchema } from "onnx-buf";
import { beforeAll, describe, expect, it } from "vitest";
import { OrtEngine, ortCudaStatus } from "../ort/session.js";
import { buildOnnx, MAX_OPSET } from "./export.js";
import { asGatherThenShift, nearestSourceIndices, perClipPattern } from "./onnxops.js";

const FRAMES = 4;

/** A 2D frame model touching every 2D op, with one conv whose output feeds both a BN and an add. */
class Tiny2d extends VideoModel {
  readonly family = "tiny2d";
  readonly id = "tiny2d";
  readonly numClasses = 5;
  readonly options = {};
  readonly inputSpec: InputSpec = { layout: "N(TC)HW", frames: FRAMES, size: 14, channels: 3, mean: [0, 0, 0], std: [1, 1, 1] };
  conv1 = new Conv2d(3, 8, 3, { stride: 2, padding: 1 });
  bn1 = new BatchNorm(8);
  dw = new Conv2d(8, 8, 3, { padding: 2, dilation: 2, groups: 8 });
  bn_dw = new BatchNorm(8);
  blend = new Conv2d(8, 8, 1, { groups: 8 }); // TAM-like depthwise 1x1, no BN
  dw1 = new Conv2d(8, 8, 1, { groups: 8 }); // depthwise 1x1 + BN (folded into the Mul)
  bn_dw1 = new BatchNorm(8);
  conv2 = new Conv2d(8, 8, 1, { bias: true });
  bn2 = new BatchNorm(8);
  fc = new Linear(8, this.numClasses);

  forward<T>(ops: Ops<T>, x: T): T {
    x = ops.clipsToFrames(x, FRAMES);
    x = ops.relu(this.bn1.forward(ops, this.conv1.forward(ops, x))); // 7x7
    const rows = ops.shape(x)[0];
    // odd rows (big) and even rows (little), per clip, like bLVNet
    const big = ops.gatherRows(
      x,
      Array.from({ length: rows / 2 }, (_, k) => 2 * k + 1),
    );
    let little = ops.gatherRows(
      x,
      Array.from({ length: rows / 2 }, (_, k) => 2 * k),
    );
    little = this.bn_dw.forward(ops, this.dw.forward(ops, little));
    let small = ops.avgPool2d(big, { kernel: 3, stride: 2, padding: 1 }); // count_include_pad
    small = ops.add(small, ops.avgPool2d(big, { kernel: 3, stride: 2, padding: 1, countIncludePad: false }));
    let y = ops.add(ops.resizeNearest(small, 7, 7), little); // 4 -> 7
    y = ops.gatherRows(
      y,
      Array.from({ length: rows }, (_, r) => r >> 1),
    ); // duplicate pairs
    y = ops.relu(ops.add(this.blend.forward(ops, y), ops.timeShift(this.bn_dw1.forward(ops, this.dw1.forward(ops, y)), FRAMES, -1)));
    y = ops.add(y, ops.maxPool2d(ops.resizeNearest(y, 14, 14), { kernel: 2 })); // power-of-two factor: Resize
    // temporal shift of channel groups (TSM), plus a shift past the clip (all zeros)
    const c = ops.shape(y)[1];
    y = ops.concatChannels([
      ops.timeShift(ops.sliceChannels(y, 0, 2), FRAMES, 1),
      ops.timeShift(ops.sliceChannels(y, 2, 4), FRAMES, -1),
      ops.timeShift(ops.sliceChannels(y, 4, 5), FRAMES, FRAMES),
      ops.sliceChannels(y, 5, c),
    ]);
    const z = this.conv2.forward(ops, y);
    y = ops.relu(ops.add(this.bn2.forward(ops, z), z)); // z read twice: bn2 must stay unfolded
    y = ops.maxPool2d(y, { kernel: 3, stride: 2, padding: 1 });
    y = ops.dropout(ops.globalAvgPool(y), 0.5, this.training);
    return ops.segmentMean(this.fc.forward(ops, y), FRAMES);
  }
}

/** A 3D model: conv3d, BN, max pool 3d, global pool, linear. */
class Tiny3d extends VideoModel {
  readonly family = "tiny3d";
  readonly id = "tiny3d";
  readonly numClasses = 4;
  readonly options = {};
  readonly inputSpec: InputSpec = { layout: "NCTHW", frames: 4, size: 10, channels: 3, mean: [0, 0, 0], std: [1, 1, 1] };
  conv = new Conv3d(3, 6, [3, 3, 3], { stride: [1, 2, 2], padding: [1, 1, 1] });
  bn = new BatchNorm(6);
  conv2 = new Conv3d(6, 6, [1, 3, 3], { padding: [0, 1, 1], bias: true });
  fc = new Linear(6, this.numClasses);

  forward<T>(ops: Ops<T>, x: T): T {
    x = ops.relu(this.bn.forward(ops, this.conv.forward(ops, x)));
    x = ops.maxPool3d(x, { kernel: [2, 3, 3], stride: [2, 2, 2], padding: [0, 1, 1] });
    x = ops.relu(this.conv2.forward(ops, x));
    return this.fc.forward(ops, ops.globalAvgPool(x));
  }
}

function build<M extends VideoModel>(m: M): M {
  assignNames(m);
  fillDeterministic(m);
  return m.eval();
}

function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

async function compare(model: VideoModel, clips: number, opts: Parameters<typeof OrtEngine.create>[1], runClips = clips) {
  const shape = inputShape(model.inputSpec, runClips);
  const input = refgenInput(shape);
  const ref = await runForward(model, input, shape);
  const engine = await OrtEngine.create(model, { clips, threads: 1, ...opts });
  try {
    const got = await engine.run(input, shape);
    expect(got.shape).toEqual(ref.shape);
    return relErr(got.data, ref.data);
  } finally {
    await engine.release();
  }
}

describe("OnnxOps + onnxruntime vs TfOps", () => {
  beforeAll(async () => {
    await initBackend("cpu");
  });

  it("2D ops, static batch of 2 clips, opset 17 (default)", async () => {
    expect(await compare(build(new Tiny2d()), 2, {})).toBeLessThan(1e-5);
  });

  it("2D ops, dynamic batch: one export runs 1 and 3 clips", async () => {
    const model = build(new Tiny2d());
    expect(await compare(model, 1, { dynamicBatch: true }, 1)).toBeLessThan(1e-5);
    expect(await compare(model, 1, { dynamicBatch: true }, 3)).toBeLessThan(1e-5);
  });

  it.each([13, 18, MAX_OPSET])("2D ops at opset %i", async (opset) => {
    expect(await compare(build(new Tiny2d()), 1, { opset, dynamicBatch: true }, 2)).toBeLessThan(1e-5);
  });

  it("3D ops, static and dynamic", async () => {
    const model = build(new Tiny3d());
    expect(await compare(model, 2, {})).toBeLessThan(1e-5);
    expect(await compare(model, 1, { dynamicBatch: true }, 3)).toBeLessThan(1e-5);
  });

  it("folds a BN into its conv only where the conv output feeds nothing else", () => {
    const model = build(new Tiny2d());
    const graph = fromBinary(ModelProtoSchema, buildOnnx(model).bytes).graph!;
    const ops = graph.node.map((n) => n.opType);
    // bn1 and bn_dw fold into their convs, bn_dw1 into its Mul (+ Add); bn2 reads a conv output
    // that the residual add also reads, so it stays.
    expect(ops.filter((o) => o === "BatchNormalization")).toHaveLength(1);
    // conv1 (+bn1, ReLU) is read only by the big and little row gathers: it runs once per gather, on
    // gathered input rows (see the next test), so 4 Convs.
    expect(ops.filter((o) => o === "Conv")).toHaveLength(4);
    expect(ops.filter((o) => o === "Mul")).toHaveLength(2);
    expect(ops.filter((o) => o === "Resize")).toHaveLength(1);
    expect(ops.filter((o) => o === "Gather")).toHaveLength(5); // 3 row gathers + 4->7 resize (2 axes)
    const inits = new Set(graph.initializer.map((t) => t.name));
    expect(inits.has("conv1.weight")).toBe(false); // replaced by the folded copy
    expect(inits.has("bn2.running_var")).toBe(true);
    expect(model.training).toBe(false);
  });

  it("a per-row stem read only by row gathers runs on gathered input rows (static and dynamic batch)", () => {
    for (const dynamicBatch of [false, true]) {
      const graph = fromBinary(ModelProtoSchema, buildOnnx(build(new Tiny2d()), { dynamicBatch }).bytes).graph!;
      const producer = new Map(graph.node.flatMap((n) => n.output.map((o) => [o, n] as const)));
      const stems = graph.node.filter((n) => n.opType === "Conv" && n.input[1]!.startsWith("conv1.weight"));
      expect(stems).toHaveLength(2);
      for (const conv of stems) {
        // input -> Reshape (frames) -> [Reshape ->] Gather [-> Reshape] -> Conv
        let v = producer.get(conv.input[0]!);
        const path: string[] = [];
        while (v) {
          path.push(v.opType);
          v = producer.get(v.input[0]!);
        }
        expect(path).toContain("Gather");
        expect(path.at(-1)).toBe("Reshape");
      }
      // Nothing gathers rows of a conv1 output any more.
      const stemOuts = new Set(
        graph.node.filter((n) => n.opType === "Relu" && stems.some((c) => c.output[0] === n.input[0])).map((n) => n.output[0]),
      );
      for (const n of graph.node) if (n.opType === "Gather") expect(stemOuts.has(n.input[0]!)).toBe(false);
    }
  });

  it("dynamic export declares a symbolic batch", () => {
    const graph = fromBinary(ModelProtoSchema, buildOnnx(build(new Tiny2d()), { dynamicBatch: true }).bytes).graph!;
    const dim0 = (io: (typeof graph.input)[number]) => {
      const t = io.type?.value;
      return t?.case === "tensorType" ? t.value.shape?.dim[0].value : undefined;
    };
    expect(dim0(graph.input[0])).toEqual({ case: "dimParam", value: "N" });
    expect(dim0(graph.output[0])).toEqual({ case: "dimParam", value: "N" });
  });

  it("rejects a static-batch shape it was not exported for, and bad opsets", async () => {
    const model = build(new Tiny2d());
    const engine = await OrtEngine.create(model, { threads: 1 });
    const shape = inputShape(model.inputSpec, 2);
    await expect(engine.run(new Float32Array(shape.reduce((a, b) => a * b)), shape)).rejects.toThrow(/does not match/);
    await engine.release();
    expect(() => buildOnnx(model, { opset: 12 })).toThrow(/opset/);
  });
});

describe("ort-cuda", () => {
  it("is a one-line UserError naming the missing provider where it is not installed", async (ctx) => {
    const status = await ortCudaStatus();
    if (status.available) ctx.skip();
    await expect(OrtEngine.create(build(new Tiny3d()), { backend: "ort-cuda" })).rejects.toThrow(
      /^backend ort-cuda: .*(not installed|no CUDA)/,
    );
  });
});

describe("helpers", () => {
  it("nearest indices follow PyTorch's float32 floor(dst * in/out)", () => {
    expect(nearestSourceIndices(4, 7)).toEqual([0, 0, 1, 1, 2, 2, 3]);
    expect(nearestSourceIndices(7, 14)).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]);
  });

  it("per-clip gather patterns", () => {
    expect(perClipPattern([1, 3, 5, 7], 8, 2)).toEqual([1, 3]);
    expect(perClipPattern([0, 0, 1, 1, 2, 2, 3, 3], 4, 2)).toEqual([0, 0, 1, 1]);
    expect(() => perClipPattern([0, 1, 4, 4], 8, 2)).toThrow(/per clip/);
    expect(() => perClipPattern([5, 1], 8, 2)).toThrow(/per clip/);
  });

  it("row patterns with zero rows at one end split into a gather and a shift", () => {
    // even frames of a shift by -1 (TAM's `prev` tap): the odd frames, shifted by one
    expect(asGatherThenShift([-1, 1, 3, 5], 8)).toEqual({ gather: [1, 3, 5, 7], offset: -1 });
    // odd frames of a shift by +1 (`next`): the even frames, shifted the other way
    expect(asGatherThenShift([2, 4, 6, -1], 8)).toEqual({ gather: [0, 2, 4, 6], offset: 1 });
    // dropped rows past the input repeat the edge row
    expect(asGatherThenShift([-1, -1, 7], 8)).toEqual({ gather: [7, 7, 7], offset: -2 });
    for (const p of [
      [-1, 0, 1, -1],
      [0, -1, 2],
      [-1, -1],
      [0, 1, 2],
    ])
      expect(asGatherThenShift(p, 8)).toBeNull();
  });
});
