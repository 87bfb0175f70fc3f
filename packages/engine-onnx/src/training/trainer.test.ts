/**
 * The compiled SGD step (OrtTrainer) against the tfjs training step (core `trainStep`, cpu
 * backend) on a small model that uses every op: two steps from identical weights and inputs,
 * train-mode and eval-mode BN, dropout with the same masks, momentum and weight decay.
 */

import type { Ops } from "@blvnet/core";
import {
  assignNames,
  BatchNorm,
  Conv2d,
  fillDeterministic,
  type InputSpec,
  inputShape,
  Linear,
  type Param,
  refgenInput,
  type TensorData,
  VideoModel,
} from "@blvnet/core";
import { initBackend, sgdOf, TfOps, trainStep } from "@blvnet/engine-tfjs";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { GraphBuilder, type OnnxNode } from "../onnx/graph.js";
import { buildStepGraph } from "./step-graph.js";
import { OrtTrainer } from "./trainer.js";
import type { TrainLowering } from "./trainops.js";

const FRAMES = 4;

/** Every 2-D op of Ops on a few channels, bLVNet-style big/little rows and a TSM shift. */
class Tiny extends VideoModel {
  readonly family = "tiny";
  readonly id = "tiny";
  readonly numClasses = 5;
  readonly options = {};
  readonly inputSpec: InputSpec = { layout: "N(TC)HW", frames: FRAMES, size: 12, channels: 3, mean: [0, 0, 0], std: [1, 1, 1] };
  conv1 = new Conv2d(3, 8, 3, { stride: 2, padding: 1 });
  bn1 = new BatchNorm(8);
  tam = new Conv2d(8, 8, 1, { groups: 8 });
  tam_prev = new Conv2d(8, 8, 1, { groups: 8 });
  dw = new Conv2d(8, 8, 3, { padding: 1, groups: 8 });
  bn_dw = new BatchNorm(8);
  conv2 = new Conv2d(8, 8, 1, { bias: true });
  bn2 = new BatchNorm(8);
  fc = new Linear(8, this.numClasses);

  constructor(readonly dropout: number) {
    super();
  }

  forward<T>(ops: Ops<T>, x: T): T {
    x = ops.clipsToFrames(x, FRAMES);
    x = ops.relu(this.bn1.forward(ops, this.conv1.forward(ops, x))); // 6x6
    // a TAM blend: fused where the interpreter has it (OrtTrainer with TrainLowering.blendMinPlane <= 36)
    const taps = [
      { weight: this.tam.weight, offset: 1 },
      { weight: this.tam_prev.weight, offset: -1 },
    ];
    const blend =
      ops.temporalBlend?.(x, FRAMES, taps) ??
      ops.add(ops.timeShift(this.tam.forward(ops, x), FRAMES, 1), ops.timeShift(this.tam_prev.forward(ops, x), FRAMES, -1));
    x = ops.relu(blend);
    const rows = ops.shape(x)[0];
    const big = ops.gatherRows(
      x,
      Array.from({ length: rows / 2 }, (_, k) => 2 * k + 1),
    );
    const little = this.bn_dw.forward(
      ops,
      this.dw.forward(
        ops,
        ops.gatherRows(
          x,
          Array.from({ length: rows / 2 }, (_, k) => 2 * k),
        ),
      ),
    );
    const small = ops.avgPool2d(big, { kernel: 3, stride: 2, padding: 1 });
    let y = ops.add(ops.resizeNearest(small, 6, 6), little);
    y = ops.gatherRows(
      y,
      Array.from({ length: rows }, (_, r) => r >> 1),
    );
    const c = ops.shape(y)[1];
    y = ops.concatChannels([
      ops.timeShift(ops.sliceChannels(y, 0, 2), FRAMES, 1),
      ops.timeShift(ops.sliceChannels(y, 2, 4), FRAMES, -1),
      ops.sliceChannels(y, 4, c),
    ]);
    const z = this.conv2.forward(ops, y);
    y = ops.relu(ops.add(this.bn2.forward(ops, z), z));
    y = ops.maxPool2d(y, { kernel: 3, stride: 2, padding: 1 });
    y = ops.dropout(ops.globalAvgPool(y), this.dropout, this.training);
    return ops.segmentMean(this.fc.forward(ops, y), FRAMES);
  }
}

function tiny(dropout: number): Tiny {
  const m = new Tiny(dropout);
  assignNames(m);
  fillDeterministic(m);
  return m;
}

function snapshot(m: VideoModel): Map<string, Float32Array> {
  return new Map(
    m
      .namedTensors()
      .filter(([, p]) => p.dtype === "float32")
      .map(([n, p]) => [n, p.f32.slice()]),
  );
}

