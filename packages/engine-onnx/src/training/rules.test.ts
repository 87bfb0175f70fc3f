/**
 * Per-op gradient checks of OnnxTrainOps' reverse-mode rules, run in onnxruntime:
 *  - against tfjs' gradients (tf.variableGrads over TfOps on the cpu backend), for the input and
 *    every parameter, to 2e-5 of the largest gradient entry (float32 summation-order noise);
 *  - against central finite differences of the graph's own loss along random directions.
 * Loss = sum(out * R) for a fixed random R, so dL/dout = R.
 */

import type { Ops } from "@blvnet/core";
import { assignNames, BatchNorm, Conv2d, Conv3d, dropoutMask, Linear, Module, type Param, Rng, uniform } from "@blvnet/core";
import { fromNative, initBackend, TfOps } from "@blvnet/engine-tfjs";
import * as tf from "@tensorflow/tfjs-core";
import type * as Ort from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import type { OnnxValue } from "../onnx/onnxops.js";
import { loadOrt } from "../ort/session.js";
import { TRAIN_OPSET } from "./emit.js";
import { OnnxTrainOps, type TrainLowering } from "./trainops.js";

/** A case: a module holding the op's params and a forward over one input. */
class Case extends Module {
  constructor(
    readonly layers: Record<string, Module>,
    readonly fn: (ops: Ops<unknown>, x: unknown, m: Record<string, Module>) => unknown,
  ) {
    super();
    Object.assign(this, layers);
    assignNames(this);
    let seed = 1;
    for (const [, p] of this.namedTensors()) {
      if (p.dtype !== "float32") continue;
      const isVar = p.name.endsWith("running_var");
      p.set(Float32Array.from({ length: p.numel }, () => (isVar ? 0.5 + rand(seed++) : rand(seed++) - 0.5)));
    }
  }
  forward<T>(ops: Ops<T>, x: T): T {
    return this.fn(ops as Ops<unknown>, x, this.layers) as T;
  }
}

/** Deterministic pseudo-random in [0, 1) (a real hash: near-ties would spoil max-pool finite differences). */
const rand = (i: number) => uniform(0x5eed, i) + 0.5;

const randArray = (n: number, seed: number, scale = 1) => Float32Array.from({ length: n }, (_, i) => uniform(seed, i) * 2 * scale);
const numelOf = (s: number[]) => s.reduce((a, b) => a * b, 1);

interface Grads {
  loss: number;
  dx: Float32Array;
  params: Map<Param, Float32Array>;
}

/** The ORT side: one graph with loss, dL/dx and dL/dparams; also re-runnable for finite differences. */
async function ortGrads(model: Case, xShape: number[], _x: Float32Array, seedR: number, maskSeed: number, lowering: TrainLowering = {}) {
  const ort = await loadOrt();
  const ops = new OnnxTrainOps(lowering);
  const xv = ops.input("x", xShape, true);
  const y = model.forward(ops, xv) as OnnxValue;
  const e = ops.e;
  const r = randArray(numelOf(y.shape), seedR);
  const rName = e.f32(r, y.shape);
  e.g.addNode("ReduceSum", [e.mul(y.name, rName)], ["loss"], { keepdims: { type: "int", value: 0 } });
  const { params, values } = ops.tape.backward(e, y.name, rName, ["x"]);
  const dx = values.get("x");
  if (!dx) throw new Error("no gradient reached x");
  e.g.addNode("Identity", [dx], ["dx"]);
  const gradOuts: [Param, string][] = [];
  for (const [p, g] of params) {
    const out = `grad.${p.name}`;
    e.g.addNode("Identity", [g], [out]);
    gradOuts.push([p, out]);
  }
  const masks = new Rng(maskSeed);
  const maskData = ops.dropoutMasks.map((m) => ({ ...m, data: dropoutMask(masks, numelOf(m.shape), m.p) }));
  const paramInputs = [...ops.paramInputs];
  const bytes = e.g.toBytes({
    opset: TRAIN_OPSET,
    graphName: "gradcheck",
    inputs: [
      { name: "x", dims: xShape },
      ...paramInputs.map(([p, n]) => ({ name: n, dims: [p.numel] })),
      ...maskData.map((m) => ({ name: m.name, dims: m.shape })),
    ],
    outputs: [{ name: "loss", dims: [] }, { name: "dx", dims: xShape }, ...gradOuts.map(([p, n]) => ({ name: n, dims: p.shape }))],
  });
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, graphOptimizationLevel: "all" });
  const feedsFor = (xData: Float32Array): Record<string, Ort.Tensor> => {
    const feeds: Record<string, Ort.Tensor> = { x: new ort.Tensor("float32", xData, xShape) };
    for (const [p, n] of paramInputs) feeds[n] = new ort.Tensor("float32", p.f32, [p.numel]);
    for (const m of maskData) feeds[m.name] = new ort.Tensor("float32", m.data, m.shape);
    return feeds;
  };
  const run = async (xData: Float32Array): Promise<Grads> => {
    const out = await session.run(feedsFor(xData));
    return {
      loss: (out.loss.data as Float32Array)[0],
      dx: out.dx.data as Float32Array,
      params: new Map(gradOuts.map(([p, n]) => [p, out[n].data as Float32Array])),
    };
  };
  return { run, yShape: y.shape, r, release: () => session.release() };
}

