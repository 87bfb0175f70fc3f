/**
 * `blvnet eval`: accuracy of a model with given weights (ours or an imported PyTorch checkpoint) on a
 * dataset split: top-1/top-5 at clip and video level, per-class accuracy, confusion matrix (CSV +
 * SVG) and a predictions CSV. See `blvnet eval --help`.
 */
import { join, resolve } from "node:path";
import { Command, Option } from "commander";
import { initBackend, isOrtBackend, UserError } from "@blvnet/core";
import { createLoader, openDataset } from "@blvnet/data";
import { addModelOptions, type ModelArgs } from "../model-args.js";
import { provenance } from "../provenance.js";
import { evaluateModel, ortScorer, tfjsScorer, writeEvalOutputs, type EvalEngine, type Scorer } from "../train/evaluate.js";
import { buildModel, loadStartWeights } from "../train/setup.js";

export interface EvalArgs extends ModelArgs {
  data: string;
  split: string;
  crops: string;
  clips: number;
  batch: number;
  frames?: number;
  size?: number;
  out?: string;
  engine?: string;
  workers?: number;
  progress: boolean;
}

const EVAL_ENGINES = ["tfjs", "ort", "ort-cuda"] as const;

const posInt = (flag: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`${flag} must be a positive integer, got "${v}"`);
  return n;
};

export function registerEvalCommand(program: Command): void {
  const cmd = program.command("eval").description("evaluate a model's accuracy on a dataset split (top-1/5, per class, confusion matrix, predictions)");
  addModelOptions(cmd)
    .requiredOption("--data <dir>", "dataset folder (list files + frame folders)")
    .option("--split <name>", "split to evaluate", "val")
    .addOption(new Option("--crops <n>", "crops per clip: 1 (centre) or 3 (left/centre/right, official three-crop test)").choices(["1", "3"]).default("1"))
    .option("--clips <n>", "clips per video (softmax averaged over clips x crops)", posInt("--clips"), 1)
    .option("--batch <n>", "videos per batch", posInt("--batch"), 8)
    .option("--frames <n>", "frames per clip (model option)", posInt("--frames"))
    .option("--size <n>", "input height = width (model option)", posInt("--size"))
    .option("--out <dir>", "output folder (default results/eval/<model id>-<split>)")
    .addOption(new Option("--engine <name>", "tfjs (TfOps on the --backend) or ONNX Runtime (ort = CPU, ort-cuda); also chosen by --backend ort").choices([...EVAL_ENGINES]))
    .option("--workers <n>", "samples decoded at once", posInt("--workers"))
    .option("--no-progress", "no progress bar")
    .addHelpText("after", "\nWrites summary.json, predictions.csv, per-class.csv, confusion.csv and confusion.svg to --out.\n--weights takes our safetensors or a PyTorch .pth/.pth.tar (zip or legacy, `module.` prefixes stripped).")
    .action(async function (this: Command, args: EvalArgs) {
      await runEval(args, this.optsWithGlobals().backend as string | undefined);
    });
}

export async function runEval(args: EvalArgs, backendName?: string): Promise<void> {
  if (!args.weights) throw new UserError("--weights is required: the checkpoint to evaluate");
  const engine: EvalEngine = (args.engine as EvalEngine | undefined) ?? (isOrtBackend(backendName) ? backendName : "tfjs");
  const backend = engine === "tfjs" ? await initBackend(backendName) : engine;
  const ds = openDataset(args.data, { split: args.split });
  if (ds.records.length === 0) throw new UserError(`${args.data}: split "${args.split}" has no usable videos`);
  const model = buildModel(args, { frames: args.frames, size: args.size, numClasses: ds.numClasses });
  if (model.numClasses !== ds.numClasses) throw new UserError(`model ${model.id} has ${model.numClasses} classes but ${args.data} (${args.split}) has ${ds.numClasses}`);
  const spec = model.inputSpec;
  if (spec.layout === "(NT)CHW") throw new UserError(`model "${args.model}" takes feature maps, not clips: it cannot be evaluated on videos`);
  const load = loadStartWeights(model, args.weights, args.allowMissing ?? false, console.error);

  const crops = Number(args.crops) as 1 | 3;
  const loader = createLoader(ds, { batch: args.batch, frames: spec.frames, size: spec.size, layout: spec.layout, mean: spec.mean, std: spec.std, train: false, clips: args.clips, crops, workers: args.workers });
  const scorer: Scorer = engine === "tfjs" ? tfjsScorer(model) : await ortScorer(model, engine);
  console.error(`evaluating ${model.id} (${load.report.loaded} tensors from ${args.weights}) on ${ds.records.length} videos of ${args.data} [${args.split}], ${args.clips} clip(s) x ${crops} crop(s), engine ${engine}`);
  let report;
  try {
    report = await evaluateModel(scorer, loader, { progress: args.progress });
  } finally {
    await scorer.dispose();
  }
  const outDir = resolve(args.out ?? join("results", "eval", `${model.id}-${args.split}`));
  const files = writeEvalOutputs(outDir, report, {
    model: args.model,
    model_id: model.id,
    options: model.options,
    weights: resolve(args.weights),
    data: resolve(args.data),
    split: args.split,
    clips: args.clips,
    crops,
    engine,
    provenance: provenance({ backend }),
  });
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  console.log(`${model.id} on ${args.split} (${report.videos} videos, ${report.views} view(s) each): top-1 ${pct(report.top1)}, top-5 ${pct(report.top5)}, mean class ${pct(report.meanClassAccuracy)}, clip top-1 ${pct(report.clipTop1)}, loss ${report.loss.toFixed(4)}`);
  if (report.pairAccuracy !== null) console.log(`time-reversed pairs: ${pct(report.pairAccuracy)} (chance 50%)`);
  console.log(`wrote ${files.join(", ")}`);
}
