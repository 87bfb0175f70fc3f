/**
 * Issue 18's three ratios in one run, every pair of runs ALTERNATED so both sides see the same load
 * on a shared machine; medians, pairwise-ratio medians, peak RSS and the load average are printed:
 *
 *  1. training step, bLVNet-TAM-50 f8x2 (1 clip x 16 frames, 112x112, 174 classes, SGD momentum 0.9):
 *     our compiled ONNX step (OrtTrainingEngine) vs the official PyTorch code (peer --serve).
 *     Target: ours <= 0.8x PyTorch's median, our peak RSS <= PyTorch's.
 *  2. inference, bLVNet-TAM-50 f8x2, 224x224, batch 1: onnxruntime (OrtEngine) vs the official code.
 *     Target: >= 3x faster.
 *  3. ours only: bLVNet-TAM-50 f8x2 vs TSM-R50 16 frames, 224x224, batch 1 and 8.
 *     Target: bLVNet >= 2.4x faster at both batches.
 *
 * The training part runs first, so the process' peak RSS at its end is the training peak (the
 * inference sessions come later). The PyTorch peer is a separate process per part (its own peak).
 *
 *   npx tsx --conditions=source packages/bench/src/perf/ratios.bench.ts [--threads 2]
 *       [--steps 5] [--iters 5] [--iters8 3] [--skip train,infer,tsm,tsm8]
 *       [--peer-src-blvnet DIR (a checkout of IBM/bLVNet-TAM; default peer/blvnet-tam)] [--json out.json]
 *       [--lowering auto-scatter|auto-no-gemm|auto|convtranspose|gemm|gemm-scatter] [--no-lazy-rows] [--no-arena] [--pattern] [--keep-output-copies] [--no-ffi]
 *       [--no-blocked-shifts] [--no-row-blend] [--settle-ms 100]
 *   npm run bench:ratios -w @blvnet/bench -- [flags]
 */
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { fillDeterministic, inputShape, refgenInput, type VideoModel } from "@blvnet/core";
import { type InputGradLowering, OrtEngine, OrtTrainer } from "@blvnet/engine-onnx";
import { createModel } from "@blvnet/models";
// The peer module alone: the package index loads every job (tfjs, the train loop, ...), ~120 MiB of
// RSS that would count in our training peak.
import { PeerSession } from "../speed/peer.js";
import { SETTLE_MS, settle as settleFor } from "../speed/settle.js";

const { values: args } = parseArgs({
  options: {
    threads: { type: "string", default: "2" },
    steps: { type: "string", default: "5" },
    iters: { type: "string", default: "5" },
    iters8: { type: "string", default: "3" },
    skip: { type: "string", default: "" },
    "peer-src-blvnet": { type: "string", default: "peer/blvnet-tam" },
    json: { type: "string" },
    /** A/B: the conv input-gradient lowering of the step graph (auto-no-gemm = before the scatter-matrix Gemm path). */
    lowering: { type: "string", default: "auto-scatter" },
    /** A/B: export without lazy row maps (the Gather/Pad graph of bLVNet's frame handling). */
    "no-lazy-rows": { type: "boolean", default: false },
    /** A/B: onnxruntime's memory arena / memory pattern off in the step session. */
    "no-arena": { type: "boolean", default: false },
    "no-pattern": { type: "boolean", default: false },
    /** A/B: onnxruntime's memory pattern ON in the step session (the trainer's default is off). */
    pattern: { type: "boolean", default: false },
    /** A/B: leave onnxruntime-node's output copies to the GC (OrtTrainerOptions.freeOutputCopies false). */
    "keep-output-copies": { type: "boolean", default: false },
    /** A/B: run the step through onnxruntime-node's binding instead of onnxruntime's C API (OrtTrainerOptions.ffi false). */
    "no-ffi": { type: "boolean", default: false },
    /** Idle milliseconds before each timed run (see settle()). */
    "settle-ms": { type: "string", default: String(SETTLE_MS) },
    /** A/B: inference sessions without time shifts on blocked maps (OrtSessionOptions.blockedShifts false). */
    "no-blocked-shifts": { type: "boolean", default: false },
    /** A/B: TAM blends as depthwise convs and shifts instead of RowBlend custom ops (OrtEngineOptions.rowBlend false). */
    "no-row-blend": { type: "boolean", default: false },
  },
});
const threads = Number(args.threads);
const skip = new Set(args.skip!.split(",").filter(Boolean));
/** Whether the inference sessions ran TAM's blends as RowBlend custom ops (false: not available or --no-row-blend). */
let rowBlendUsed: boolean | undefined;
const inferOpts = { lazyRows: !args["no-lazy-rows"], blockedShifts: !args["no-blocked-shifts"], rowBlend: !args["no-row-blend"] };
const BLVNET = { depth: 50, alpha: 2, beta: 4, frames: 16, blendingFrames: 3, numClasses: 174 };
const TSM = { depth: 50, frames: 16, numClasses: 174 };

const load = () =>
  loadavg()
    .map((v) => v.toFixed(2))
    .join(" ");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const peakMiB = () => Math.round(process.resourceUsage().maxRSS / 1024);
