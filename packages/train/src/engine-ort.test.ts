/**
 * The ort engine (one ONNX graph per SGD step) against the tfjs engine on the real models at
 * small sizes, from identical (refgen-v1) weights and inputs:
 *  - eval-mode BN (running statistics, no dropout): core `trainStep` vs `OrtTrainer`;
 *  - train-mode BN (batch statistics, dropout, Nesterov, clipping): TfjsEngine vs OrtTrainingEngine,
 *    compared through `state()` (weights, BN statistics, momentum buffers, counters).
 * Criterion: every updated tensor within 1e-4 of its largest entry (eval-mode BN; train-mode BN
 * where the step is not float32-chaotic, else within 8x the tfjs step's own noise floor, measured
 * by re-running it on inputs 1 +- 2^-20 away). The updates (new minus old weights) and momentum
 * buffers are compared too, with the looser bounds float32 summation order allows in deep nets.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fillDeterministic, inputShape, refgenInput, type SgdConfig, type TensorMap, type VideoModel } from "@blvnet/core";
import { synthesize } from "@blvnet/data";
import { OrtTrainer } from "@blvnet/engine-onnx";
import { initBackend, sgdOf, TfOps, trainStep } from "@blvnet/engine-tfjs";
import { decodeSafetensors } from "@blvnet/io";
import { createModel } from "@blvnet/models";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { train } from "./api.js";
import type { TrainConfig } from "./config.js";
import { MOMENTUM_PREFIX } from "./engine.js";
import { OrtTrainingEngine } from "./engine-ort.js";
import { STEP_KEY, TfjsEngine } from "./tfjs-engine.js";

/**
 * Small configurations. Train-mode cases are sized so that every BN normalises over >= 8 values:
 * over 2 (layer4 of bLVNet at 32x32 with one clip), x_hat is +-1 and the step is chaotic in float32
 * (both engines then disagree with themselves under any reordering). `inputScale`: the refgen TSM
 * input puts one ReLU of layer4.1 within float32 noise of its kink (a 0.1% change of the input
 * removes the disagreement entirely), so TSM's eval-mode case uses the input scaled by 0.999.
 */
const CASES: { name: string; opts: Record<string, unknown>; clips: number; trainSize: number; inputScale?: number }[] = [
  { name: "blvnet-tam", opts: { depth: 50, frames: 4, size: 32, numClasses: 5, dropout: 0.5 }, clips: 1, trainSize: 64 },
  { name: "tsm", opts: { depth: 18, frames: 4, size: 32, numClasses: 5, dropout: 0.5 }, clips: 2, trainSize: 32, inputScale: 0.999 },
  { name: "tsn", opts: { depth: 18, frames: 4, size: 32, numClasses: 5, dropout: 0 }, clips: 2, trainSize: 32 },
  { name: "r2plus1d", opts: { depth: 18, frames: 4, size: 16, numClasses: 5, dropout: 0.5 }, clips: 2, trainSize: 24 },
];

function build(name: string, opts: Record<string, unknown>): VideoModel {
  const m = createModel(name, opts);
  fillDeterministic(m);
  return m;
}

function floats(m: VideoModel): Map<string, Float32Array> {
  return new Map(
    m
      .namedTensors()
      .filter(([, p]) => p.dtype === "float32")
      .map(([n, p]) => [n, p.f32.slice()]),
  );
}

/** max |a - b| / max |b| (0 when both are all zero). */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return den === 0 ? num : num / den;
}

interface Diff {
  worstTensor: number;
  worstUpdate: number;
  where: string;
  whereUpdate: string;
}

/** Per-tensor errors of `got` vs `want`, and of the updates (x - start). */
function compareStates(got: Map<string, ArrayLike<number>>, want: Map<string, ArrayLike<number>>, start: Map<string, Float32Array>): Diff {
  let worstTensor = 0;
  let worstUpdate = 0;
  let where = "";
  let whereUpdate = "";
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [k, w] of want) {
    const g = got.get(k)!;
    const e = relErr(g, w);
    if (e > worstTensor) [worstTensor, where] = [e, k];
    const s = start.get(k);
    if (s) {
      const du = relErr(
        Array.from(g, (v, i) => v - s[i]),
        Array.from(w, (v, i) => v - s[i]),
      );
      if (du > worstUpdate) [worstUpdate, whereUpdate] = [du, k];
    }
  }
  return { worstTensor, worstUpdate, where, whereUpdate };
}

const SGD = { lr: 0.02, momentum: 0.9, weightDecay: 5e-4 };

