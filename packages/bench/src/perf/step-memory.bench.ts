/**
 * Time and resident memory of the compiled ONNX SGD step alone (no peer), stage by stage: model
 * built, step graph compiled (session created), first step, later steps. For A/B of session
 * options and graph lowerings; the alternated comparison with PyTorch is step.bench.ts.
 *
 *   npx tsx --conditions=source packages/bench/src/perf/step-memory.bench.ts [--steps 5] [--threads 2]
 *       [--size 112] [--frames 16] [--no-arena] [--pattern] [--lowering auto-scatter|auto-no-gemm|...] [--profile prefix]
 *       [--keep-output-copies] [--flip slice|blocked|off] [--pack-updates N] [--blend-min-plane N]
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { fillDeterministic, inputShape, refgenInput } from "@blvnet/core";
import { type FlipWeight, type InputGradLowering, OrtTrainer, summarizeProfile } from "@blvnet/engine-onnx";
import { createModel } from "@blvnet/models";

const { values: args } = parseArgs({
  options: {
    steps: { type: "string", default: "5" },
    threads: { type: "string", default: "2" },
    size: { type: "string", default: "112" },
    frames: { type: "string", default: "16" },
    "no-arena": { type: "boolean", default: false },
    "no-pattern": { type: "boolean", default: false },
    /** The trainer's default is pattern off; --pattern turns it on (A/B). */
    pattern: { type: "boolean", default: false },
    lowering: { type: "string", default: "auto-scatter" },
    /** How stride-1 conv input gradients build the flipped weight (TrainLowering.flipWeight; default: the trainer's). */
    flip: { type: "string" },
    /** A/B: leave onnxruntime-node's output copies to the GC (OrtTrainerOptions.freeOutputCopies false). */
    "keep-output-copies": { type: "boolean", default: false },
    /** TrainLowering.packUpdatesBelow (0: every param updated on its own; default: the trainer's). */
    "pack-updates": { type: "string" },
    /** TrainLowering.blendMinPlane ("Infinity": TAM blends op by op; default: the trainer's). */
    "blend-min-plane": { type: "string" },
    profile: { type: "string" },
    top: { type: "string", default: "30" },
  },
});
const mib = () => Math.round(process.memoryUsage().rss / 2 ** 20);
const peak = () => Math.round(process.resourceUsage().maxRSS / 1024);
const stage = (what: string) =>
  console.log(`${what.padEnd(28)} rss ${String(mib()).padStart(5)} MiB  peak ${String(peak()).padStart(5)} MiB`);

stage("start");
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
const model = createModel("blvnet-tam", options);
fillDeterministic(model);
model.train();
const shape = inputShape(model.inputSpec, 1);
const input = refgenInput(shape);
stage("model");
let t = performance.now();
const trainer = await OrtTrainer.create(model, {
  momentum: 0.9,
  threads: Number(args.threads),
  inputShape: shape,
  memArena: !args["no-arena"],
  memPattern: args.pattern && !args["no-pattern"],
  lowering: {
    convInputGrad: args.lowering as InputGradLowering,
    ...(args.flip ? { flipWeight: args.flip as FlipWeight } : {}),
    ...(args["pack-updates"] !== undefined ? { packUpdatesBelow: Number(args["pack-updates"]) } : {}),
    ...(args["blend-min-plane"] !== undefined ? { blendMinPlane: Number(args["blend-min-plane"]) } : {}),
  },
  profilePrefix: args.profile,
  freeOutputCopies: !args["keep-output-copies"],
});
stage(`compiled (${(performance.now() - t).toFixed(0)} ms)`);
const times: number[] = [];
for (let i = 0; i < Number(args.steps); i++) {
  t = performance.now();
  const r = await trainer.step(input, [7], 0.001);
  times.push(performance.now() - t);
  stage(`step ${i + 1} ${times[i].toFixed(0)} ms loss ${r.loss.toFixed(4)}`);
}
const later = times.slice(1).sort((a, b) => a - b);
console.log(
  `[lowering ${args.lowering}, flip ${args.flip ?? "default"}, pack-updates ${args["pack-updates"] ?? "default"}, blend-min-plane ${args["blend-min-plane"] ?? "default"}, arena ${!args["no-arena"]}, pattern ${args.pattern && !args["no-pattern"]}, free copies ${!args["keep-output-copies"]}] median of steps 2..: ${later[Math.floor(later.length / 2)]?.toFixed(0)} ms, peak RSS ${peak()} MiB, load ${loadavg()
    .map((v) => v.toFixed(2))
    .join(" ")}`,
);
if (args.profile) {
  const file = trainer.endProfiling();
  if (file) {
    const s = summarizeProfile(file, 1);
    console.log(`profile ${file}: ${s.msPerRun.toFixed(0)} ms kernel time per step`);
    for (const r of s.rows.slice(0, 14))
      console.log(
        `  ${r.opType.padEnd(22)} ${r.msPerRun.toFixed(1).padStart(8)} ms ${(100 * r.share).toFixed(1).padStart(5)}%  ${r.nodes} nodes`,
      );
    console.log("top nodes:");
    for (const r of s.nodes.slice(0, Number(args.top)))
      console.log(
        `  ${r.msPerRun.toFixed(2).padStart(7)} ms ${r.opType.padEnd(18)} ${r.node.slice(0, 40).padEnd(40)} ${r.inputs.slice(0, 100)}`,
      );
  }
}
await trainer.release();
process.exit(0);