const log = (s: string) => console.error(s);

function build(name: string, options: Record<string, unknown>, train: boolean): VideoModel {
  const m = createModel(name, options);
  fillDeterministic(m);
  return train ? m.train() : m.eval();
}

interface Pair {
  what: string;
  a: string;
  b: string;
  aMs: number[];
  bMs: number[];
  /** median of a/b over alternated pairs */
  pairRatio: number;
  aMedian: number;
  bMedian: number;
  aPeakMiB?: number;
  bPeakMiB?: number;
  target: string;
  met: boolean;
  load: string;
}
const results: Pair[] = [];

function pair(
  what: string,
  a: string,
  b: string,
  aMs: number[],
  bMs: number[],
  target: string,
  met: (p: Pair) => boolean,
  extra: Partial<Pair> = {},
): Pair {
  const p: Pair = {
    what,
    a,
    b,
    aMs: aMs.map(Math.round),
    bMs: bMs.map(Math.round),
    pairRatio: median(aMs.map((v, i) => v / bMs[i]!)),
    aMedian: median(aMs),
    bMedian: median(bMs),
    target,
    met: false,
    load: load(),
    ...extra,
  };
  p.met = met(p);
  results.push(p);
  return p;
}

/** Idle before each timed run, ours and the peer's alike (see speed/settle.ts). */
const settle = () => settleFor(Number(args["settle-ms"]));

async function time(f: () => Promise<unknown>): Promise<number> {
  await settle();
  const t = performance.now();
  await f();
  return performance.now() - t;
}

log(
  `ratios bench, ${threads} threads, load ${load()}, lowering ${args.lowering}, lazy rows ${!args["no-lazy-rows"]}, step via ${args["no-ffi"] ? "binding" : "C API"}`,
);

// ---- 1. training step ------------------------------------------------------------------------
if (!skip.has("train")) {
  const options = { ...BLVNET, dropout: 0.5, size: 112 };
  const model = build("blvnet-tam", options, true);
  const shape = inputShape(model.inputSpec, 1);
  const input = refgenInput(shape);
  const labels = [7];
  const ort = await OrtTrainer.create(model, {
    momentum: 0.9,
    weightDecay: 0,
    nesterov: false,
    seed: 0,
    threads,
    inputShape: shape,
    lowering: { convInputGrad: args.lowering as InputGradLowering },
    memArena: !args["no-arena"],
    memPattern: args.pattern && !args["no-pattern"],
    freeOutputCopies: !args["keep-output-copies"],
    ffi: !args["no-ffi"],
  });
  const peer = await PeerSession.start({ model: "blvnet-tam", options, batch: 1, threads, seed: 0, src: args["peer-src-blvnet"]! });
  log(`train: ours first step ${(await time(() => ort.step(input, labels, 0.001))).toFixed(0)} ms`);
  await ort.step(input, labels, 0.001);
  await peer.run("train", 2, 1);
  const o: number[] = [];
  const t: number[] = [];
  for (let i = 0; i < Number(args.steps); i++) {
    o.push(await time(() => ort.step(input, labels, 0.001)));
    await settle();
    t.push((await peer.run("train", 0, 1))[0]!);
    log(`train ${i + 1}: ours ${o[i]!.toFixed(0)} ms, pytorch ${t[i]!.toFixed(0)} ms (load ${load()})`);
  }
  const ourPeak = peakMiB();
  const info = await peer.close();
  await ort.release();
  pair(
    "training step, bLVNet-TAM-50 f8x2 112x112, batch 1",
    "ours (ort step graph)",
    `pytorch ${info.torch_version}`,
    o,
    t,
    "ours/pytorch <= 0.80 and peak RSS ours <= pytorch",
    (p) => p.pairRatio <= 0.8 && p.aMedian / p.bMedian <= 0.8 && p.aPeakMiB! <= p.bPeakMiB!,
    {
      aPeakMiB: ourPeak,
      bPeakMiB: Math.round(info.peak_rss_bytes / 2 ** 20),
    },
  );
}

// ---- 2. inference vs the official code -------------------------------------------------------
if (!skip.has("infer")) {
  const options = { ...BLVNET, dropout: 0, size: 224 };
  const model = build("blvnet-tam", options, false);
  const shape = inputShape(model.inputSpec, 1);
  const input = refgenInput(shape);
  const ours = await OrtEngine.create(model, { threads, clips: 1, ...inferOpts });
  rowBlendUsed = ours.rowBlend;
  const peer = await PeerSession.start({ model: "blvnet-tam", options, batch: 1, threads, seed: 0, src: args["peer-src-blvnet"]! });
  await ours.run(input, shape);
  await ours.run(input, shape);
  await peer.run("forward", 2, 1);
  const o: number[] = [];
  const t: number[] = [];
  for (let i = 0; i < Number(args.iters); i++) {
    o.push(await time(() => ours.run(input, shape)));
    await settle();
    t.push((await peer.run("forward", 0, 1))[0]!);
    log(`infer ${i + 1}: ours ${o[i]!.toFixed(0)} ms, pytorch ${t[i]!.toFixed(0)} ms (load ${load()})`);
  }
  const info = await peer.close();
  await ours.release();
  pair(
    "inference, bLVNet-TAM-50 f8x2 224x224, batch 1",
    "ours (onnxruntime)",
    `pytorch ${info.torch_version}`,
    o,
    t,
    "pytorch/ours >= 3.0",
    (p) => 1 / p.pairRatio >= 3,
  );
}

