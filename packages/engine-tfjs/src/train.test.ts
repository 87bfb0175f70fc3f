import type { Ops } from "@blvnet/core";
import { assignNames, BatchNorm, Conv2d, fillDeterministic, Linear, Module, refgenInput } from "@blvnet/core";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, describe, expect, it } from "vitest";
import { initBackend, shutdownBackend } from "./backend.js";
import * as naive from "./naive.js";
import { TfOps } from "./tfops.js";
import { lossAndGrads, sgdOf, softmaxCrossEntropy, trainStep } from "./train.js";

/** conv-bn-relu, max pool, conv-bn-relu, temporal shift, depthwise 3x3 + 1x1, nearest resize, avg pool, linear. */
class TinyNet extends Module {
  readonly conv1 = new Conv2d(3, 4, 3, { stride: 2, padding: 1 });
  readonly bn1 = new BatchNorm(4);
  readonly conv2 = new Conv2d(4, 6, 3, { padding: 1 });
  readonly bn2 = new BatchNorm(6);
  readonly dw = new Conv2d(6, 6, 3, { padding: 1, groups: 6 });
  readonly dw1 = new Conv2d(6, 6, 1, { groups: 6 });
  readonly fc = new Linear(6, 5);
  forward<T>(ops: Ops<T>, x: T): T {
    let y = ops.relu(this.bn1.forward(ops, this.conv1.forward(ops, x)));
    y = ops.maxPool2d(y, { kernel: 3, stride: 2, padding: 1 });
    y = ops.relu(this.bn2.forward(ops, this.conv2.forward(ops, y)));
    y = ops.concatChannels([ops.timeShift(ops.sliceChannels(y, 0, 2), 2, 1), ops.sliceChannels(y, 2, 6)]);
    y = ops.add(y, this.dw1.forward(ops, this.dw.forward(ops, y)));
    const [, , h, w] = ops.shape(y);
    y = ops.resizeNearest(ops.resizeNearest(y, h - 1, w - 1), h, w);
    y = ops.avgPool2d(y, { kernel: 2, stride: 2, countIncludePad: false });
    return this.fc.forward(ops, ops.globalAvgPool(y));
  }
}

function tinyNet(): TinyNet {
  const m = new TinyNet();
  assignNames(m);
  fillDeterministic(m);
  return m.train();
}

const INPUT_SHAPE = [4, 3, 12, 12];
const LABELS = [0, 3, 1, 4];