/** The tfjs side: tf.variableGrads of sum(out * R) over TfOps (cpu backend). */
function tfGrads(model: Case, xShape: number[], x: Float32Array, r: Float32Array, yShape: number[], maskSeed: number): Grads {
  const ops = new TfOps({ trainable: true, seed: maskSeed });
  const xPhys = ops.input(x, xShape);
  const xVar = tf.variable(xPhys, true, `x${Math.random()}`);
  // Create the param variables with one forward (the store makes them lazily); stats it touches are irrelevant here.
  tf.tidy(() => model.forward(new TfOps({ store: ops.store, seed: maskSeed }), xVar));
  const vars = ops.store.variables();
  const rPhys = ops.input(r, yShape);
  const fops = new TfOps({ store: ops.store, seed: maskSeed });
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(model.forward(fops, xVar), rPhys)) as tf.Scalar, [xVar, ...vars.values()]);
  const params = new Map<Param, Float32Array>();
  for (const [p, v] of vars) {
    const g = grads[v.name];
    if (g) params.set(p, fromNative(ops.store.entryOf(p)!.form, g.dataSync() as Float32Array, p.shape).slice());
  }
  const dx = ops.readSync(grads[xVar.name]).data;
  const loss = value.dataSync()[0];
  tf.dispose([value, xVar, rPhys, xPhys, ...Object.values(grads)]);
  ops.store.dispose();
  return { loss, dx, params };
}

function maxRelErr(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 1e-12;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i], 0);

/** Check one case against tfjs and finite differences. */
async function check(
  model: Case,
  xShape: number[],
  opts: { tol?: number; fdEps?: number; fdTol?: number; tfjs?: boolean; lowering?: TrainLowering } = {},
) {
  const x = randArray(numelOf(xShape), 11);
  const maskSeed = 1234;
  const o = await ortGrads(model, xShape, x, 5, maskSeed, opts.lowering);
  try {
    const got = await o.run(x);
    expect(got.params.size).toBe(model.parameters().length);
    if (opts.tfjs ?? true) {
      const ref = tfGrads(model, xShape, x, o.r, o.yShape, maskSeed);
      const tol = opts.tol ?? 2e-5;
      expect(Math.abs(got.loss - ref.loss) / Math.max(1, Math.abs(ref.loss))).toBeLessThan(1e-5);
      expect(maxRelErr(got.dx, ref.dx), "dL/dx vs tfjs").toBeLessThan(tol);
      expect([...got.params.keys()].map((p) => p.name).sort()).toEqual([...ref.params.keys()].map((p) => p.name).sort());
      for (const [p, g] of got.params) expect(maxRelErr(g, ref.params.get(p)!), `dL/d${p.name} vs tfjs`).toBeLessThan(tol);
    }

    // Central differences of the loss along two random input directions.
    const eps = opts.fdEps ?? 1e-2;
    // float32 rounding of the loss, seen through the difference quotient
    const noise = (64 * Math.abs(got.loss) * 2 ** -23) / (2 * eps);
    const fdTol = (an: number) => (opts.fdTol ?? 2e-3) * Math.abs(an) + noise;
    for (const seed of [101, 202]) {
      const v = randArray(x.length, seed);
      const plus = await o.run(x.map((xi, i) => xi + eps * v[i]));
      const minus = await o.run(x.map((xi, i) => xi - eps * v[i]));
      const fd = (plus.loss - minus.loss) / (2 * eps);
      const an = dot(got.dx, v);
      expect(Math.abs(fd - an), `finite differences (fd ${fd}, analytic ${an})`).toBeLessThan(fdTol(an));
    }
    // ... and along one random direction of each parameter (fed from the Param's values).
    for (const [p, g] of got.params) {
      const v = randArray(p.numel, 303);
      const base = p.f32.slice();
      const at = async (sign: number) => {
        p.set(base.map((w, i) => w + sign * eps * v[i]));
        return (await o.run(x)).loss;
      };
      const fd = ((await at(1)) - (await at(-1))) / (2 * eps);
      p.set(base);
      const an = dot(g, v);
      expect(Math.abs(fd - an), `finite differences of ${p.name} (fd ${fd}, analytic ${an})`).toBeLessThan(fdTol(an));
    }
  } finally {
    await o.release();
  }
}

