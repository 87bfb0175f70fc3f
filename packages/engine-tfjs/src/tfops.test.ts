import type { BatchNormParams } from "@blvnet/core";
import { Param } from "@blvnet/core";
import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { initBackend } from "./backend.js";
import { fromNative, permute, toNative, type WeightForm } from "./layouts.js";
import * as naive from "./naive.js";
import { TfOps } from "./tfops.js";

function param(a: naive.Arr, name = "w"): Param {
  const p = new Param(a.shape);
  p.name = name;
  p.set(Float32Array.from(a.data));
  return p;
}

function bnParams(c: number, seed: number, momentum = 0.1): BatchNormParams {
  const mk = (s: number, f: (v: number) => number, kind: "param" | "buffer" = "param") => {
    const p = new Param([c], kind);
    p.set(naive.seeded([c], s).data.map(f));
    return p;
  };
  const numBatchesTracked = new Param([], "buffer", "int64");
  return {
    weight: mk(seed, (v) => 1 + 0.5 * v),
    bias: mk(seed + 1, (v) => v),
    runningMean: mk(seed + 2, (v) => 0.2 * v, "buffer"),
    runningVar: mk(seed + 3, (v) => 1 + 0.5 * v, "buffer"),
    numBatchesTracked,
    eps: 1e-5,
    momentum,
  };
}

const TOL = 1e-5;

function expectClose(got: { data: Float32Array; shape: number[] }, want: naive.Arr, tol = TOL): void {
  expect(got.shape).toEqual(want.shape);
  expect(naive.maxRelErr(got.data, want.data)).toBeLessThanOrEqual(tol);
}

describe("weight layouts", () => {
  const cases: [WeightForm, number[]][] = [
    ["hwio", [4, 3, 2, 5]],
    ["dw", [6, 1, 3, 3]],
    ["dw1x1", [6, 1, 1, 1]],
    ["dhwio", [4, 3, 2, 3, 3]],
    ["io", [5, 7]],
    ["vec", [9]],
  ];
  it.each(cases)("%s round trips", (form, shape) => {
    const a = naive.seeded(shape, 3);
    const n = toNative(form, a.data, shape);
    expect(Array.from(fromNative(form, n.data, shape))).toEqual(Array.from(a.data));
  });

  it("hwio puts torch weight[o][i][y][x] at [y][x][i][o]", () => {
    const a = naive.seeded([2, 3, 2, 2], 4);
    const n = toNative("hwio", a.data, a.shape);
    expect(n.shape).toEqual([2, 2, 3, 2]);
    // o=1, i=2, y=0, x=1
    expect(n.data[((0 * 2 + 1) * 3 + 2) * 2 + 1]).toBe(a.data[((1 * 3 + 2) * 2 + 0) * 2 + 1]);
  });
});

