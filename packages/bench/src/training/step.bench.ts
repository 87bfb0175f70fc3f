/**
 * Training-step time of bLVNet-TAM-50 f8x2 (16 frames, 1 clip, 112x112, 174 classes) with the ort
 * engine (one ONNX graph per SGD step), the official PyTorch code and the tfjs engine (wasm), in one
 * run, same thread count, same SGD settings as the PyTorch peer (momentum 0.9, no weight decay).
 * ort and PyTorch steps ALTERNATE (the peer is a --serve process), so on a shared machine both see
 * the same load; the ratio of each pair of steps is reported with the medians. tfjs-wasm is timed
 * afterwards (it is ~15x slower). Prints a table, the load average, peak RSS, and one JSON line per
 * engine with provenance.
 *
 *   npx tsx --conditions=source packages/bench/src/training/step.bench.ts [--steps 7] [--threads 2]
 *       [--peer-src /tmp/blvnet-official] [--skip ort,torch,tfjs] [--tfjs-steps 2]
 *       [--profile prefix] [--size 112] [--frames 16]
 * --profile writes onnxruntime's profile of the ort session and prints its top ops (profiling
 * slows the run: time without it).
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { fillDeterministic, inputShape, refgenInput, type VideoModel } from "@blvnet/core";
import { summarizeProfile } from "@blvnet/engine-onnx";
import { initBackend, shutdownBackend } from "@blvnet/engine-tfjs";
import { createModel } from "@blvnet/models";
import { OrtTrainingEngine, provenance, TfjsEngine, type TrainingEngine } from "@blvnet/train";
import { PeerSession } from "../index.js";

const { values: args } = parseArgs({
  options: {
    steps: { type: "string", default: "7" },
    "tfjs-steps": { type: "string", default: "2" },
    threads: { type: "string", default: "2" },
    size: { type: "string", default: "112" },
    frames: { type: "string", default: "16" },
    "peer-src": { type: "string", default: "/tmp/blvnet-official" },
    skip: { type: "string", default: "" },
    profile: { type: "string" },
  },
});
const steps = Number(args.steps);
const threads = Number(args.threads);
const skip = new Set(args.skip!.split(",").filter(Boolean));
const options = {
  depth: 50,
  alpha: 2,
  beta: 4,
  frames: Number(args.frames),
  blendingFrames: 3,
  numClasses: 174,
  dropout: 0.5,
  size: Number(args.size),
};
const SGD = { momentum: 0.9, weightDecay: 0, nesterov: false, seed: 0 };
const LR = 0.001;

interface Row {
  engine: string;
  median_ms: number;
  min_ms: number;
  samples: number[];
  load_before: number;
  load_after: number;
  /** Peak resident memory of the process that ran it, MiB. */
  peak_rss_mib?: number;
}

const load1 = () => Number(loadavg()[0].toFixed(2));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const row = (engine: string, samples: number[], loadBefore: number, peak?: number): Row => ({
  engine,
  median_ms: median(samples),
  min_ms: Math.min(...samples),
  samples: samples.map((v) => Math.round(v)),
  load_before: loadBefore,
  load_after: load1(),
  peak_rss_mib: peak,
});

function model(): VideoModel {
  const m = createModel("blvnet-tam", options);
  fillDeterministic(m);
  return m.train();
}

const shape = inputShape(model().inputSpec, 1);
const input = refgenInput(shape);
const labels = Int32Array.of(7);

async function timedStep(engine: TrainingEngine): Promise<number> {
  const t = performance.now();
  await engine.step(input, shape, labels, LR);
  return performance.now() - t;
}

const rows: Row[] = [];
const ratios: number[] = [];
const ort = skip.has("ort") ? null : new OrtTrainingEngine(model(), { ...SGD, threads, profilePrefix: args.profile });
const peer = skip.has("torch")
  ? null
  : await PeerSession.start({ model: "blvnet-tam", options, batch: 1, threads, seed: 0, src: args["peer-src"]! });