describe("ort engine vs tfjs engine, one SGD step on the real models", () => {
  beforeAll(async () => {
    await initBackend("wasm", { threads: 1 });
  });

  it.each(CASES)("$name, eval-mode BN: updated weights within 1e-4", async ({ name, opts, clips, inputScale = 1 }) => {
    const a = build(name, opts).eval();
    const b = build(name, opts).eval();
    const start = floats(a);
    const shape = inputShape(a.inputSpec, clips);
    const input = refgenInput(shape).map((v) => v * inputScale);
    const labels = Array.from({ length: clips }, (_, i) => (3 * i + 1) % 5);

    const ops = new TfOps({ trainable: true });
    const x = ops.input(input, shape);
    const tfLoss = trainStep(a, ops, x, labels, SGD);
    x.dispose();
    ops.store.syncToParams();
    sgdOf(ops.store).dispose();
    ops.store.dispose();

    const trainer = await OrtTrainer.create(b, { ...SGD, threads: 1, inputShape: shape });
    const r = await trainer.step(input, labels);
    trainer.syncToParams();
    await trainer.release();

    expect(Math.abs(r.loss - tfLoss)).toBeLessThan(1e-5 * Math.max(1, tfLoss));
    const d = compareStates(floats(b), floats(a), start);
    console.log(
      `${name} eval-BN: loss ${tfLoss} vs ${r.loss}, worst tensor ${d.worstTensor.toExponential(2)} (${d.where}), worst update ${d.worstUpdate.toExponential(2)} (${d.whereUpdate})`,
    );
    expect(d.worstTensor, d.where).toBeLessThan(1e-4);
    expect(d.worstUpdate, d.whereUpdate).toBeLessThan(1e-2);
  });

  it.each(CASES)(
    "$name, train-mode BN + dropout + Nesterov + clipping: TfjsEngine and OrtTrainingEngine states agree",
    async ({ name, opts: small, clips, trainSize }) => {
      const cfg: SgdConfig & { seed: number } = { momentum: 0.9, weightDecay: 5e-4, nesterov: true, clipGradNorm: 0.5, seed: 3 };
      const opts = { ...small, size: trainSize };
      const shape = inputShape(build(name, opts).inputSpec, clips);
      const labels = Int32Array.from({ length: clips }, (_, i) => (2 * i + 3) % 5);
      const start = floats(build(name, opts));
      /** One step of an engine from refgen weights on the refgen input scaled by `scale`. */
      const stepOf = async (engine: "tfjs" | "ort", scale: number) => {
        const m = build(name, opts);
        const e = engine === "tfjs" ? new TfjsEngine(m, cfg) : new OrtTrainingEngine(m, { ...cfg, threads: 1 });
        try {
          const r = await e.step(
            refgenInput(shape).map((v) => v * scale),
            shape,
            labels,
            0.02,
          );
          return { r, state: await e.state(), params: m.parameters().length };
        } finally {
          await e.dispose();
        }
      };
      const t = await stepOf("tfjs", 1);
      const o = await stepOf("ort", 1);
      // Float32 noise floor of the tfjs step itself: the same step on inputs 1 +- 2^-20 away (run
      // only when some tensor misses the strict bounds below).
      let floors: Awaited<ReturnType<typeof stepOf>>[] | null = null;
      const floorRuns = async () => (floors ??= [await stepOf("tfjs", 1 + 2 ** -20), await stepOf("tfjs", 1 - 2 ** -20)]);

      expect(Math.abs(o.r.loss - t.r.loss)).toBeLessThan(1e-4 * Math.max(1, t.r.loss));
      expect(Math.abs(o.r.gradNorm - t.r.gradNorm) / t.r.gradNorm).toBeLessThan(2e-2);
      expect(o.r.correct).toBe(t.r.correct);
      expect(Number(o.state.get(STEP_KEY)!.data[0])).toBe(1);
      for (const [k, v] of t.state) if (v.data instanceof BigInt64Array) expect(o.state.get(k)!.data, k).toEqual(v.data);
      const floats32 = (s: TensorMap, momentum: boolean) =>
        new Map(
          [...s]
            .filter(([k, v]) => v.data instanceof Float32Array && k.startsWith(MOMENTUM_PREFIX) === momentum)
            .map(([k, v]) => [k, v.data as Float32Array]),
        );
      // Updated weights / BN statistics: the issue's 1e-4, unless the tfjs step's own float32 noise
      // floor is higher (chaotic configurations: BN over few values, gradient norms in the thousands);
      // momentum buffers (the raw step direction): 1e-3 or 8x that floor.
      const floorOf = async (k: string, want: Float32Array) =>
        Math.max(...(await floorRuns()).map((f) => relErr(f.state.get(k)!.data as Float32Array, want)));
      const w = compareStates(floats32(o.state, false), floats32(t.state, false), start);
      let over1e4 = 0;
      for (const [k, want] of floats32(t.state, false)) {
        const err = relErr(floats32(o.state, false).get(k)!, want);
        if (err < 1e-4) continue;
        over1e4++;
        const floor = await floorOf(k, want);
        expect(err, `${k}: ${err.toExponential(2)} vs noise floor ${floor.toExponential(2)}`).toBeLessThan(8 * floor);
      }
      const mo = floats32(o.state, true);
      const mt = floats32(t.state, true);
      expect(mo.size).toBe(o.params);
      let worstRatio = 0;
      let where = "";
      for (const [k, want] of mt) {
        const err = relErr(mo.get(k)!, want);
        if (err < 1e-3) continue;
        const floor = await floorOf(k, want);
        expect(err, `${k}: ${err.toExponential(2)} vs noise floor ${floor.toExponential(2)}`).toBeLessThan(8 * floor);
        if (err / floor > worstRatio) [worstRatio, where] = [err / floor, k];
      }
      console.log(
        `${name} train-BN: loss ${t.r.loss} vs ${o.r.loss}, grad norm ${t.r.gradNorm} vs ${o.r.gradNorm}, worst weight ${w.worstTensor.toExponential(2)} (${w.where}; ${over1e4} tensors >= 1e-4), ${floors ? `worst momentum/noise-floor ratio ${worstRatio.toFixed(2)} (${where})` : "momentum buffers within 1e-3"}`,
      );
    },
  );

  it("state() / load() round trip resumes the same trajectory", async () => {
    const opts = { depth: 18, frames: 2, size: 32, numClasses: 3, dropout: 0.5 };
    const cfg: SgdConfig & { seed: number } = { momentum: 0.9, weightDecay: 1e-4, nesterov: false, seed: 9 };
    const shape = inputShape(build("tsm", opts).inputSpec, 2);
    const batches = [0, 1, 2].map((s) => refgenInput(shape).map((v, i) => v * Math.cos(s + i)));
    const labels = Int32Array.of(0, 2);
    const straight = new OrtTrainingEngine(build("tsm", opts), { ...cfg, threads: 1 });
    for (const x of batches) await straight.step(x, shape, labels, 0.05);
    const first = new OrtTrainingEngine(build("tsm", opts), { ...cfg, threads: 1 });
    await first.step(batches[0], shape, labels, 0.05);
    const saved = await first.state();
    await first.dispose();
    const resumed = new OrtTrainingEngine(build("tsm", opts), { ...cfg, threads: 1 });
    resumed.load(saved);
    for (const x of batches.slice(1)) await resumed.step(x, shape, labels, 0.05);
    const a = await straight.state();
    const b = await resumed.state();
    for (const [k, t] of a)
      expect(Array.from(b.get(k)!.data as ArrayLike<number | bigint>), k).toEqual(Array.from(t.data as ArrayLike<number | bigint>));
    await straight.dispose();
    await resumed.dispose();
  });
});