const conv = (cin: number, cout: number, k: number | [number, number], cfg: ConstructorParameters<typeof Conv2d>[3] = {}) =>
  new Conv2d(cin, cout, k, cfg);

describe("OnnxTrainOps reverse-mode rules vs tfjs (cpu) and finite differences", () => {
  beforeAll(async () => {
    await initBackend("cpu");
  });

  it("conv2d 3x3 stride 1 pad 1 with bias (flipped-weight Conv and ConvTranspose lowerings)", async () => {
    await check(new Case({ c: conv(3, 4, 3, { padding: 1, bias: true }) }, (ops, x, m) => (m.c as Conv2d).forward(ops, x)), [2, 3, 6, 6]);
    await check(new Case({ c: conv(3, 4, 3, { padding: 1, bias: true }) }, (ops, x, m) => (m.c as Conv2d).forward(ops, x)), [2, 3, 6, 6], {
      lowering: { convInputGrad: "convtranspose" },
    });
    await check(new Case({ c: conv(3, 4, 3, { padding: 1, bias: true }) }, (ops, x, m) => (m.c as Conv2d).forward(ops, x)), [2, 3, 6, 6], {
      lowering: { convInputGrad: "gemm" },
    });
  });

  it("flipped-weight Conv input gradient with the blocked weight swap: flip on the weight or on the maps, vs ConvTranspose", async () => {
    const blocked = { lowering: { flipWeight: "blocked" as const } };
    // maps larger than the weight: taps reversed by the anti-identity MatMul
    const small = () => new Case({ c: conv(3, 4, 3, { padding: 1, bias: true }) }, (ops, x, m) => (m.c as Conv2d).forward(ops, x));
    await check(small(), [2, 3, 6, 6], blocked);
    // weight larger than the maps (96x96x3x3: the two-pass blocked Transpose): dy and dx reversed
    const wide = () => new Case({ c: conv(96, 80, 3, { padding: 1 }) }, (ops, x, m) => (m.c as Conv2d).forward(ops, x));
    await check(wide(), [1, 96, 3, 3], { ...blocked, fdTol: 5e-3 });
    // dilated non-square kernel, and a 3-D conv, both ways round
    const dil = () => new Case({ c: conv(4, 6, [3, 1], { padding: [2, 0], dilation: 2 }) }, (ops, x, m) => (m.c as Conv2d).forward(ops, x));
    await check(dil(), [2, 4, 7, 5], blocked);
    await check(dil(), [1, 4, 3, 2], blocked);
    const c3 = () => new Case({ c: new Conv3d(8, 6, 3, { padding: 1 }) }, (ops, x, m) => (m.c as Conv3d).forward(ops, x));
    await check(c3(), [1, 8, 4, 5, 5], blocked);
    await check(c3(), [1, 8, 2, 2, 2], blocked);
    // same dL/dx as the ConvTranspose lowering (float32 summation-order noise only)
    for (const [model, shape] of [
      [wide(), [1, 96, 3, 3]],
      [small(), [2, 3, 6, 6]],
    ] as const) {
      const x = randArray(numelOf([...shape]), 11);
      const a = await ortGrads(model, [...shape], x, 5, 1, { flipWeight: "blocked" });
      const b = await ortGrads(model, [...shape], x, 5, 1, { flipWeight: "off" });
      const [ga, gb] = [await a.run(x), await b.run(x)];
      expect(maxRelErr(ga.dx, gb.dx)).toBeLessThan(1e-5);
      await a.release();
      await b.release();
    }
  });

  it("conv input gradient as one Gemm + a scatter-matrix MatMul: strided, odd sizes, dilated, 3-D, batch 1, vs ConvTranspose", async () => {
    const scatter = { lowering: { convInputGrad: "gemm-scatter" as const } };
    const c2 = (cin: number, cout: number, k: number | [number, number], cfg: ConstructorParameters<typeof Conv2d>[3]) => () =>
      new Case({ c: conv(cin, cout, k, cfg) }, (ops, x, m) => (m.c as Conv2d).forward(ops, x));
    await check(c2(3, 4, 3, { padding: 1, bias: true })(), [2, 3, 6, 6], scatter);
    await check(c2(3, 4, 3, { stride: 2, padding: 1 })(), [2, 3, 7, 7], scatter);
    await check(c2(3, 4, 3, { stride: 2, padding: 1 })(), [2, 3, 8, 6], scatter);
    await check(c2(2, 3, [3, 1], { padding: [2, 0], dilation: 2 })(), [2, 2, 7, 5], scatter);
    await check(c2(3, 4, 7, { stride: 2, padding: 3 })(), [1, 3, 12, 11], scatter);
    await check(
      new Case({ c: new Conv3d(3, 4, 3, { stride: [1, 2, 2], padding: 1 }) }, (ops, x, m) => (m.c as Conv3d).forward(ops, x)),
      [1, 3, 4, 5, 5],
      scatter,
    );
    // "auto-scatter" picks it for few input positions and many output channels (4x4 maps, Cout 64)
    const late = c2(8, 64, 3, { padding: 1 });
    await check(late(), [2, 8, 4, 4], { lowering: { convInputGrad: "auto-scatter" } });
    // same dL/dx as ConvTranspose (float32 summation-order noise only)
    for (const [model, shape] of [
      [late(), [2, 8, 4, 4]],
      [c2(3, 4, 3, { stride: 2, padding: 1 })(), [2, 3, 7, 7]],
    ] as const) {
      const x = randArray(numelOf([...shape]), 11);
      const a = await ortGrads(model, [...shape], x, 5, 1, { convInputGrad: "auto-scatter" });
      const b = await ortGrads(model, [...shape], x, 5, 1, { convInputGrad: "convtranspose" });
      const [ga, gb] = [await a.run(x), await b.run(x)];
      expect(maxRelErr(ga.dx, gb.dx)).toBeLessThan(1e-5);
      await a.release();
      await b.release();
    }
  });

  it("conv input gradient as one Gemm + col2im: strided, odd sizes, dilated, 3-D", async () => {
    const gemm = { lowering: { convInputGrad: "gemm" as const } };
    await check(
      new Case({ c: conv(3, 4, 3, { stride: 2, padding: 1 }) }, (ops, x, m) => (m.c as Conv2d).forward(ops, x)),
      [2, 3, 7, 7],
      gemm,
    );
    await check(
      new Case({ c: conv(3, 4, 3, { stride: 2, padding: 1 }) }, (ops, x, m) => (m.c as Conv2d).forward(ops, x)),
      [2, 3, 8, 6],
      gemm,
    );
    await check(
      new Case({ c: conv(2, 3, [3, 1], { padding: [2, 0], dilation: 2 }) }, (ops, x, m) => (m.c as Conv2d).forward(ops, x)),
      [2, 2, 7, 5],
      gemm,
    );
    await check(
      new Case({ c: conv(3, 4, 7, { stride: 2, padding: 3 }) }, (ops, x, m) => (m.c as Conv2d).forward(ops, x)),
      [1, 3, 12, 11],
      gemm,
    );
    await check(
      new Case({ c: new Conv3d(3, 4, 3, { stride: [1, 2, 2], padding: 1 }) }, (ops, x, m) => (m.c as Conv3d).forward(ops, x)),
      [1, 3, 4, 5, 5],
      gemm,
    );
  });

  it("conv2d 3x3 stride 2 pad 1 on an odd size (output padding)", async () => {
    await check(new Case({ c: conv(3, 4, 3, { stride: 2, padding: 1 }) }, (ops, x, m) => (m.c as Conv2d).forward(ops, x)), [2, 3, 7, 7]);
  });

  it("strided weight gradients by im2col (strided Slices): odd and even sizes, stride 3, 3-D", async () => {
    // more than SWAP_MAX_CIN input channels, so the weight gradient takes im2col + Gemm
    const one = (c: Module) => new Case({ c }, (ops, x, m) => (m.c as Conv2d).forward(ops, x));
    await check(one(conv(5, 4, 3, { stride: 2, padding: 1 })), [2, 5, 7, 7]);
    await check(one(conv(5, 4, 3, { stride: 2, padding: 1 })), [2, 5, 8, 6]);
    await check(one(conv(5, 3, [3, 2], { stride: 3, padding: [1, 0] })), [2, 5, 8, 10]);
    await check(one(new Conv3d(5, 3, 3, { stride: 2, padding: 1 })), [2, 5, 5, 6, 7], { tol: 1e-4 });
  });

  it("conv2d 7x7 stride 2 pad 3 (stem) and 1x1 stride 2", async () => {
    await check(
      new Case({ a: conv(3, 4, 7, { stride: 2, padding: 3 }), b: conv(4, 5, 1, { stride: 2 }) }, (ops, x, m) =>
        (m.b as Conv2d).forward(ops, (m.a as Conv2d).forward(ops, x)),
      ),
      [1, 3, 12, 12],
    );
    // few input channels: the weight gradient as one swapped Conv (default) and by im2col (legacy), batch 2
    const stem = () =>
      new Case({ a: conv(3, 4, 7, { stride: 2, padding: 3 }), b: conv(4, 5, 3, { dilation: 2, padding: 1 }) }, (ops, x, m) =>
        (m.b as Conv2d).forward(ops, (m.a as Conv2d).forward(ops, x)),
      );
    await check(stem(), [2, 3, 13, 12]);
    await check(stem(), [2, 3, 13, 12], { lowering: { legacy: true } });
  });

  it("conv2d with dilation 2 and non-square kernel", async () => {
    await check(
      new Case({ c: conv(2, 3, [3, 1], { padding: [2, 0], dilation: 2 }) }, (ops, x, m) => (m.c as Conv2d).forward(ops, x)),
      [2, 2, 7, 5],
    );
  });

  it("depthwise conv2d (3x3 dilated, and 1x1 as a channel scale)", async () => {
    await check(
      new Case({ dw: conv(4, 4, 3, { padding: 2, dilation: 2, groups: 4 }), dw1: conv(4, 4, 1, { groups: 4, bias: true }) }, (ops, x, m) =>
        (m.dw1 as Conv2d).forward(ops, (m.dw as Conv2d).forward(ops, x)),
      ),
      [2, 4, 6, 6],
    );
  });

  it("grouped conv2d (groups 2; TfOps has no grouped conv: finite differences only)", async () => {
    await check(
      new Case({ g: conv(4, 6, 3, { stride: 2, padding: 1, groups: 2, bias: true }) }, (ops, x, m) => (m.g as Conv2d).forward(ops, x)),
      [2, 4, 7, 6],
      { tfjs: false },
    );
  });

  it("conv3d 3x3x3 stride 2, (1,3,3) and (3,1,1) factorised convs", async () => {
    await check(
      new Case(
        {
          a: new Conv3d(3, 4, 3, { stride: 2, padding: 1 }),
          b: new Conv3d(4, 4, [1, 3, 3], { padding: [0, 1, 1], bias: true }),
          c: new Conv3d(4, 5, [3, 1, 1], { stride: [2, 1, 1], padding: [1, 0, 0] }),
        },
        (ops, x, m) => (m.c as Conv3d).forward(ops, (m.b as Conv3d).forward(ops, (m.a as Conv3d).forward(ops, x))),
      ),
      [1, 3, 5, 6, 6],
    );
  });

  it("batch norm, train mode (4-D and 5-D) and eval mode", async () => {
    const train2d = new Case({ bn: new BatchNorm(3) }, (ops, x, m) => (m.bn as BatchNorm).forward(ops, x));
    await check(train2d, [3, 3, 4, 4], { tol: 1e-4 });
    const train3d = new Case({ bn: new BatchNorm(3) }, (ops, x, m) => (m.bn as BatchNorm).forward(ops, x));
    await check(train3d, [2, 3, 2, 3, 3], { tol: 1e-4 });
    const evalBn = new Case({ bn: new BatchNorm(3) }, (ops, x, m) => (m.bn as BatchNorm).forward(ops, x)).eval();
    await check(evalBn, [2, 3, 4, 4]);
  });

  it("train-mode BN after a conv (plain, grouped, strided; the conv output used twice)", async () => {
    const after = (c: Conv2d, reuse = false) =>
      new Case({ c, bn: new BatchNorm(c.weight.shape[0]) }, (ops, x, m) => {
        const z = (m.c as Conv2d).forward(ops, x);
        const y = (m.bn as BatchNorm).forward(ops, z);
        return reuse ? ops.add(y, z) : y;
      });
    await check(after(conv(5, 4, 3, { padding: 1 })), [2, 5, 5, 4], { tol: 1e-4 });
    // (a bias before a train-mode BN gets a zero gradient: finite differences only, as for the grouped conv)
    await check(after(conv(4, 6, 3, { padding: 1, groups: 2, bias: true })), [2, 4, 4, 5], { tfjs: false });
    await check(after(conv(5, 4, 3, { stride: 2, padding: 1 })), [3, 5, 6, 6], { tol: 1e-4 });
    await check(after(conv(5, 4, 1), true), [2, 5, 3, 4], { tol: 1e-4 });
  });

  it("relu and add, with a value used twice (gradient accumulation)", async () => {
    await check(
      new Case({ c: conv(3, 3, 1) }, (ops, x, m) => ops.add(ops.relu((m.c as Conv2d).forward(ops, x)), ops.relu(x))),
      [2, 3, 4, 4],
    );
    await check(
      new Case({ c: conv(3, 3, 1) }, (ops, x, m) => ops.add(ops.relu((m.c as Conv2d).forward(ops, x)), ops.relu(x))),
      [2, 3, 4, 4],
      { lowering: { legacy: true } },
    );
  });

  it("max pool 2-D (3x3 stride 2 pad 1) and 3-D", async () => {
    await check(new Case({}, (ops, x) => ops.maxPool2d(x, { kernel: 3, stride: 2, padding: 1 })), [2, 3, 7, 7], { fdEps: 1e-4 });
    await check(new Case({}, (ops, x) => ops.maxPool3d(x, { kernel: [2, 3, 3], stride: [2, 2, 2], padding: [0, 1, 1] })), [1, 2, 4, 5, 5], {
      fdEps: 1e-4,
    });
  });

  it("average pool 3x3 stride 2 pad 1, count_include_pad on and off", async () => {
    await check(new Case({}, (ops, x) => ops.avgPool2d(x, { kernel: 3, stride: 2, padding: 1 })), [2, 3, 7, 6]);
    await check(new Case({}, (ops, x) => ops.avgPool2d(x, { kernel: 3, stride: 2, padding: 1, countIncludePad: false })), [2, 3, 6, 7]);
    // the AveragePool adjoint (default) on even/odd sizes and other windows, and the ConvTranspose one (legacy)
    await check(new Case({}, (ops, x) => ops.avgPool2d(x, { kernel: 3, stride: 2, padding: 1 })), [1, 2, 8, 5]);
    await check(new Case({}, (ops, x) => ops.avgPool2d(x, { kernel: 2, stride: 2 })), [1, 2, 5, 6]);
    await check(new Case({}, (ops, x) => ops.avgPool2d(x, { kernel: 3, stride: 1, padding: 1 })), [1, 2, 5, 4]);
    await check(new Case({}, (ops, x) => ops.avgPool2d(x, { kernel: [3, 2], stride: [2, 3], padding: [1, 0] })), [1, 2, 7, 8]);
    await check(new Case({}, (ops, x) => ops.avgPool2d(x, { kernel: 3, stride: 2, padding: 1 })), [2, 3, 7, 6], {
      lowering: { legacy: true },
    });
  });

  it("global average pool (4-D, 5-D) and linear", async () => {
    await check(new Case({ fc: new Linear(3, 4) }, (ops, x, m) => (m.fc as Linear).forward(ops, ops.globalAvgPool(x))), [2, 3, 4, 5]);
    await check(new Case({}, (ops, x) => ops.globalAvgPool(x)), [2, 3, 2, 3, 3]);
  });

  it("nearest resize (upsample and odd ratios)", async () => {
    await check(new Case({}, (ops, x) => ops.resizeNearest(x, 7, 6)), [1, 2, 4, 3]);
    await check(new Case({}, (ops, x) => ops.resizeNearest(x, 6, 6)), [2, 2, 3, 3]);
  });

  it("frames: clipsToFrames, gatherRows (subset and duplicates), segmentMean", async () => {
    await check(
      new Case({ fc: new Linear(2, 3) }, (ops, x, m) => {
        const f = ops.clipsToFrames(x, 4); // [8, 2, 3, 3]
        const big = ops.gatherRows(f, [1, 3, 5, 7]);
        const dup = ops.gatherRows(big, [0, 0, 1, 1, 2, 2, 3, 3]);
        return ops.segmentMean((m.fc as Linear).forward(ops, ops.globalAvgPool(ops.add(dup, f))), 4);
      }),
      [2, 8, 3, 3],
    );
  });

  it("timeShift (+1, -2, and past the clip) with sliceChannels / concatChannels", async () => {
    await check(
      new Case({}, (ops, x) =>
        ops.concatChannels([
          ops.timeShift(ops.sliceChannels(x, 0, 2), 4, 1),
          ops.timeShift(ops.sliceChannels(x, 2, 3), 4, -2),
          ops.timeShift(ops.sliceChannels(x, 3, 4), 4, 4),
          ops.sliceChannels(x, 4, 6),
        ]),
      ),
      [8, 6, 2, 2],
    );
  });

  it("temporalBlend (TAM's blend, fused as MatMuls) vs tfjs's op-by-op composition: 3 and 5 taps, past the clip, x used twice", async () => {
    const depthwise = (c: number) => new Conv2d(c, c, 1, { groups: c });
    const blend = (offsets: number[], frames: number) => {
      const convs = offsets.map(() => depthwise(3));
      return new Case(Object.fromEntries(convs.map((c, i) => [`tap${i}`, c])), (ops, x) => {
        const taps = offsets.map((offset, i) => ({ weight: convs[i].weight, offset }));
        const y =
          ops.temporalBlend?.(x, frames, taps) ??
          ops.sum(taps.map(({ offset }, i) => ops.timeShift(convs[i].forward(ops, x), frames, offset)));
        return ops.add(y, x);
      });
    };
    const fused = (ops: Ops<unknown>) => typeof ops.temporalBlend === "function";
    expect(fused(new OnnxTrainOps()) && !fused(new TfOps())).toBe(true);
    const x = new OnnxTrainOps().input("x", [4, 3, 2, 2]);
    expect(new OnnxTrainOps().temporalBlend(x, 4, [{ weight: depthwise(3).weight, offset: 1 }])).toBeNull();
    const always = { lowering: { blendMinPlane: 0 } };
    await check(blend([-1, 0, 1], 4), [8, 3, 2, 3], always);
    await check(blend([-2, -1, 0, 1, 2], 3), [6, 3, 3, 2], always);
    await check(blend([1, -1, 0], 1), [2, 3, 2, 2], always);
    await check(blend([-1, 0, 1], 16), [16, 3, 8, 8], always);
    await check(blend([-1, 0, 1], 8), [16, 3, 12, 12], always);
    await check(blend([-1, 0, 1], 8), [16, 3, 24, 24], always);
    // default: planes this small take the op-by-op composition
    await check(blend([-1, 0, 1], 4), [8, 3, 2, 3]);
  });

  it("dropout (train mode) with the masks TfOps draws for the same seed", async () => {
    const m = new Case({ fc: new Linear(8, 3) }, (ops, x, l) => (l.fc as Linear).forward(ops, ops.dropout(x, 0.5, true)));
    await check(m, [4, 8]);
  });
});
