/**
 * tfjs-wasm: 1 thread vs N threads per op, at sizes of our models, plus conv3d before/after its
 * conv2d lowering and one training step of small models, all measured in ONE process: every round
 * initialises the wasm backend at 1 and at N threads (order alternating between rounds), runs every
 * case, then shuts the backend down. Printed: per case the median over rounds of each phase's
 * median, the median of the per-round ratios t(1)/t(N), and the load average (start, end).
 * "fwd+grads" cases time tf.grads of sum(f(x) * probe) with respect to every input (the forward
 * included). Before / after pairs: "filter grad by taps / conv" = the conv2d filter-gradient
 * lowerings of grads.ts; "tf.conv3d" / "conv2d lowering" = TfOps.conv3d's paths; "tf.moments" /
 * "pooled" = TfOps.batchNorm's training paths; the steps' "before" = all of the former plus
 * tfjs-backend-wasm's copying Identity kernel, "after" = the defaults (useSharedIdentity).
 *
 * Which kernels tfjs-backend-wasm 4.22 runs on its pthread pool (XNNPACK): Conv2D / depthwise /
 * fused conv, MatMul only for batch 1 without transpose flags, Add / Sub / Mul / Div, Relu / clamp,
 * MaxPool / AvgPool 2-D, PadV2, Softmax, a few unary ops. Everything else (Conv3D and its backprops,
 * batched or transposed MatMul, reductions, Transpose, Slice, Concat, Gather, Rsqrt, ...) is a plain
 * single-threaded loop.
 *
 *   npx tsx --conditions=source packages/bench/src/perf/wasm-threads.bench.ts [--threads 2]
 *       [--rounds 5] [--iters 3] [--groups ops,conv3d,step] [--only text,text] [--skip text,text]
 *       [--r3d16] [--json out.json]
 *
 * --r3d16 times only an R3D-18 16-frame 112x112 forward (refgen weights) at N threads, through
 * tf.conv3d (1 run) and the conv2d lowering (--iters runs); it takes minutes.
 */
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { fillDeterministic, inputShape, refgenInput, type VideoModel } from "@blvnet/core";
import {
  backendThreads,
  batchNormTrain,
  conv3dByFrames,
  type FilterGradLowering,
  initBackend,
  sgdOf,
  shutdownBackend,
  TfOps,
  tfForward,
  trainStep,
  useFilterGradLowering,
  useSharedIdentity,
} from "@blvnet/engine-tfjs";
import { createModel } from "@blvnet/models";
import * as tf from "@tensorflow/tfjs-core";

const { values: args } = parseArgs({
  options: {
    threads: { type: "string", default: "2" },
    rounds: { type: "string", default: "5" },
    iters: { type: "string", default: "3" },
    groups: { type: "string", default: "ops,conv3d,step" },
    only: { type: "string", default: "" },
    skip: { type: "string", default: "" },
    r3d16: { type: "boolean", default: false },
    json: { type: "string" },
  },
});
const threads = Number(args.threads);
const rounds = Number(args.rounds);
const iters = Number(args.iters);
const groups = args.groups!.split(",").filter(Boolean);
const only = args.only!.split(",").filter(Boolean);
const skip = args.skip!.split(",").filter(Boolean);

const load = () =>
  loadavg()
    .map((v) => v.toFixed(2))
    .join(" ");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const log = (s: string) => console.error(s);

/** Deterministic values in [-1, 1). */
function values(shape: number[], seed: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.sin(i * 0.7 + seed * 1.3) * Math.cos(i * 0.013 + seed);
  return tf.tensor(data, shape);
}

/** A prepared case: `run` computes once (synchronously, its result read back). */
interface Prepared {
  run: () => void;
  dispose: () => void;
}

interface Case {
  name: string;
  /** MACs of one run, for GMAC/s (forward MACs; x3 for forward + both gradients). */
  gmac?: number;
  /** Slow cases time one run per phase (no warm-up run beyond the first call's own set-up). */
  slow?: boolean;
  /** The conv2d filter-gradient lowering in force while the case runs (default "conv"). */
  filterGrad?: FilterGradLowering;
  /** wasm Identity shares data (default) or copies it (tfjs-backend-wasm's own kernel) while the case runs. */
  copyIdentity?: boolean;
  group: "ops" | "conv3d" | "step";
  prepare: () => Prepared;
}