// ---- 3. bLVNet vs TSM (ours) -----------------------------------------------------------------
for (const batch of [1, 8]) {
  if (skip.has(batch === 1 ? "tsm" : "tsm8")) continue;
  const iters = Number(batch === 1 ? args.iters : args.iters8);
  const bl = build("blvnet-tam", { ...BLVNET, dropout: 0, size: 224 }, false);
  const ts = build("tsm", { ...TSM, dropout: 0, size: 224 }, false);
  const bShape = inputShape(bl.inputSpec, batch);
  const tShape = inputShape(ts.inputSpec, batch);
  const bIn = refgenInput(bShape);
  const tIn = refgenInput(tShape);
  const be = await OrtEngine.create(bl, { threads, clips: batch, ...inferOpts });
  rowBlendUsed = be.rowBlend;
  const te = await OrtEngine.create(ts, { threads, clips: batch, ...inferOpts });
  // Two untimed runs each: the first run after another session's is still slow (arena growth).
  for (let w = 0; w < 2; w++) {
    await be.run(bIn, bShape);
    await te.run(tIn, tShape);
  }
  const o: number[] = [];
  const t: number[] = [];
  for (let i = 0; i < iters; i++) {
    o.push(await time(() => be.run(bIn, bShape)));
    t.push(await time(() => te.run(tIn, tShape)));
    log(`batch ${batch} ${i + 1}: blvnet ${o[i]!.toFixed(0)} ms, tsm ${t[i]!.toFixed(0)} ms (load ${load()})`);
  }
  await be.release();
  await te.release();
  pair(
    `bLVNet-TAM-50 f8x2 vs TSM-R50 16f, 224x224, batch ${batch} (ours, onnxruntime)`,
    "blvnet-tam",
    "tsm",
    o,
    t,
    "tsm/blvnet >= 2.4",
    (p) => 1 / p.pairRatio >= 2.4,
  );
}

console.log(
  `\nissue-18 ratios, ${threads} threads, ${new Date().toISOString()}, lowering ${args.lowering}, lazy rows ${!args["no-lazy-rows"]}, blocked shifts ${!args["no-blocked-shifts"]}, row blend ${rowBlendUsed ?? "not run"}, arena ${!args["no-arena"]}, pattern ${args.pattern && !args["no-pattern"]}, settle ${args["settle-ms"]} ms, step via ${args["no-ffi"] ? "binding" : "C API"}`,
);
for (const p of results) {
  const speedup = 1 / p.pairRatio;
  console.log(`\n${p.what}  [load ${p.load}]`);
  console.log(
    `  ${p.a.padEnd(24)} median ${p.aMedian.toFixed(0).padStart(6)} ms  ${JSON.stringify(p.aMs)}${p.aPeakMiB ? `  peak RSS ${p.aPeakMiB} MiB` : ""}`,
  );
  console.log(
    `  ${p.b.padEnd(24)} median ${p.bMedian.toFixed(0).padStart(6)} ms  ${JSON.stringify(p.bMs)}${p.bPeakMiB ? `  peak RSS ${p.bPeakMiB} MiB` : ""}`,
  );
  console.log(
    `  a/b pairwise median ${p.pairRatio.toFixed(3)}x (b/a ${speedup.toFixed(2)}x), medians ${(p.aMedian / p.bMedian).toFixed(3)}x; target ${p.target}: ${p.met ? "MET" : "not met"}`,
  );
}
if (args.json) {
  // Provenance: commit, versions, device and the command (no machine paths); loaded only now, after the peaks were read.
  const { deviceName, gitCommit } = await import("@blvnet/train");
  const ortVersion = createRequire(import.meta.url)("onnxruntime-node/package.json").version as string;
  const provenance = {
    git_commit: gitCommit(),
    node_version: process.version,
    ort_version: ortVersion,
    device: deviceName(),
    threads,
    step_via: args["no-ffi"] ? "onnxruntime-node binding" : "onnxruntime C API (koffi)",
    tam_blend: rowBlendUsed === undefined ? "not run" : rowBlendUsed ? "RowBlend custom op" : "depthwise convs + shifts",
    date: new Date().toISOString(),
    command: ["ratios.bench.ts", ...withoutPaths(process.argv.slice(2))].join(" "),
  };
  writeFileSync(args.json, JSON.stringify({ ...provenance, results }, null, 1));
}
process.exit(0);

/** The arguments without path flags and their values (a published figure names no path of its machine). */
function withoutPaths(argv: string[]): string[] {
  const paths = new Set(["--peer-src-blvnet", "--json"]);
  return argv.filter((a, i) => !paths.has(a) && !paths.has(argv[i - 1] ?? "") && !paths.has(a.split("=")[0]!));
}
