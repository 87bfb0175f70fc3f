import { describe, expect, it } from "vitest";
import { IMAGENET_MEAN, IMAGENET_STD, type InputSpec, VideoModel } from "../model.js";
import { assignNames, BatchNorm, Conv2d, Conv3d, Linear, Module } from "../module.js";
import type { Ops } from "../ops.js";
import { modulesAtDepth, peakLiveBytes, profileModel, savedBytes } from "./profile.js";
import { ShapeOps } from "./shape-ops.js";

/** conv3x3(3->8) -> BN -> ReLU -> maxpool 2 -> global avg -> fc(8->5), on 2 frames of 3x8x8. */
class Tiny extends VideoModel {
  readonly family = "tiny";
  readonly id = "tiny";
  readonly numClasses = 5;
  readonly options = {};
  readonly inputSpec: InputSpec = { layout: "(NT)CHW", frames: 2, size: 8, channels: 3, mean: IMAGENET_MEAN, std: IMAGENET_STD };
  readonly conv = new Conv2d(3, 8, 3, { padding: 1 });
  readonly bn = new BatchNorm(8);
  readonly fc = new Linear(8, 5);
  forward<T>(ops: Ops<T>, x: T): T {
    let y = ops.relu(this.bn.forward(ops, this.conv.forward(ops, x)));
    y = ops.globalAvgPool(ops.maxPool2d(y, { kernel: 2 }));
    return this.fc.forward(ops, y);
  }
}

function tiny(): Tiny {
  const m = new Tiny();
  assignNames(m);
  return m;
}

describe("ShapeOps costs (checked by hand)", () => {
  const p = profileModel(tiny());

  it("counts params and MACs", () => {
    expect(p.inputShape).toEqual([2, 3, 8, 8]);
    expect(p.params).toBe(8 * 3 * 9 + 8 + 8 + 8 * 5 + 5); // conv, bn weight+bias, fc
    // conv: 2*8*8*8 outputs x 3 in x 9 taps; fc: 2 rows x 8 x 5
    expect(p.macs).toBe(1024 * 27 + 80);
  });

  it("counts other FLOPs by category", () => {
    expect(p.flops).toEqual({ batchnorm: 2048, relu: 1024, pool: 256 * 4, reduce: 256, bias: 10 });
    expect(p.totalFlops).toBe(2 * p.macs + 2048 + 1024 + 1024 + 256 + 10);
  });

  it("counts the bytes autograd keeps, each storage once", () => {
    const input = 2 * 3 * 64 * 4; // conv saves it
    const convOut = 1024 * 4; // BN saves its input
    const bnStats = 4 * 8 * 4; // running mean/var + save_mean/invstd
    const reluOut = 1024 * 4; // ReLU saves its output; max pool saves the same storage
    const poolIdx = 256 * 8; // int64 argmax
    const poolOut = 256 * 4; // global average pool saves its input
    const fcIn = 2 * 8 * 4;
    expect(p.savedActivationBytes).toBe(input + convOut + bnStats + reluOut + poolIdx + poolOut + fcIn);
  });

  it("finds the inference peak of live activations", () => {
    // input (held) + conv out + bn out, while BN runs
    expect(p.inferencePeakBytes).toBe(1536 + 4096 + 4096);
  });

  it("attributes ops to modules (param-free ops to the last module seen)", () => {
    const byPath = Object.fromEntries(p.modules.map((m) => [m.path, m]));
    expect(Object.keys(byPath)).toEqual(["conv", "bn", "fc"]);
    expect(byPath.conv.macs).toBe(1024 * 27);
    expect(byPath.bn.flops).toEqual({ batchnorm: 2048, relu: 1024, pool: 1024, reduce: 256 });
    expect(byPath.bn.savedBytes).toBe(4096 + 128 + 4096 + 2048 + 1024);
    expect(byPath.fc.params).toBe(45);
    expect(modulesAtDepth(p.modules, 0)).toEqual([
      { path: "", params: p.params, macs: p.macs, flops: p.flops, savedBytes: p.savedActivationBytes, ops: 6 },
    ]);
  });

  it("scales with the batch and restores the train/eval flags", () => {
    const m = tiny();
    m.eval();
    m.bn.training = true;
    const p4 = profileModel(m, 4);
    expect(p4.macs).toBe(4 * p.macs);
    // everything per clip except the per-channel BN statistics
    expect(p4.savedActivationBytes - 128).toBe(4 * (p.savedActivationBytes - 128));
    expect([m.training, m.conv.training, m.bn.training]).toEqual([false, false, true]);
  });
});