function maxRelErr(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 1e-30;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

const SGD = { lr: 0.05, momentum: 0.9, weightDecay: 1e-3 };

/** The state after one step of a fresh trainer (Tiny, no dropout) from saved weights and momentum buffers (by name). */
async function stepFrom(weights: Map<string, TensorData>, momenta: Map<string, Float32Array>, shape: number[]) {
  const m = tiny(0).train();
  for (const [k, p] of m.namedTensors()) p.set(weights.get(k)!.slice());
  const t = await OrtTrainer.create(m, { ...SGD, threads: 1, inputShape: shape });
  try {
    t.setMomentumBuffers(new Map(m.namedTensors().flatMap(([k, p]) => (momenta.has(k) ? [[p, momenta.get(k)!]] : []))));
    await t.step(refgenInput(shape), [0, 1]);
    return new Map([...t.stateDict()].map(([k, v]) => [k, v.data.slice()]));
  } finally {
    await t.release();
  }
}
const CLIPS = 2;

/** Two tfjs steps; returns the states after each step and the losses. */
function tfjsSteps(model: Tiny, inputs: Float32Array[], labels: number[][], seeds: number[]) {
  const shape = inputShape(model.inputSpec, CLIPS);
  const base = new TfOps({ trainable: true });
  const losses: number[] = [];
  const states: Map<string, Float32Array>[] = [];
  inputs.forEach((input, s) => {
    const ops = new TfOps({ store: base.store, seed: seeds[s] });
    const x = ops.input(input, shape);
    losses.push(trainStep(model, ops, x, labels[s], SGD));
    x.dispose();
    base.store.syncToParams();
    states.push(snapshot(model));
  });
  sgdOf(base.store).dispose();
  base.store.dispose();
  return { losses, states };
}

async function ortSteps(model: Tiny, inputs: Float32Array[], labels: number[][], seeds: number[], ffi?: boolean, lowering?: TrainLowering) {
  const shape = inputShape(model.inputSpec, CLIPS);
  const trainer = await OrtTrainer.create(model, { ...SGD, threads: 1, inputShape: shape, ffi, lowering });
  const losses: number[] = [];
  const states: Map<string, Float32Array>[] = [];
  try {
    for (let s = 0; s < inputs.length; s++) {
      const r = await trainer.step(inputs[s], labels[s], SGD.lr, { dropoutSeed: seeds[s] });
      expect(r.applied).toBe(true);
      losses.push(r.loss);
      trainer.syncToParams();
      states.push(snapshot(model));
    }
    return { losses, states, momentum: trainer.momentumBuffers() };
  } finally {
    await trainer.release();
  }
}

async function compareTwoSteps(training: boolean, dropout: number, lowering?: TrainLowering) {
  const shape = inputShape(tiny(0).inputSpec, CLIPS);
  const inputs = [refgenInput(shape), refgenInput(shape).map((v) => -0.5 * v)];
  const labels = [
    [1, 3],
    [4, 0],
  ];
  const seeds = [7, 8];
  const a = tiny(dropout).train(training);
  const b = tiny(dropout).train(training);
  const start = snapshot(a);
  const ref = tfjsSteps(a, inputs, labels, seeds);
  const got = await ortSteps(b, inputs, labels, seeds, undefined, lowering);
  for (let s = 0; s < 2; s++) {
    expect(Math.abs(got.losses[s] - ref.losses[s])).toBeLessThan(1e-5 * Math.max(1, ref.losses[s]));
    for (const [name, want] of ref.states[s]) {
      const have = got.states[s].get(name)!;
      // the updated tensor, and the update itself (a much stricter view of the gradient)
      expect(maxRelErr(have, want), `${name} after step ${s + 1}`).toBeLessThan(1e-5);
      const w0 = s === 0 ? start.get(name)! : ref.states[0].get(name)!;
      const w0o = s === 0 ? start.get(name)! : got.states[0].get(name)!;
      const moved = want.some((v, i) => v !== w0[i]);
      if (moved)
        expect(
          maxRelErr(
            have.map((v, i) => v - w0o[i]),
            want.map((v, i) => v - w0[i]),
          ),
          `update of ${name} in step ${s + 1}`,
        ).toBeLessThan(2e-4);
    }
  }
  return { a, b, got };
}

describe("OrtTrainer (one ONNX graph per SGD step) vs the tfjs trainStep", () => {
  beforeAll(async () => {
    await initBackend("cpu");
  });

  it("train-mode BN with dropout: weights, running stats and counters after two steps", async () => {
    const { a, b } = await compareTwoSteps(true, 0.5);
    expect((b.bn1.params.numBatchesTracked.data as BigInt64Array)[0]).toBe(2n);
    expect((a.bn1.params.numBatchesTracked.data as BigInt64Array)[0]).toBe((b.bn1.params.numBatchesTracked.data as BigInt64Array)[0]);
  });

  it("TAM blends fused as MatMuls (blendMinPlane 0) match tfjs's op-by-op blend over two steps", async () => {
    await compareTwoSteps(true, 0.5, { blendMinPlane: 0 });
  });

  it("the C API path (FfiSession, default) and onnxruntime-node's binding give the same bits", async () => {
    const shape = inputShape(tiny(0).inputSpec, CLIPS);
    const inputs = [refgenInput(shape), refgenInput(shape).map((v) => 0.25 - v)];
    const labels = [
      [2, 3],
      [0, 4],
    ];
    const viaC = await ortSteps(tiny(0.5).train(), inputs, labels, [3, 4], true);
    const viaBinding = await ortSteps(tiny(0.5).train(), inputs, labels, [3, 4], false);
    expect(viaC.losses).toEqual(viaBinding.losses);
    for (let s = 0; s < 2; s++)
      for (const [name, want] of viaBinding.states[s])
        expect([...viaC.states[s].get(name)!], `${name} after step ${s + 1}`).toEqual([...want]);
    expect([...viaC.momentum.values()].map((b) => [...b])).toEqual([...viaBinding.momentum.values()].map((b) => [...b]));
  });

  it("eval-mode BN (running statistics as inputs, not updated)", async () => {
    const { b } = await compareTwoSteps(false, 0);
    expect((b.bn1.params.numBatchesTracked.data as BigInt64Array)[0]).toBe(0n);
  });

  it("momentum buffers exist for every trained param; a non-finite step loses the state until it is restored", async () => {
    const m = tiny(0).train();
    const shape = inputShape(m.inputSpec, CLIPS);
    const trainer = await OrtTrainer.create(m, { ...SGD, threads: 1, inputShape: shape });
    try {
      await trainer.step(refgenInput(shape), [0, 1]);
      const trained = m.parameters();
      expect([...trainer.momentumBuffers().keys()].sort((x: Param, y: Param) => x.name.localeCompare(y.name))).toEqual(
        [...trained].sort((x, y) => x.name.localeCompare(y.name)),
      );
      const momenta = trainer.momentumBuffers();
      const copies = new Map([...trainer.stateDict()].map(([k, t]) => [k, t.data.slice()]));
      const nameOf = new Map(m.namedTensors().map(([k, p]) => [p, k]));
      // a fresh trainer's step from that state, to compare with the restored trainer's
      const after = await stepFrom(copies, new Map([...momenta].map(([p, b]) => [nameOf.get(p)!, b])), shape);
      const bad = refgenInput(shape);
      bad[0] = NaN;
      const r = await trainer.step(bad, [0, 1]);
      expect(r.applied).toBe(false);
      expect(trainer.stepCount).toBe(1);
      // weights and momentum buffers are updated in place: nothing steps or saves until they are restored
      expect(trainer.stateLost).toBe(true);
      await expect(trainer.step(refgenInput(shape), [0, 1])).rejects.toThrow(/weights and momentum buffers/);
      expect(() => trainer.momentumBuffers()).toThrow(/non-finite/);
      expect(() => trainer.stateDict()).toThrow(/non-finite/);
      // BN statistics are not updated by a non-finite step (they keep a spare)
      for (const [k, p] of m.namedTensors()) if (/running_/.test(k)) expect([...p.data], k).toEqual([...copies.get(k)!]);
      for (const [k, p] of m.namedTensors()) p.set(copies.get(k)!.slice());
      trainer.reloadParams();
      await expect(trainer.step(refgenInput(shape), [0, 1])).rejects.toThrow(/^(?!.*weights).*momentum buffers/);
      trainer.setMomentumBuffers(momenta);
      expect(trainer.stateLost).toBe(false);
      expect([...trainer.momentumBuffers().values()].map((b) => [...b])).toEqual([...momenta.values()].map((b) => [...b]));
      await trainer.step(refgenInput(shape), [0, 1]);
      for (const [k, t] of trainer.stateDict()) expect([...t.data], k).toEqual([...after.get(k)!]);
      // eval logits through the forward graph equal the tfjs eval forward of the synced weights
      m.eval();
      const logits = await trainer.logits(refgenInput(shape), shape);
      const ops = new TfOps();
      const ref = tf.tidy(() => ops.readSync(m.forward(ops, ops.input(refgenInput(shape), shape))));
      ops.store.dispose();
      expect(maxRelErr(logits, ref.data)).toBeLessThan(1e-5);
    } finally {
      await trainer.release();
    }
  });

  it("packed updates of small params (TrainLowering.packUpdatesBelow) equal the per-param ones, written in place", async () => {
    const shape = inputShape(tiny(0).inputSpec, CLIPS);
    const inputs = [refgenInput(shape), refgenInput(shape).map((v) => -0.5 * v), refgenInput(shape).map((v) => 0.25 * v)];
    // (the tiny model's params have 5-216 elements: 100 packs some, 4096 all)
    const settings: { lr: number; momentum?: number; weightDecay?: number; nesterov?: boolean; clipGradNorm?: number }[] = [
      SGD,
      { lr: 0.05, momentum: 0.9, nesterov: true },
      { lr: 0.05 },
      { ...SGD, clipGradNorm: 1e-3 },
    ];
    for (const sgd of settings) {
      const runs: { losses: number[]; norms: number[]; state: Map<string, Float32Array>; momenta: Float32Array[] }[] = [];
      expect(
        tiny(0)
          .parameters()
          .some((p) => p.numel > 100),
      ).toBe(true);
      for (const packUpdatesBelow of [0, 100, 4096]) {
        const m = tiny(0).train();
        const trainer = await OrtTrainer.create(m, { ...sgd, threads: 1, inputShape: shape, lowering: { packUpdatesBelow } });
        try {
          const losses: number[] = [];
          const norms: number[] = [];
          for (let s = 0; s < inputs.length; s++) {
            const r = await trainer.step(inputs[s], [s % 5, (s + 2) % 5], sgd.lr);
            losses.push(r.loss);
            norms.push(r.gradNorm);
          }
          const state = new Map(
            [...trainer.stateDict()].flatMap(([k, t]) => (t.data instanceof Float32Array ? [[k, t.data.slice()] as const] : [])),
          );
          runs.push({ losses, norms, state, momenta: [...trainer.momentumBuffers().values()] });
        } finally {
          await trainer.release();
        }
      }
      const [ref, ...packed] = runs;
      const clipped = (sgd.clipGradNorm ?? 0) > 0;
      for (const run of packed) {
        // the gradient norm sums the packed squares in another order; with clipping it scales the updates
        for (let s = 0; s < ref.norms.length; s++) expect(Math.abs(run.norms[s] - ref.norms[s])).toBeLessThan(1e-6 * ref.norms[s]);
        if (clipped) {
          for (const [k, w] of ref.state) expect(maxRelErr(run.state.get(k)!, w), k).toBeLessThan(1e-6);
          continue;
        }
        expect(run.losses).toEqual(ref.losses);
        for (const [k, w] of ref.state) expect([...run.state.get(k)!], k).toEqual([...w]);
        expect(run.momenta.map((b) => [...b])).toEqual(ref.momenta.map((b) => [...b]));
      }
    }
  });

  it("every reader of an in-place updated weight or momentum buffer runs before the node that overwrites it", () => {
    for (const packUpdatesBelow of [0, 100, 4096]) {
      let builder: GraphBuilder | null = null;
      const toBytes = GraphBuilder.prototype.toBytes;
      GraphBuilder.prototype.toBytes = function (this: GraphBuilder, ...args: Parameters<typeof toBytes>) {
        builder = this;
        return toBytes.apply(this, args);
      };
      let g: ReturnType<typeof buildStepGraph>;
      try {
        g = buildStepGraph(tiny(0).train(), inputShape(tiny(0).inputSpec, CLIPS), { ...SGD, lowering: { packUpdatesBelow } });
      } finally {
        GraphBuilder.prototype.toBytes = toBytes;
      }
      const { producer, readers } = (builder as unknown as GraphBuilder).links();
      const ancestors = (n: OnnxNode) => {
        const seen = new Set<OnnxNode>();
        const stack = [n];
        while (stack.length) {
          for (const i of stack.pop()!.inputs) {
            const p = producer.get(i);
            if (p && !seen.has(p)) seen.add(p) && stack.push(p);
          }
        }
        return seen;
      };
      const pairs = [...g.params.filter((s) => s.inPlace).map((s) => [s.input, s.output!]), ...g.momentum.map((s) => [s.input, s.output])];
      expect(pairs.length).toBeGreaterThan(20);
      for (const [input, output] of pairs) {
        const writer = producer.get(output)!;
        const before = ancestors(writer);
        const views = [input];
        while (views.length)
          for (const r of readers.get(views.pop()!) ?? []) {
            if (r.opType === "Reshape" || r.opType === "Identity") views.push(r.outputs[0]);
            else if (r !== writer) expect(before.has(r), `${r.opType} reading ${input} (packUpdatesBelow ${packUpdatesBelow})`).toBe(true);
          }
      }
    }
  });
});