/** A case computing `f(inputs)` and reading its first output. */
function opCase(name: string, shapes: number[][], f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[], extra: Partial<Case> = {}): Case {
  return {
    name,
    group: "ops",
    ...extra,
    prepare: () => {
      const xs = shapes.map((s, i) => values(s, i + 1));
      return {
        run: () => {
          const out = tf.tidy(() => f(...xs));
          const list = Array.isArray(out) ? out : [out];
          list[0]!.dataSync();
          tf.dispose(list);
        },
        dispose: () => tf.dispose(xs),
      };
    },
  };
}

/** Gradients of sum(f(xs) * probe) with respect to every input (probe: fixed values of f's output shape). */
function gradCase(name: string, shapes: number[][], f: (...xs: tf.Tensor[]) => tf.Tensor, extra: Partial<Case> = {}): Case {
  return {
    name,
    group: "ops",
    ...extra,
    prepare: () => {
      const xs = shapes.map((s, i) => values(s, i + 1));
      const outShape = tf.tidy(() => f(...xs).shape);
      const probe = values(outShape, 9);
      const g = tf.grads((...a: tf.Tensor[]) => f(...a));
      return {
        run: () => {
          const out = tf.tidy(() => g(xs, probe));
          for (const t of out) t.dataSync();
          tf.dispose(out);
        },
        dispose: () => tf.dispose([...xs, probe]),
      };
    },
  };
}

const N2 = [16, 56, 56, 64]; // 16 frames of a ResNet stage-1 map
const X3 = [1, 8, 56, 56, 64]; // one 8-frame clip, NDHWC
const pad5 = (x: tf.Tensor) =>
  tf.pad(x, [
    [0, 0],
    [1, 1],
    [1, 1],
    [1, 1],
    [0, 0],
  ]);
/** conv3d 3x3x3 padding 1 as TfOps runs it with conv3d: "kernel" (pad, then tf.conv3d). */
const conv3dKernel = (x: tf.Tensor, w: tf.Tensor) => tf.conv3d(pad5(x) as tf.Tensor5D, w as tf.Tensor5D, 1, "valid");
const conv3dLowered = (x: tf.Tensor, w: tf.Tensor) => conv3dByFrames(x as tf.Tensor5D, w as tf.Tensor5D, [1, 1, 1], [1, 1, 1], [1, 1, 1]);
const gmac3x3 = (16 * 56 * 56 * 64 * 64 * 9) / 1e9;
const gmac1x1 = (16 * 56 * 56 * 64 * 256) / 1e9;
const conv3x3 = (x: tf.Tensor, w: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "same");
const conv3x3s2 = (x: tf.Tensor, w: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, "same");
const conv1x1 = (x: tf.Tensor, w: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "valid");
const gmac3d = (8 * 56 * 56 * 64 * 64 * 27) / 1e9;

/** Training BN as TfOps.batchNorm computes it by default (batchNorm: "moments"): tf.moments, autodiff. */
function bnMoments(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor {
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), gamma), beta);
}