describe('train({ engine: "ort" }) on synthetic data', () => {
  let root: string;
  let data: string;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "blvnet-ort-train-"));
    data = (await synthesize(join(root, "synth"), { classes: ["move-left", "move-right"], train: 4, val: 2, frames: 4, size: 32, seed: 1 }))
      .dir;
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const config = (out: string, extra: Partial<TrainConfig> = {}, log: string[] = []): TrainConfig => ({
    engine: "ort",
    model: { name: "tsm", options: { depth: 18, frames: 4, size: 32 } },
    data: { dir: data },
    epochs: 2,
    batch: 3,
    optimizer: { lr: 0.02, clipGradNorm: 5 },
    out,
    log: (m) => void log.push(m),
    ...extra,
  });

  it("a run stopped at maxSteps and resumed ends bit-for-bit like an uninterrupted run", async () => {
    const full = join(root, "full");
    const parts = join(root, "parts");
    const log: string[] = [];
    const a = await train(config(full, {}, log));
    expect(a.status).toBe("done");
    expect(log.join("\n")).toMatch(/engine ort, backend ort/);
    expect((await train(config(parts, { maxSteps: 4 }))).status).toBe("stopped");
    const b = await train(config(parts, { resume: true }));
    expect(b.resumedFrom).toBe(4);
    const weights = (run: string) => decodeSafetensors(readFileSync(join(run, "model.safetensors"))).tensors;
    const wa = weights(full);
    const wb = weights(parts);
    expect([...wb.keys()]).toEqual([...wa.keys()]);
    for (const [k, t] of wa) expect(wb.get(k)!.data, k).toEqual(t.data);
    const rows = (run: string) =>
      (parse(readFileSync(join(run, "steps.csv"), "utf8"), { columns: true, cast: true }) as Record<string, number>[]).map(
        ({ step, lr, loss, grad_norm }) => ({ step, lr, loss, grad_norm }),
      );
    expect(rows(parts)).toEqual(rows(full));
    expect(rows(full).map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(wa.get("base_model.bn1.num_batches_tracked")!.data[0]).toBe(6n);
  });
});