describe.each(["cpu", "wasm"])("TfOps on %s against naive references", (backend) => {
  const ops = new TfOps();
  const run = (f: () => tf.Tensor) => {
    const t = f();
    const r = ops.readSync(t);
    t.dispose();
    return r;
  };

  it("backend initialises", async () => {
    expect(await initBackend(backend)).toBe(backend);
  });

  it.each([2, 4, 5])("input/read round trip of a rank-%i tensor, logical shape()", (rank) => {
    const shape = [2, 3, 4, 5, 2].slice(0, rank);
    const a = naive.seeded(shape, 1);
    const t = ops.input(a.data, shape);
    expect(ops.shape(t)).toEqual(shape);
    expect(run(() => t)).toEqual({ data: a.data, shape });
  });

  it.each([
    { name: "3x3 s1 p1", cin: 3, cout: 4, k: 3, s: 1, p: 1, d: 1, bias: true },
    { name: "3x3 s2 p1", cin: 3, cout: 2, k: 3, s: 2, p: 1, d: 1, bias: false },
    { name: "3x3 s1 p2 dilation 2", cin: 2, cout: 3, k: 3, s: 1, p: 2, d: 2, bias: false },
    { name: "1x1 s2", cin: 4, cout: 3, k: 1, s: 2, p: 0, d: 1, bias: true },
    { name: "7x7 s2 p3", cin: 3, cout: 2, k: 7, s: 2, p: 3, d: 1, bias: false },
  ])("conv2d $name", (c) => {
    const x = naive.seeded([2, c.cin, 9, 8], 2);
    const w = naive.seeded([c.cout, c.cin, c.k, c.k], 3);
    const b = naive.seeded([c.cout], 4);
    const opts = {
      stride: [c.s, c.s] as [number, number],
      padding: [c.p, c.p] as [number, number],
      dilation: [c.d, c.d] as [number, number],
    };
    const want = naive.conv2d(x, w, opts);
    if (c.bias) {
      const plane = want.shape[2] * want.shape[3];
      want.data.forEach((v, i) => (want.data[i] = v + b.data[Math.floor(i / plane) % c.cout]));
    }
    expectClose(
      run(() => ops.conv2d(ops.input(x.data, x.shape), param(w), c.bias ? param(b) : null, opts)),
      want,
    );
  });

  it.each([
    { name: "depthwise 3x3 s1 p1", k: 3, s: 1, p: 1 },
    { name: "depthwise 3x3 s2 p1", k: 3, s: 2, p: 1 },
    { name: "depthwise 1x1 (per-channel scale)", k: 1, s: 1, p: 0 },
  ])("conv2d $name", (c) => {
    const x = naive.seeded([2, 5, 7, 6], 5);
    const w = naive.seeded([5, 1, c.k, c.k], 6);
    const opts = { stride: c.s, padding: c.p, groups: 5 };
    const want = naive.conv2d(x, w, { stride: [c.s, c.s], padding: [c.p, c.p], groups: 5 });
    expectClose(
      run(() => ops.conv2d(ops.input(x.data, x.shape), param(w), null, opts)),
      want,
    );
  });

  // conv3d through conv2d per temporal tap (the default on cpu and wasm) and through tf.conv3d
  const kernelOps = new TfOps({ conv3d: "kernel" });
  it.each([
    { k: [3, 3, 3], s: [1, 2, 2], p: [1, 1, 1], d: [1, 1, 1], n: 1 },
    { k: [3, 3, 3], s: [1, 1, 1], p: [2, 1, 1], d: [2, 1, 1], n: 1 },
    { k: [3, 3, 3], s: [2, 2, 2], p: [1, 1, 1], d: [1, 1, 1], n: 2 },
    { k: [3, 3, 3], s: [2, 1, 1], p: [0, 1, 0], d: [1, 1, 1], n: 2 },
    { k: [3, 1, 1], s: [1, 1, 1], p: [1, 0, 0], d: [1, 1, 1], n: 2 },
    { k: [1, 3, 3], s: [1, 2, 2], p: [0, 1, 1], d: [1, 1, 1], n: 2 },
    { k: [1, 1, 1], s: [2, 2, 2], p: [0, 0, 0], d: [1, 1, 1], n: 2 },
    { k: [2, 3, 2], s: [1, 1, 1], p: [3, 1, 2], d: [3, 1, 2], n: 2 },
    { k: [3, 3, 3], s: [3, 1, 1], p: [2, 0, 0], d: [1, 1, 1], n: 1 },
  ])("conv3d kernel $k stride $s padding $p dilation $d, batch $n, with bias", (c) => {
    const x = naive.seeded([c.n, 2, 4, 5, 5], 7);
    const w = naive.seeded([3, 2, ...c.k], 8);
    const b = naive.seeded([3], 9);
    const want = naive.conv3d(x, w, c.s, c.p, c.d);
    const plane = want.shape.slice(2).reduce((p, q) => p * q, 1);
    want.data.forEach((v, i) => (want.data[i] = v + b.data[Math.floor(i / plane) % 3]));
    const opts = {
      stride: c.s as [number, number, number],
      padding: c.p as [number, number, number],
      dilation: c.d as [number, number, number],
    };
    for (const o of [ops, kernelOps]) {
      expectClose(
        run(() => o.conv3d(o.input(x.data, x.shape), param(w), param(b), opts)),
        want,
      );
    }
  });

  it("conv3d through conv2d: gradients equal the naive reference", () => {
    const c = { s: [2, 2, 1], p: [1, 1, 0], d: [1, 1, 1] };
    const x = naive.seeded([2, 2, 5, 5, 4], 17);
    const w = naive.seeded([3, 2, 3, 3, 3], 18);
    const y = naive.conv3d(x, w, c.s, c.p, c.d);
    const dy = naive.seeded(y.shape, 19);
    const ref = naive.conv3dGrads(x, w, dy, c.s, c.p, c.d);
    const train = new TfOps({ trainable: true, conv3d: "conv2d" });
    const wp = param(w);
    const opts = { stride: c.s as [number, number, number], padding: c.p as [number, number, number] };
    const probe = train.input(dy.data, dy.shape);
    const xt = train.input(x.data, x.shape);
    const weight = train.store.get(wp, "dhwio");
    const [gx, gw] = tf.grads((a: tf.Tensor, _b: tf.Tensor) => tf.sum(tf.mul(train.conv3d(a, wp, null, opts), probe)))([xt, weight]);
    expectClose(train.readSync(gx), ref.dx);
    const dw = permute(gw.dataSync() as Float32Array, gw.shape, [4, 3, 0, 1, 2]);
    expect(naive.maxRelErr(dw.data, ref.dw.data)).toBeLessThanOrEqual(TOL);
    tf.dispose([gx, gw, probe, xt]);
    train.store.dispose();
  });

  it("linear", () => {
    const x = naive.seeded([3, 4], 10);
    const w = naive.seeded([2, 4], 11);
    const b = naive.seeded([2], 12);
    const want = new Float32Array(6);
    for (let n = 0; n < 3; n++)
      for (let o = 0; o < 2; o++)
        for (let i = 0; i < 4; i++) want[n * 2 + o] += x.data[n * 4 + i] * w.data[o * 4 + i] + (i === 0 ? b.data[o] : 0);
    expectClose(
      run(() => ops.linear(ops.input(x.data, x.shape), param(w), param(b))),
      { data: want, shape: [3, 2] },
    );
  });

  it("maxPool2d 3x3 stride 2 padding 1 ignores the padding", () => {
    // all-negative input: zero padding would win every border window
    const x = naive.seeded([2, 3, 7, 8], 13);
    x.data.forEach((v, i) => (x.data[i] = -2 + v));
    expectClose(
      run(() => ops.maxPool2d(ops.input(x.data, x.shape), { kernel: 3, stride: 2, padding: 1 })),
      naive.pool(x, "max", [3, 3], [2, 2], [1, 1]),
    );
  });

  it.each([true, false])("avgPool2d 3x3 stride 2 padding 1 countIncludePad=%s", (cip) => {
    const x = naive.seeded([1, 2, 7, 6], 14);
    const got = run(() => ops.avgPool2d(ops.input(x.data, x.shape), { kernel: 3, stride: 2, padding: 1, countIncludePad: cip }));
    expectClose(got, naive.pool(x, "avg", [3, 3], [2, 2], [1, 1], cip));
  });

  it("avgPool2d without padding", () => {
    const x = naive.seeded([1, 2, 6, 6], 15);
    expectClose(
      run(() => ops.avgPool2d(ops.input(x.data, x.shape), { kernel: 2 })),
      naive.pool(x, "avg", [2, 2], [2, 2], [0, 0]),
    );
  });

  it.each([
    { k: [1, 3, 3], s: [1, 2, 2], p: [0, 1, 1] },
    { k: [3, 3, 3], s: [2, 2, 2], p: [1, 1, 1] },
    { k: [2, 1, 1], s: [2, 1, 1], p: [0, 0, 0] },
  ])("maxPool3d kernel $k stride $s padding $p of negative values", (c) => {
    const x = naive.seeded([1, 2, 4, 7, 6], 16);
    x.data.forEach((v, i) => (x.data[i] = v - 2));
    const opts = {
      kernel: c.k as [number, number, number],
      stride: c.s as [number, number, number],
      padding: c.p as [number, number, number],
    };
    expectClose(
      run(() => ops.maxPool3d(ops.input(x.data, x.shape), opts)),
      naive.pool(x, "max", c.k, c.s, c.p),
    );
  });

  it.each([[[2, 3, 4, 5]], [[2, 3, 2, 4, 5]]])("globalAvgPool of %j", (shape) => {
    const x = naive.seeded(shape, 17);
    const inner = shape.slice(2).reduce((a, b) => a * b, 1);
    const want = new Float32Array(shape[0] * shape[1]);
    x.data.forEach((v, i) => (want[Math.floor(i / inner)] += v / inner));
    expectClose(
      run(() => ops.globalAvgPool(ops.input(x.data, shape))),
      { data: want, shape: shape.slice(0, 2) },
    );
  });

  it.each([
    [7, 4],
    [4, 7],
    [7, 7],
    [5, 10],
  ])("resizeNearest %i -> %i matches PyTorch's floor(dst * in/out)", (from, to) => {
    const x = naive.seeded([2, 3, from, from + 1], 18);
    expectClose(
      run(() => ops.resizeNearest(ops.input(x.data, x.shape), to, to + 2)),
      naive.resizeNearest(x, to, to + 2),
      0,
    );
  });

  it("resizeNearest 7 -> 4 -> 7 round trip", () => {
    const x = naive.seeded([1, 2, 7, 7], 19);
    const want = naive.resizeNearest(naive.resizeNearest(x, 4, 4), 7, 7);
    expectClose(
      run(() => ops.resizeNearest(ops.resizeNearest(ops.input(x.data, x.shape), 4, 4), 7, 7)),
      want,
      0,
    );
  });

  it.each([1, -1, 2, -2, 4, -5])("timeShift by %i stays inside each clip", (offset) => {
    const x = naive.seeded([8, 3, 2, 2], 20); // 2 clips x 4 frames
    expectClose(
      run(() => ops.timeShift(ops.input(x.data, x.shape), 4, offset)),
      naive.timeShift(x, 4, offset),
      0,
    );
  });

  it("clipsToFrames, gatherRows, sliceChannels, concatChannels", () => {
    const x = naive.seeded([2, 3 * 4, 3, 2], 21);
    const frames = ops.clipsToFrames(ops.input(x.data, x.shape), 4);
    expectClose(
      run(() => frames),
      naive.clipsToFrames(x, 4),
      0,
    );
    const f = naive.clipsToFrames(x, 4);
    expectClose(
      run(() => ops.gatherRows(frames, [7, 0, 0, 3])),
      naive.gatherRows(f, [7, 0, 0, 3]),
      0,
    );
    const parts = [ops.sliceChannels(frames, 0, 1), ops.sliceChannels(frames, 1, 3)];
    expect(ops.shape(parts[1])).toEqual([8, 2, 3, 2]);
    expectClose(
      run(() => ops.concatChannels([parts[1], parts[0]])),
      permuteChannels(f, [1, 2, 0]),
      0,
    );
  });

  it("segmentMean", () => {
    const x = naive.seeded([6, 5], 22);
    expectClose(
      run(() => ops.segmentMean(ops.input(x.data, x.shape), 3)),
      naive.segmentMean(x, 3),
    );
  });

  it("batchNorm eval uses the running statistics", () => {
    const x = naive.seeded([2, 3, 4, 4], 23);
    const bn = bnParams(3, 30);
    const want = naive.normalize(x, bn.runningMean.f32, bn.runningVar.f32, bn.weight.f32, bn.bias.f32, bn.eps);
    expectClose(
      run(() => ops.batchNorm(ops.input(x.data, x.shape), bn, false)),
      want,
    );
    expect((bn.numBatchesTracked.data as BigInt64Array)[0]).toBe(0n);
  });

  it.each([[[4, 3, 3, 2]], [[2, 3, 2, 3, 2]]])("batchNorm train on %j: batch statistics, running stats with unbiased variance", (shape) => {
    const x = naive.seeded(shape, 24);
    x.data.forEach((v, i) => (x.data[i] = 3 * v + 0.5));
    const bn = bnParams(3, 40, 0.1);
    const oldMean = Float32Array.from(bn.runningMean.f32);
    const oldVar = Float32Array.from(bn.runningVar.f32);
    const local = new TfOps();
    const st = naive.channelStats(x);
    const t = local.batchNorm(local.input(x.data, shape), bn, true);
    expectClose(local.readSync(t), naive.normalize(x, st.mean, st.biased, bn.weight.f32, bn.bias.f32, bn.eps));
    local.store.syncToParams();
    const m = bn.momentum;
    expect(
      naive.maxRelErr(
        bn.runningMean.f32,
        oldMean.map((v, c) => (1 - m) * v + m * st.mean[c]),
      ),
    ).toBeLessThan(1e-6);
    expect(
      naive.maxRelErr(
        bn.runningVar.f32,
        oldVar.map((v, c) => (1 - m) * v + m * st.unbiased[c]),
      ),
    ).toBeLessThan(1e-6);
    expect((bn.numBatchesTracked.data as BigInt64Array)[0]).toBe(1n);
    local.store.dispose();
  });

  it.each([[[4, 3, 3, 2]], [[2, 3, 2, 3, 2]], [[5, 3]]])(
    "batchNorm train on %j: the pooled statistics and closed-form gradient equal tf.moments and autodiff",
    (shape) => {
      const x = naive.seeded(shape, 25);
      x.data.forEach((v, i) => (x.data[i] = 2 * v - 0.3));
      const probe = naive.seeded(shape, 26);
      const run = (mode: "pooled" | "moments") => {
        const o = new TfOps({ trainable: true, batchNorm: mode });
        const bn = bnParams(3, 41);
        const xt = o.input(x.data, shape);
        const pt = o.input(probe.data, shape);
        const gamma = o.store.get(bn.weight, "vec");
        const beta = o.store.get(bn.bias, "vec");
        let y: Float32Array = new Float32Array();
        const [gx, gg, gb] = tf.grads((a: tf.Tensor, _g: tf.Tensor, _b: tf.Tensor) => {
          const out = o.batchNorm(a, bn, true);
          y = Float32Array.from(out.dataSync());
          return tf.sum(tf.mul(out, pt));
        })([xt, gamma, beta]);
        o.store.syncToParams();
        const res = [y, o.readSync(gx).data, gg.dataSync(), gb.dataSync(), bn.runningMean.f32, bn.runningVar.f32].map((a) =>
          Float32Array.from(a),
        );
        tf.dispose([gx, gg, gb, xt, pt]);
        o.store.dispose();
        return res;
      };
      const pooled = run("pooled");
      const moments = run("moments");
      pooled.forEach((a, i) => expect(naive.maxRelErr(a, moments[i]!)).toBeLessThan(1e-5));
    },
  );

  it("dropout: identity in eval and for p=0, inverted scaling in training", () => {
    const x = naive.seeded([4, 50], 25);
    const t = ops.input(x.data, x.shape);
    expect(ops.readSync(ops.dropout(t, 0.5, false)).data).toEqual(x.data);
    expect(ops.readSync(ops.dropout(t, 0, true)).data).toEqual(x.data);
    const y = run(() => new TfOps({ seed: 7 }).dropout(t, 0.25, true)).data;
    t.dispose();
    let dropped = 0;
    y.forEach((v, i) => {
      if (v === 0) dropped++;
      else expect(v).toBeCloseTo(x.data[i] / 0.75, 6);
    });
    expect(dropped).toBeGreaterThan(20);
    expect(dropped).toBeLessThan(80);
  });
});