/** Training BN with the opt-in pooled lowering (batchNorm: "pooled"). */
function bnPooled(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor {
  const { y, mean, variance } = batchNormTrain(x, gamma, beta, 1e-5);
  tf.dispose([mean, variance]);
  return y;
}

const vec = [64];
const OP_CASES: Case[] = [
  opCase("conv2d 3x3 [16,56,56,64]->64", [N2, [3, 3, 64, 64]], conv3x3, { gmac: gmac3x3 }),
  gradCase("conv2d 3x3 fwd+grads, filter grad by taps", [N2, [3, 3, 64, 64]], conv3x3, { gmac: 3 * gmac3x3, filterGrad: "taps" }),
  gradCase("conv2d 3x3 fwd+grads, filter grad by conv", [N2, [3, 3, 64, 64]], conv3x3, { gmac: 3 * gmac3x3 }),
  opCase("conv2d 3x3 s2 [16,56,56,64]->128", [N2, [3, 3, 64, 128]], conv3x3s2, { gmac: gmac3x3 / 2 }),
  gradCase("conv2d 3x3 s2 fwd+grads, filter grad by taps", [N2, [3, 3, 64, 128]], conv3x3s2, {
    gmac: (3 * gmac3x3) / 2,
    filterGrad: "taps",
  }),
  gradCase("conv2d 3x3 s2 fwd+grads, filter grad by conv", [N2, [3, 3, 64, 128]], conv3x3s2, { gmac: (3 * gmac3x3) / 2 }),
  opCase("conv2d 1x1 [16,56,56,64]->256", [N2, [1, 1, 64, 256]], conv1x1, { gmac: gmac1x1 }),
  gradCase("conv2d 1x1 fwd+grads (one matMul)", [N2, [1, 1, 64, 256]], conv1x1, { gmac: 3 * gmac1x1 }),
  opCase("depthwise 3x3 [16,56,56,64]", [N2, [3, 3, 64, 1]], (x, w) => tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "same")),
  gradCase("depthwise 3x3 fwd+grads", [N2, [3, 3, 64, 1]], (x, w) => tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "same")),
  opCase(
    "matMul [512,2048]x[2048,512]",
    [
      [512, 2048],
      [2048, 512],
    ],
    (a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
    {
      gmac: (512 * 2048 * 512) / 1e9,
    },
  ),
  opCase(
    "matMul [64,50176]x[50176,64] (filter grad)",
    [
      [64, 50176],
      [50176, 64],
    ],
    (a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
    {
      gmac: (64 * 50176 * 64) / 1e9,
    },
  ),
  opCase(
    "matMul transposeB [512,2048]x[512,2048]^T",
    [
      [512, 2048],
      [512, 2048],
    ],
    (a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, false, true),
    { gmac: (512 * 2048 * 512) / 1e9 },
  ),
  opCase(
    "batched matMul [8,256,256]x[8,256,256]",
    [
      [8, 256, 256],
      [8, 256, 256],
    ],
    (a, b) => tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D),
    {
      gmac: (8 * 256 * 256 * 256) / 1e9,
    },
  ),
  opCase("conv3d 3x3x3 [1,8,56,56,64] tf.conv3d", [X3, [3, 3, 3, 64, 64]], conv3dKernel, { gmac: gmac3d, slow: true, group: "conv3d" }),
  opCase("conv3d 3x3x3 [1,8,56,56,64] conv2d lowering", [X3, [3, 3, 3, 64, 64]], conv3dLowered, { gmac: gmac3d, group: "conv3d" }),
  gradCase("conv3d fwd+grads, conv2d lowering, filter grad by taps", [X3, [3, 3, 3, 64, 64]], conv3dLowered, {
    gmac: 3 * gmac3d,
    filterGrad: "taps",
    group: "conv3d",
  }),
  gradCase("conv3d fwd+grads, conv2d lowering, filter grad by conv", [X3, [3, 3, 3, 64, 64]], conv3dLowered, {
    gmac: 3 * gmac3d,
    group: "conv3d",
  }),
  opCase("batchNorm train fwd [16,56,56,64], tf.moments", [N2, vec, vec], bnMoments),
  opCase("batchNorm train fwd [16,56,56,64], pooled", [N2, vec, vec], bnPooled),
  gradCase("batchNorm train fwd+grads, tf.moments + autodiff", [N2, vec, vec], bnMoments),
  gradCase("batchNorm train fwd+grads, pooled + closed form", [N2, vec, vec], bnPooled),
  opCase("batchNorm eval (sub,mul,add by [64])", [N2, vec, vec, vec], (x, m, s, b) => tf.add(tf.mul(tf.sub(x, m), s), b)),
  opCase("moments over N,H,W", [N2], (x) => {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    return [variance, mean];
  }),
  opCase("add [16,56,56,64] x2", [N2, N2], (a, b) => tf.add(a, b)),
  opCase("mul by [64] (broadcast)", [N2, vec], (a, b) => tf.mul(a, b)),
  opCase("relu", [N2], (a) => tf.relu(a)),
  opCase("rsqrt (abs first)", [N2], (a) => tf.rsqrt(tf.abs(a))),
  opCase("sum over N,H,W", [N2], (a) => tf.sum(a, [0, 1, 2])),
  opCase("transpose NHWC->CNHW", [N2], (a) => tf.transpose(a, [3, 0, 1, 2])),
  opCase("pad H,W by 1", [N2], (a) =>
    tf.pad(a, [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ]),
  ),
];