if (ort) console.error(`ort: first step (graph build + session + step) ${(await timedStep(ort)).toFixed(0)} ms`);
if (peer) await peer.run("train", 2, 1);
{
  const loadBefore = load1();
  const o: number[] = [];
  const t: number[] = [];
  for (let i = 0; i < steps; i++) {
    if (ort) o.push(await timedStep(ort));
    if (peer) t.push((await peer.run("train", 0, 1))[0]);
    if (ort && peer) ratios.push(o[i] / t[i]);
    console.error(`step ${i + 1}/${steps}: ort ${o[i]?.toFixed(0) ?? "-"} ms, pytorch ${t[i]?.toFixed(0) ?? "-"} ms (load ${load1()})`);
  }
  if (ort) rows.push(row("ort", o, loadBefore, Math.round(process.resourceUsage().maxRSS / 1024)));
  if (peer) {
    const info = await peer.close();
    rows.push(row(`pytorch ${info.torch_version}`, t, loadBefore, Math.round(info.peak_rss_bytes / 2 ** 20)));
  }
}
if (ort) {
  const profile = ort.endProfiling();
  if (profile) {
    const s = summarizeProfile(profile, 1);
    console.log(`\nonnxruntime profile (${profile}): ${s.msPerRun.toFixed(0)} ms kernel time per step; top ops:`);
    for (const r of s.rows.slice(0, 12))
      console.log(
        `  ${r.opType.padEnd(20)} ${r.msPerRun.toFixed(1).padStart(8)} ms  ${(100 * r.share).toFixed(1).padStart(5)}%  ${r.nodes} nodes`,
      );
  }
  await ort.dispose();
}
if (!skip.has("tfjs")) {
  await initBackend("wasm", { threads });
  const tfjs = new TfjsEngine(model(), SGD);
  const loadBefore = load1();
  console.error(`tfjs-wasm: first step ${(await timedStep(tfjs)).toFixed(0)} ms`);
  const samples: number[] = [];
  for (let i = 0; i < Number(args["tfjs-steps"]); i++) {
    samples.push(await timedStep(tfjs));
    console.error(`tfjs-wasm: step ${i + 1} ${samples[i].toFixed(0)} ms (load ${load1()})`);
  }
  rows.push(row("tfjs-wasm", samples, loadBefore));
  await tfjs.dispose();
  await shutdownBackend();
}

const torch = rows.find((r) => r.engine.startsWith("pytorch"));
console.log(
  `\nbLVNet-TAM-50 f${options.frames / 2}x2, 1 clip x ${options.frames} frames, ${options.size}x${options.size}, one SGD step (momentum 0.9), ${threads} threads`,
);
console.log("engine            median ms     min ms   vs PyTorch   peak RSS MiB   load (before/after)");
for (const r of rows) {
  const ratio = torch ? (r.median_ms / torch.median_ms).toFixed(2) + "x" : "-";
  console.log(
    `${r.engine.padEnd(16)} ${r.median_ms.toFixed(0).padStart(10)} ${r.min_ms.toFixed(0).padStart(10)} ${ratio.padStart(12)} ${String(r.peak_rss_mib ?? "-").padStart(14)}   ${r.load_before}/${r.load_after}`,
  );
}
if (ratios.length)
  console.log(`ort / pytorch, step by step (alternating): median ${median(ratios).toFixed(2)}x, best ${Math.min(...ratios).toFixed(2)}x`);
const ortRow = rows.find((r) => r.engine === "ort");
const tfjsRow = rows.find((r) => r.engine === "tfjs-wasm");
if (ortRow && tfjsRow) console.log(`ort is ${(tfjsRow.median_ms / ortRow.median_ms).toFixed(1)}x faster than tfjs-wasm`);
for (const r of rows)
  console.log(JSON.stringify({ ...r, model: "blvnet-tam-50-a2-b4-f8x2", ...provenance({ backend: r.engine, threads, seed: 0 }) }));
process.exit(0);
