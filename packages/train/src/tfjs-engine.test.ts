/**
 * The tfjs engine against a float64 re-statement of torch.optim.SGD on a model whose gradient is
 * known in closed form: logits = W * mean(x over frames and pixels) + b (a linear probe written with
 * the same ops as the real models), loss = mean softmax cross-entropy.
 */

import { type InputSpec, Linear, type Ops, type SgdConfig, VideoModel } from "@blvnet/core";
import { initBackend } from "@blvnet/engine-tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { MOMENTUM_PREFIX, NonFiniteLossError } from "./engine.js";
import { STEP_KEY, TfjsEngine } from "./tfjs-engine.js";

/** The reference reads every SGD field. */
type Cfg = SgdConfig & Required<Pick<SgdConfig, "momentum" | "weightDecay" | "nesterov">>;

const T = 2;
const K = 3;
const S = 4;

class LinearProbe extends VideoModel {
  readonly family = "probe";
  readonly id = "probe";
  readonly numClasses = K;
  readonly options = {};
  readonly inputSpec: InputSpec = { layout: "N(TC)HW", frames: T, size: S, channels: 3, mean: [0, 0, 0], std: [1, 1, 1] };
  readonly fc = new Linear(3, K);
  forward<X>(ops: Ops<X>, x: X): X {
    return ops.segmentMean(this.fc.forward(ops, ops.globalAvgPool(ops.clipsToFrames(x, T))), T);
  }
}

function probe(): LinearProbe {
  const m = new LinearProbe();
  m.fc.weight.set(Float32Array.from({ length: 3 * K }, (_, i) => Math.sin(i + 1) * 0.3));
  m.fc.bias!.set(Float32Array.from([0.1, -0.2, 0.05]));
  for (const [n, p] of m.namedTensors()) p.name = n;
  return m;
}

/** torch.optim.SGD (dampening 0) after clip_grad_norm_, in float64, with the analytic CE gradient. */
function reference(w0: Float32Array, b0: Float32Array, batches: { x: Float32Array; y: Int32Array }[], lrs: number[], cfg: Cfg) {
  const w = Float64Array.from(w0);
  const b = Float64Array.from(b0);
  let bw: Float64Array | null = null;
  let bb: Float64Array | null = null;
  batches.forEach(({ x, y }, s) => {
    const n = y.length;
    const per = T * 3 * S * S;
    // mean over frames and pixels of each channel: input rows are (n, t*3 + c, h, w)
    const feat = new Float64Array(n * 3);
    for (let i = 0; i < n; i++)
      for (let t = 0; t < T; t++)
        for (let c = 0; c < 3; c++) for (let q = 0; q < S * S; q++) feat[i * 3 + c] += x[i * per + (t * 3 + c) * S * S + q]! / (T * S * S);
    const gw = new Float64Array(K * 3);
    const gb = new Float64Array(K);
    for (let i = 0; i < n; i++) {
      const z = Array.from({ length: K }, (_, k) => b[k]! + [0, 1, 2].reduce((a, c) => a + w[k * 3 + c]! * feat[i * 3 + c]!, 0));
      const m = Math.max(...z);
      const e = z.map((v) => Math.exp(v - m));
      const sum = e.reduce((a, v) => a + v, 0);
      for (let k = 0; k < K; k++) {
        const g = (e[k]! / sum - (y[i] === k ? 1 : 0)) / n;
        gb[k] += g;
        for (let c = 0; c < 3; c++) gw[k * 3 + c] += g * feat[i * 3 + c]!;
      }
    }
    const norm = Math.sqrt([...gw, ...gb].reduce((a, v) => a + v * v, 0));
    const coef = cfg.clipGradNorm ? Math.min(1, cfg.clipGradNorm / (norm + 1e-6)) : 1;
    const update = (p: Float64Array, g: Float64Array, buf: Float64Array | null): Float64Array => {
      const d = g.map((v, i) => v * coef + cfg.weightDecay * p[i]!);
      const nb = buf ? buf.map((v, i) => cfg.momentum * v + d[i]!) : Float64Array.from(d);
      const step = cfg.nesterov ? d.map((v, i) => v + cfg.momentum * nb[i]!) : nb;
      for (let i = 0; i < p.length; i++) p[i] -= lrs[s]! * step[i]!;
      return nb;
    };
    bw = update(w, gw, bw);
    bb = update(b, gb, bb);
  });
  return { w, b, bw: bw!, bb: bb! };
}