/** One SGD step (momentum 0.9, weight decay) of a model on the tfjs interpreter. */
function stepCase(
  name: string,
  model: string,
  options: Record<string, unknown>,
  clips: number,
  extra: { before?: boolean; slow?: boolean } = {},
): Case {
  // before: tf.conv3d, conv filter grads by taps, BN by tf.moments + autodiff, copying Identity
  const before = extra.before ?? false;
  return {
    name,
    group: "step",
    slow: extra.slow,
    filterGrad: before ? "taps" : "conv",
    copyIdentity: before,
    prepare: () => {
      const m: VideoModel = createModel(model, options);
      fillDeterministic(m);
      m.train();
      const ops = new TfOps({ trainable: true, conv3d: before ? "kernel" : "conv2d", batchNorm: before ? "moments" : "pooled" });
      const shape = inputShape(m.inputSpec, clips);
      const input = ops.input(refgenInput(shape), shape);
      const labels = Array.from({ length: clips }, (_, i) => (3 * i + 1) % 10);
      const step = () => trainStep(m, ops, input, labels, { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
      step(); // creates the variables and the momentum buffers
      return {
        run: step,
        dispose: () => {
          sgdOf(ops.store).dispose();
          ops.store.dispose();
          input.dispose();
        },
      };
    },
  };
}

const TSM = { depth: 18, frames: 8, size: 112, numClasses: 10, dropout: 0 };
const R3D = { depth: 18, frames: 4, size: 32, numClasses: 10 };
const STEP_CASES: Case[] = [
  stepCase("step TSM-R18 8f 112x112 x2 clips, before", "tsm", TSM, 2, { before: true }),
  stepCase("step TSM-R18 8f 112x112 x2 clips, after", "tsm", TSM, 2),
  stepCase("step R3D-18 4f 32x32 x1 clip, before", "r3d", R3D, 1, { before: true, slow: true }),
  stepCase("step R3D-18 4f 32x32 x1 clip, after", "r3d", R3D, 1),
];

function selected(c: Case): boolean {
  const hit = (list: string[]) => list.some((s) => c.name.toLowerCase().includes(s.toLowerCase()));
  return groups.includes(c.group) && (only.length === 0 || hit(only)) && !hit(skip);
}

async function useThreads(n: number): Promise<void> {
  await shutdownBackend();
  await initBackend("wasm", { threads: n });
  if (backendThreads() !== n) throw new Error(`asked for ${n} wasm threads, got ${backendThreads()}`);
}

function timeOnce(run: () => void): number {
  const t = performance.now();
  run();
  return performance.now() - t;
}

async function r3d16(): Promise<void> {
  await useThreads(threads);
  const m = createModel("r3d", { depth: 18, frames: 16, size: 112, numClasses: 400 });
  fillDeterministic(m);
  m.eval();
  const shape = inputShape(m.inputSpec, 1);
  const data = refgenInput(shape);
  const outputs: Float32Array[] = [];
  for (const [label, conv3d, runs] of [
    ["conv2d lowering", "conv2d", iters],
    ["tf.conv3d", "kernel", 1],
  ] as const) {
    const ops = new TfOps({ conv3d });
    const x = ops.input(data, shape);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      const y = tfForward(m, ops, x);
      const out = y.dataSync() as Float32Array;
      times.push(performance.now() - t);
      if (i === 0) outputs.push(Float32Array.from(out));
      y.dispose();
      log(`  R3D-18 16f 112x112 forward, ${label}, ${threads} threads: ${(times.at(-1)! / 1000).toFixed(2)} s (load ${load()})`);
    }
    console.log(`R3D-18 16x112x112 forward, ${threads} threads, ${label}: median ${(median(times) / 1000).toFixed(2)} s of ${runs}`);
    x.dispose();
    ops.store.dispose();
  }
  let maxDiff = 0;
  let maxAbs = 0;
  outputs[0]!.forEach((v, i) => {
    maxDiff = Math.max(maxDiff, Math.abs(v - outputs[1]![i]!));
    maxAbs = Math.max(maxAbs, Math.abs(outputs[1]![i]!));
  });
  console.log(`max|lowered - tf.conv3d| / max|tf.conv3d| = ${(maxDiff / maxAbs).toExponential(2)}`);
  await shutdownBackend();
}

interface Row {
  name: string;
  ms: Record<number, number[]>;
  ratios: number[];
  gmac?: number;
}

async function main(): Promise<void> {
  const loadStart = load();
  log(`wasm threads bench: 1 vs ${threads} threads, ${rounds} rounds, ${iters} timed runs per phase, load ${loadStart}`);
  if (args.r3d16) return r3d16();
  const cases = [...OP_CASES, ...STEP_CASES].filter(selected);
  const rows: Row[] = cases.map((c) => ({ name: c.name, ms: { 1: [], [threads]: [] }, ratios: [], gmac: c.gmac }));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? [1, threads] : [threads, 1];
    for (const n of order) {
      await useThreads(n);
      cases.forEach((c, i) => {
        useFilterGradLowering(c.filterGrad ?? "conv");
        useSharedIdentity(!c.copyIdentity);
        const p = c.prepare();
        try {
          const first = timeOnce(p.run);
          const times = c.slow ? [first] : Array.from({ length: iters }, () => timeOnce(p.run));
          rows[i]!.ms[n]!.push(median(times));
          log(`  ${n} thr  ${c.name}: ${median(times).toFixed(1)} ms (first call ${first.toFixed(1)} ms)`);
        } finally {
          p.dispose();
          useFilterGradLowering("conv");
          useSharedIdentity(true);
        }
      });
      log(`round ${r + 1}/${rounds}, ${n} thread(s) done, load ${load()}`);
    }
    for (const row of rows) row.ratios.push(row.ms[1]!.at(-1)! / row.ms[threads]!.at(-1)!);
  }
  await shutdownBackend();
  const loadEnd = load();

  const w = Math.max(...rows.map((r) => r.name.length));
  const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1)).padStart(8);
  console.log(
    `\ntfjs-wasm, 1 vs ${threads} threads, medians of ${rounds} alternated rounds; load at start ${loadStart}, at end ${loadEnd}`,
  );
  console.log(`${"case".padEnd(w)}  ${"1 thr ms".padStart(8)}  ${`${threads} thr ms`.padStart(8)}  t1/t${threads}  GMAC/s 1 / ${threads}`);
  for (const row of rows) {
    const a = median(row.ms[1]!);
    const b = median(row.ms[threads]!);
    const rate = row.gmac ? `${(row.gmac / (a / 1000)).toFixed(1)} / ${(row.gmac / (b / 1000)).toFixed(1)}` : "";
    console.log(`${row.name.padEnd(w)}  ${fmt(a)}  ${fmt(b)}  ${median(row.ratios).toFixed(2).padStart(5)}  ${rate}`);
  }
  // before/after: the same computation through tf.conv3d and through the conv2d lowering (per-round ratios)
  console.log("");
  const pairs = [
    ["conv2d 3x3 fwd+grads, filter grad by taps", "conv2d 3x3 fwd+grads, filter grad by conv"],
    ["conv2d 3x3 s2 fwd+grads, filter grad by taps", "conv2d 3x3 s2 fwd+grads, filter grad by conv"],
    ["conv3d 3x3x3 [1,8,56,56,64] tf.conv3d", "conv3d 3x3x3 [1,8,56,56,64] conv2d lowering"],
    ["conv3d fwd+grads, conv2d lowering, filter grad by taps", "conv3d fwd+grads, conv2d lowering, filter grad by conv"],
    ["batchNorm train fwd [16,56,56,64], tf.moments", "batchNorm train fwd [16,56,56,64], pooled"],
    ["batchNorm train fwd+grads, tf.moments + autodiff", "batchNorm train fwd+grads, pooled + closed form"],
    ["step TSM-R18 8f 112x112 x2 clips, before", "step TSM-R18 8f 112x112 x2 clips, after"],
    ["step R3D-18 4f 32x32 x1 clip, before", "step R3D-18 4f 32x32 x1 clip, after"],
  ];
  for (const [before, after] of pairs) {
    const b = rows.find((r) => r.name === before);
    const a = rows.find((r) => r.name === after);
    if (!a || !b) continue;
    for (const n of [1, threads]) {
      const ratio = median(b.ms[n]!.map((v, i) => v / a.ms[n]![i]!));
      console.log(`${n} thread(s): "${before}" / "${after}" = ${ratio.toFixed(2)}`);
    }
  }
  if (args.json) writeFileSync(args.json, JSON.stringify({ threads, rounds, iters, loadStart, loadEnd, rows }, null, 1));
}

await main();