/** Reorder channel blocks of an NCHW array: here channel order [1, 2, 0]. */
function permuteChannels(x: naive.Arr, order: number[]): naive.Arr {
  const [n, c, h, w] = x.shape;
  const p = permute(x.data, x.shape, [0, 2, 3, 1]).data; // NHWC
  const out = new Float32Array(p.length);
  for (let i = 0; i < n * h * w; i++) for (let k = 0; k < c; k++) out[i * c + k] = p[i * c + order[k]];
  return { data: permute(out, [n, h, w, c], [0, 3, 1, 2]).data, shape: x.shape };
}

describe("gradient of every TfOps op: wasm equals cpu", () => {
  type OpCase = { name: string; shape: number[]; f: (ops: TfOps, x: tf.Tensor) => tf.Tensor };
  const bn = bnParams(4, 50);
  const w3 = param(naive.seeded([4, 4, 3, 3], 51));
  const dw = param(naive.seeded([4, 1, 3, 3], 52));
  const dw1 = param(naive.seeded([4, 1, 1, 1], 53));
  const w3d = param(naive.seeded([3, 4, 3, 3, 3], 54));
  const fc = param(naive.seeded([3, 4], 55));
  const cases: OpCase[] = [
    { name: "conv2d 3x3 s2 p1", shape: [2, 4, 7, 7], f: (o, x) => o.conv2d(x, w3, null, { stride: 2, padding: 1 }) },
    { name: "conv2d 3x3 dilation 2", shape: [2, 4, 7, 7], f: (o, x) => o.conv2d(x, w3, null, { padding: 2, dilation: 2 }) },
    { name: "depthwise 3x3 s2", shape: [2, 4, 7, 7], f: (o, x) => o.conv2d(x, dw, null, { stride: 2, padding: 1, groups: 4 }) },
    { name: "depthwise 1x1", shape: [2, 4, 5, 5], f: (o, x) => o.conv2d(x, dw1, null, { groups: 4 }) },
    { name: "conv3d", shape: [1, 4, 4, 5, 5], f: (o, x) => o.conv3d(x, w3d, null, { stride: [1, 2, 2], padding: 1 }) },
    { name: "linear", shape: [5, 4], f: (o, x) => o.linear(x, fc, null) },
    { name: "batchNorm eval", shape: [2, 4, 3, 3], f: (o, x) => o.batchNorm(x, bn, false) },
    { name: "batchNorm train", shape: [2, 4, 3, 3], f: (o, x) => o.batchNorm(x, bn, true) },
    { name: "relu", shape: [2, 4, 3, 3], f: (o, x) => o.relu(x) },
    { name: "maxPool2d padded", shape: [2, 4, 7, 7], f: (o, x) => o.maxPool2d(x, { kernel: 3, stride: 2, padding: 1 }) },
    { name: "avgPool2d count_include_pad", shape: [2, 4, 7, 7], f: (o, x) => o.avgPool2d(x, { kernel: 3, stride: 2, padding: 1 }) },
    {
      name: "avgPool2d exclude pad",
      shape: [2, 4, 7, 7],
      f: (o, x) => o.avgPool2d(x, { kernel: 3, stride: 2, padding: 1, countIncludePad: false }),
    },
    { name: "maxPool3d", shape: [1, 4, 4, 5, 5], f: (o, x) => o.maxPool3d(x, { kernel: [3, 3, 3], stride: [2, 2, 2], padding: 1 }) },
    { name: "globalAvgPool 5-D", shape: [2, 4, 2, 3, 3], f: (o, x) => o.globalAvgPool(x) },
    { name: "resizeNearest 7->4", shape: [2, 4, 7, 7], f: (o, x) => o.resizeNearest(x, 4, 4) },
    { name: "resizeNearest 4->7", shape: [2, 4, 4, 4], f: (o, x) => o.resizeNearest(x, 7, 7) },
    { name: "timeShift +1 / -2", shape: [8, 4, 3, 3], f: (o, x) => o.add(o.timeShift(x, 4, 1), o.timeShift(x, 4, -2)) },
    { name: "clipsToFrames + gatherRows", shape: [2, 8, 3, 3], f: (o, x) => o.gatherRows(o.clipsToFrames(x, 2), [3, 0, 0, 2]) },
    {
      name: "slice + concat channels",
      shape: [2, 4, 3, 3],
      f: (o, x) => o.concatChannels([o.sliceChannels(x, 2, 4), o.sliceChannels(x, 0, 3)]),
    },
    { name: "segmentMean", shape: [6, 4], f: (o, x) => o.segmentMean(x, 3) },
  ];

  async function gradOf(backend: string, c: OpCase): Promise<Float32Array> {
    await initBackend(backend);
    const ops = new TfOps({ trainable: true });
    const x = ops.input(naive.seeded(c.shape, 60).data, c.shape);
    const g = tf.tidy(() => {
      const probe = tf.tensor(naive.seeded(c.f(ops, x).shape, 61).data, c.f(ops, x).shape);
      return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(c.f(ops, a), probe)))(x);
    });
    const out = Float32Array.from(g.dataSync());
    tf.dispose([g, x]);
    ops.store.dispose();
    return out;
  }

  it.each(cases)("$name", async (c) => {
    const cpu = await gradOf("cpu", c);
    const wasm = await gradOf("wasm", c);
    expect(cpu.some((v) => v !== 0)).toBe(true);
    expect(naive.maxRelErr(wasm, cpu)).toBeLessThan(1e-5);
  });
});