function batch(seed: number, n: number): { x: Float32Array; y: Int32Array } {
  const x = Float32Array.from({ length: n * T * 3 * S * S }, (_, i) => Math.sin(seed * 131 + i * 0.37) * 2);
  return { x, y: Int32Array.from({ length: n }, (_, i) => (i + seed) % K) };
}

const shape = (n: number) => [n, T * 3, S, S];

async function runEngine(cfg: Cfg, batches: { x: Float32Array; y: Int32Array }[], lrs: number[]) {
  const m = probe();
  const w0 = Float32Array.from(m.fc.weight.f32);
  const b0 = Float32Array.from(m.fc.bias!.f32);
  const engine = new TfjsEngine(m, { ...cfg, seed: 0 });
  for (let s = 0; s < batches.length; s++) await engine.step(batches[s]!.x, shape(batches[s]!.y.length), batches[s]!.y, lrs[s]!);
  const state = await engine.state();
  await engine.dispose();
  return { state, ref: reference(w0, b0, batches, lrs, cfg) };
}

function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return err / scale;
}

beforeAll(async () => {
  await initBackend("cpu");
});

describe("TfjsEngine SGD = torch.optim.SGD", () => {
  const batches = [batch(1, 4), batch(2, 4), batch(3, 3)];
  const lrs = [0.5, 0.3, 0.2];

  it("Nesterov momentum + weight decay over three steps (weights and momentum buffers)", async () => {
    const cfg = { momentum: 0.9, weightDecay: 5e-4, nesterov: true };
    const { state, ref } = await runEngine(cfg, batches, lrs);
    expect(maxRelErr(state.get("fc.weight")!.data as Float32Array, ref.w)).toBeLessThan(1e-5);
    expect(maxRelErr(state.get("fc.bias")!.data as Float32Array, ref.b)).toBeLessThan(1e-5);
    expect(maxRelErr(state.get(MOMENTUM_PREFIX + "fc.weight")!.data as Float32Array, ref.bw)).toBeLessThan(1e-5);
    expect(state.get(STEP_KEY)!.data[0]).toBe(3n);
  });

  it("plain momentum with the global gradient norm clipped", async () => {
    const cfg = { momentum: 0.9, weightDecay: 1e-2, nesterov: false, clipGradNorm: 0.05 };
    const { state, ref } = await runEngine(cfg, batches, lrs);
    expect(maxRelErr(state.get("fc.weight")!.data as Float32Array, ref.w)).toBeLessThan(1e-5);
    // clipping really happened: the unclipped run differs
    const { ref: unclipped } = await runEngine({ ...cfg, clipGradNorm: undefined }, batches, lrs);
    expect(maxRelErr(unclipped.w, ref.w)).toBeGreaterThan(1e-3);
  });

  it("state() then load() into a fresh engine continues identically", async () => {
    const cfg = { momentum: 0.9, weightDecay: 5e-4, nesterov: true };
    const a = new TfjsEngine(probe(), { ...cfg, seed: 0 });
    await a.step(batches[0]!.x, shape(4), batches[0]!.y, lrs[0]!);
    const mid = await a.state();
    await a.step(batches[1]!.x, shape(4), batches[1]!.y, lrs[1]!);
    const b = new TfjsEngine(probe(), { ...cfg, seed: 0 });
    b.load(mid);
    await b.step(batches[1]!.x, shape(4), batches[1]!.y, lrs[1]!);
    for (const key of ["fc.weight", "fc.bias", MOMENTUM_PREFIX + "fc.weight"]) {
      expect((await b.state()).get(key)!.data).toEqual((await a.state()).get(key)!.data);
    }
    await a.dispose();
    await b.dispose();
  });

  it("a non-finite loss throws before the weights change", async () => {
    const m = probe();
    const before = Float32Array.from(m.fc.weight.f32);
    const engine = new TfjsEngine(m, { momentum: 0.9, weightDecay: 0, nesterov: false, seed: 0 });
    const bad = batch(1, 2);
    bad.x[0] = Infinity;
    await expect(engine.step(bad.x, shape(2), bad.y, 0.1)).rejects.toBeInstanceOf(NonFiniteLossError);
    expect((await engine.state()).get("fc.weight")!.data).toEqual(before);
    await engine.dispose();
  });
});