/** Error relative to the largest magnitude of the reference tensor. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    err = Math.max(err, Math.abs(a[i] - b[i]));
  }
  return scale === 0 ? err : err / scale;
}

afterAll(async () => {
  await shutdownBackend();
});

describe("softmaxCrossEntropy", () => {
  it("equals the mean of logsumexp - logit[label]", async () => {
    await initBackend("cpu");
    const z = [
      [1, 2, 0.5],
      [-1, 0, 3],
    ];
    const loss = softmaxCrossEntropy(tf.tensor2d(z), [1, 0]).dataSync()[0];
    const lse = (r: number[]) => Math.log(r.reduce((s, v) => s + Math.exp(v), 0));
    expect(loss).toBeCloseTo((lse(z[0]) - z[0][1] + lse(z[1]) - z[1][0]) / 2, 6);
    expect(() => softmaxCrossEntropy(tf.tensor2d(z), [1, 3])).toThrow(/label 3/);
  });
});

describe("trainStep", () => {
  class LinearNet extends Module {
    readonly fc = new Linear(3, 2);
    forward<T>(ops: Ops<T>, x: T): T {
      return this.fc.forward(ops, x);
    }
  }

  it("two steps equal a hand-computed torch.optim.SGD update (momentum, weight decay)", async () => {
    await initBackend("cpu");
    const m = new LinearNet();
    assignNames(m);
    const w0 = Float64Array.from([0.1, -0.2, 0.3, 0.4, 0.05, -0.1]); // [out=2, in=3]
    const b0 = Float64Array.from([0.01, -0.02]);
    m.fc.weight.set(Float32Array.from(w0));
    m.fc.bias!.set(Float32Array.from(b0));
    const x = [
      [1, 2, -1],
      [0.5, -1, 2],
      [-2, 0.3, 0.7],
      [1.5, 1, 1],
    ];
    const labels = [0, 1, 1, 0];
    const opts = { lr: 0.1, momentum: 0.9, weightDecay: 0.01 };

    // reference in float64
    const w = Array.from(w0);
    const b = Array.from(b0);
    const bufW = new Array<number>(6).fill(0);
    const bufB = [0, 0];
    const refLosses: number[] = [];
    for (let step = 0; step < 2; step++) {
      const gW = new Array<number>(6).fill(0);
      const gB = [0, 0];
      let loss = 0;
      for (let n = 0; n < 4; n++) {
        const z = [0, 1].map((o) => b[o] + x[n].reduce((s, v, i) => s + v * w[o * 3 + i], 0));
        const mx = Math.max(...z);
        const e = z.map((v) => Math.exp(v - mx));
        const sum = e[0] + e[1];
        loss += (Math.log(sum) + mx - z[labels[n]]) / 4;
        for (let o = 0; o < 2; o++) {
          const dz = (e[o] / sum - (o === labels[n] ? 1 : 0)) / 4;
          gB[o] += dz;
          for (let i = 0; i < 3; i++) gW[o * 3 + i] += dz * x[n][i];
        }
      }
      refLosses.push(loss);
      const update = (p: number[], g: number[], buf: number[]) =>
        p.forEach((v, i) => {
          const d = g[i] + opts.weightDecay * v;
          buf[i] = step === 0 ? d : opts.momentum * buf[i] + d;
          p[i] = v - opts.lr * buf[i];
        });
      update(w, gW, bufW);
      update(b, gB, bufB);
    }

    const ops = new TfOps({ trainable: true });
    const input = ops.input(Float32Array.from(x.flat()), [4, 3]);
    const losses = [0, 1].map(() => trainStep(m, ops, input, labels, opts));
    ops.store.syncToParams();
    expect(losses[0]).toBeCloseTo(refLosses[0], 6);
    expect(losses[1]).toBeCloseTo(refLosses[1], 6);
    expect(naive.maxRelErr(m.fc.weight.f32, w)).toBeLessThan(1e-6);
    expect(naive.maxRelErr(m.fc.bias!.f32, b)).toBeLessThan(1e-6);
    sgdOf(ops.store).dispose();
    ops.store.dispose();
    input.dispose();
  });

  it.each(["cpu", "wasm"])("the loss of a small conv net falls on a fixed batch (%s); BN stats update once per step", async (backend) => {
    await initBackend(backend);
    const m = tinyNet();
    const ops = new TfOps({ trainable: true });
    const input = ops.input(refgenInput(INPUT_SHAPE), INPUT_SHAPE);
    const losses: number[] = [];
    for (let i = 0; i < 8; i++) losses.push(trainStep(m, ops, input, LABELS, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 }));
    ops.store.syncToParams();
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[7]).toBeLessThan(0.7 * losses[0]);
    expect((m.bn1.params.numBatchesTracked.data as BigInt64Array)[0]).toBe(8n);
    expect(m.bn1.params.runningMean.f32.some((v) => v !== 0)).toBe(true);
    sgdOf(ops.store).dispose();
    ops.store.dispose();
    input.dispose();
  });
});

describe("wasm and cpu agree on a conv/bn/relu net", () => {
  async function run(backend: string) {
    await initBackend(backend);
    const m = tinyNet();
    const ops = new TfOps({ trainable: true });
    const input = ops.input(refgenInput(INPUT_SHAPE), INPUT_SHAPE);
    const logits = ops.readSync(tf.tidy(() => m.forward(ops, input))).data;
    m.train();
    const { loss, grads } = lossAndGrads(m, ops, input, LABELS);
    const byName = new Map([...grads].map(([p, g]) => [p.name, Float32Array.from(g.dataSync())]));
    tf.dispose([...grads.values()]);
    ops.store.syncToParams();
    const runningVar = Float32Array.from(m.bn2.params.runningVar.f32);
    ops.store.dispose();
    input.dispose();
    return { logits, loss, byName, runningVar };
  }

  it("forward, loss, every parameter gradient and BN running stats within 1e-5 relative", async () => {
    const cpu = await run("cpu");
    const wasm = await run("wasm");
    expect(relErr(wasm.logits, cpu.logits)).toBeLessThan(1e-5);
    expect(Math.abs(wasm.loss - cpu.loss) / cpu.loss).toBeLessThan(1e-5);
    expect([...cpu.byName.keys()].sort()).toEqual(
      [
        "bn1.bias",
        "bn1.weight",
        "bn2.bias",
        "bn2.weight",
        "conv1.weight",
        "conv2.weight",
        "dw.weight",
        "dw1.weight",
        "fc.bias",
        "fc.weight",
      ].sort(),
    );
    for (const [name, g] of cpu.byName) {
      expect(
        g.some((v) => v !== 0),
        name,
      ).toBe(true);
      expect(relErr(wasm.byName.get(name)!, g), name).toBeLessThan(1e-5);
    }
    expect(relErr(wasm.runningVar, cpu.runningVar)).toBeLessThan(1e-5);
  });
});