describe("ShapeOps rules", () => {
  class Block extends Module {
    readonly a = new Conv2d(4, 4, 1);
    readonly b = new Conv2d(4, 4, 3, { padding: 1, groups: 2, bias: true });
    readonly bn = new BatchNorm(4);
  }
  const block = new Block();
  assignNames(block);

  it("saves a tensor read by two convs once, and views share their base storage", () => {
    const ops = new ShapeOps();
    const video = ops.input([1, 2 * 4, 5, 5]);
    const x = ops.clipsToFrames(video, 2); // [2, 4, 5, 5], a view
    const y = ops.add(block.a.forward(ops, x), block.b.forward(ops, x));
    const s = savedBytes(ops.records);
    expect(s.total).toBe(2 * 4 * 25 * 4);
    expect(ops.shape(y)).toEqual([2, 4, 5, 5]);
    // grouped conv: 2 in-channels per group x 9 taps per output; bias 1 per output
    expect(ops.records[2].macs).toBe(200 * 2 * 9);
    expect(ops.records[2].flops).toEqual({ bias: 200 });
    expect(ops.records[3].flops).toEqual({ elementwise: 200 });
  });

  it("counts BN running buffers once however often the layer runs; eval BN keeps no batch stats", () => {
    const ops = new ShapeOps();
    const x = ops.input([2, 4, 3, 3]);
    block.bn.forward(ops, block.bn.forward(ops, x));
    // 2 inputs (the first is the input tensor) + running mean/var once + 2 x (save_mean, save_invstd)
    expect(savedBytes(ops.records).total).toBe(2 * 72 * 4 + 2 * 16 + 2 * 2 * 16);
    const ev = new ShapeOps();
    ev.batchNorm(ev.input([2, 4, 3, 3]), block.bn.params, false);
    expect(savedBytes(ev.records).total).toBe(72 * 4 + 2 * 16);
  });

  it("keeps nothing for shifts, slices, concats, resizes and adds; indices for gathers", () => {
    const ops = new ShapeOps();
    const x = ops.input([4, 8, 6, 6]);
    const shifted = ops.timeShift(ops.sliceChannels(x, 0, 2), 2, 1);
    const y = ops.concatChannels([shifted, ops.sliceChannels(x, 2, 8)]);
    const z = ops.add(ops.resizeNearest(ops.gatherRows(y, [1, 3]), 12, 12), ops.input([2, 8, 12, 12]));
    expect(ops.shape(z)).toEqual([2, 8, 12, 12]);
    expect(savedBytes(ops.records).total).toBe(2 * 8); // two int64 row indices
    expect(ops.records.every((r) => r.macs === 0)).toBe(true);
  });

  it("keeps max-pool input and int64 indices, a dropout mask, and the consensus input", () => {
    const ops = new ShapeOps();
    const x = ops.input([1, 2, 4, 3, 3]);
    const p = ops.maxPool3d(x, { kernel: [1, 3, 3], stride: [1, 2, 2], padding: [0, 1, 1] });
    expect(ops.shape(p)).toEqual([1, 2, 4, 2, 2]);
    expect(ops.records[0].flops).toEqual({ pool: 32 * 9 });
    const logits = ops.input([6, 10]);
    const mean = ops.segmentMean(ops.dropout(logits, 0.5, true), 3);
    expect(ops.shape(mean)).toEqual([2, 10]);
    expect(ops.dropout(logits, 0.5, false)).toBe(logits);
    expect(savedBytes(ops.records).total).toBe(72 * 4 + 32 * 8 + 60 + 60 * 4);
  });

  it("counts conv3d MACs with stride and dilation", () => {
    const conv = new Conv3d(3, 6, [3, 1, 1], { stride: [2, 1, 1], padding: [1, 0, 0] });
    assignNames(conv);
    const ops = new ShapeOps();
    const y = conv.forward(ops, ops.input([1, 3, 8, 5, 5]));
    expect(ops.shape(y)).toEqual([1, 6, 4, 5, 5]);
    expect(ops.records[0].macs).toBe(6 * 4 * 25 * 3 * 3);
    const d = ops.conv2d(ops.input([1, 3, 9, 9]), new Conv2d(3, 2, 3).weight, null, { dilation: 2 });
    expect(ops.shape(d)).toEqual([1, 2, 5, 5]);
  });

  it("rejects inconsistent shapes with a message naming the weight", () => {
    const ops = new ShapeOps();
    expect(() => block.a.forward(ops, ops.input([1, 3, 5, 5]))).toThrow(/3 channels but weight a\.weight/);
    expect(() => ops.add(ops.input([1, 2]), ops.input([1, 3]))).toThrow(/differ/);
    expect(() => ops.gatherRows(ops.input([2, 1]), [2])).toThrow(/outside/);
  });

  it("frees tensors after their last reader when finding the peak", () => {
    const ops = new ShapeOps();
    const x = ops.input([1, 1, 10, 10]); // 400 B, held
    const a = ops.relu(x); // 400
    const b = ops.relu(a); // 400, a freed after
    ops.relu(x); // unused result, freed at once
    const c = ops.add(b, x); // 400, b freed after
    expect(peakLiveBytes(ops.records, [x.storage], c.storage)).toBe(1200);
  });
});
