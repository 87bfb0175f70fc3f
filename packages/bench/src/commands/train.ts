/**
 * `blvnet train`: SGD training of any registered model on a dataset folder (official list-file
 * layout or the synthetic benchmark), with resumable checkpoints. See `blvnet train --help`.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { Command, Option } from "commander";
import { initBackend, isOrtBackend, UserError, writeFileAtomic } from "@blvnet/core";
import { createLoader, openDataset } from "@blvnet/data";
import { addModelOptions, type ModelArgs } from "../model-args.js";
import { provenance } from "../provenance.js";
import { checkpointsDir } from "../train/checkpoint.js";
import { createTrainingEngine, parseEngine } from "../train/engines.js";
import { initForTraining } from "../train/init.js";
import { parseLrSteps, SCHEDULERS, type SchedulerKind } from "../train/schedule.js";
import { buildModel, loadStartWeights } from "../train/setup.js";
import { trainLoop } from "../train/trainer.js";

export interface TrainArgs extends ModelArgs {
  data: string;
  split: string;
  valSplit?: string;
  epochs: number;
  batch: number;
  lr: number;
  lrScheduler: SchedulerKind;
  lrSteps: string;
  warmupEpochs: number;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
  dropout?: number;
  clipGrad?: number;
  seed: number;
  frames?: number;
  size?: number;
  out?: string;
  resume?: boolean;
  maxSteps?: number;
  saveEvery?: number;
  keep: number;
  engine: string;
  workers?: number;
  progress: boolean;
}

const num = (flag: string, min: number, integer = false) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw new UserError(`${flag} must be ${integer ? "an integer" : "a number"} >= ${min}, got "${v}"`);
  }
  return n;
};

const timestamp = () => new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);

export function registerTrainCommand(program: Command): void {
  const cmd = program
    .command("train")
    .description("train a model with SGD (momentum, weight decay) on a dataset folder; resumable checkpoints every epoch");
  addModelOptions(cmd)
    .requiredOption("--data <dir>", "dataset folder: list files (train.txt, val.txt, ...) + frame folders, annotation files, or the synthetic benchmark")
    .option("--split <name>", "training split", "train")
    .option("--val-split <name>", "also evaluate this split (centre crop, 1 clip) after every epoch, e.g. val")
    .option("--epochs <n>", "epochs", num("--epochs", 1, true), 50)
    .option("--batch <n>", "clips per batch", num("--batch", 1, true), 8)
    .option("--lr <x>", "base learning rate", num("--lr", 0), 0.01)
    .addOption(new Option("--lr-scheduler <kind>", "cosine (per epoch, T_max = epochs), step (x0.1 every first-lr-step epochs) or multisteps (x0.1 at each lr step)").choices([...SCHEDULERS]).default("cosine"))
    .option("--lr-steps <epochs>", "comma-separated epochs for step/multisteps", "20,40")
    .option("--warmup-epochs <x>", "linear warm-up over this many epochs (per step; 0 = off)", num("--warmup-epochs", 0), 0)
    .option("--momentum <x>", "SGD momentum", num("--momentum", 0), 0.9)
    .option("--weight-decay <x>", "L2 weight decay (added to the gradient, like torch.optim.SGD)", num("--weight-decay", 0), 5e-4)
    .option("--no-nesterov", "plain momentum instead of the official Nesterov momentum")
    .option("--dropout <p>", "dropout before the classifier (model option; official 0.5)", num("--dropout", 0))
    .option("--clip-grad <norm>", "clip the global gradient L2 norm (clip_grad_norm_)", num("--clip-grad", 0))
    .option("--seed <n>", "seed of the initial weights, data sampling and dropout", num("--seed", 0, true), 0)
    .option("--frames <n>", "frames per clip (model option)", num("--frames", 1, true))
    .option("--size <n>", "input height = width (model option)", num("--size", 1, true))
    .option("--out <dir>", "run folder (default results/runs/<model id>-<time>)")
    .option("--resume", "continue the run in --out from its newest checkpoint (bit-exact)")
    .option("--max-steps <n>", "stop after this many optimizer steps in all (checkpointed; --resume continues)", num("--max-steps", 1, true))
    .option("--save-every <n>", "also checkpoint every N steps", num("--save-every", 1, true))
    .option("--keep <n>", "checkpoints kept on disk", num("--keep", 1, true), 2)
    .option("--engine <name>", "training engine: tfjs (TfOps + tf.variableGrads) or ort (each SGD step one ONNX graph in onnxruntime, CPU)", "tfjs")
    .option("--workers <n>", "samples decoded at once", num("--workers", 1, true))
    .option("--no-progress", "no progress bar")
    .addHelpText(
      "after",
      "\nOutputs in the run folder: steps.csv/.jsonl (per step), epochs.csv/.jsonl, run.json, checkpoints/, model.safetensors (newest weights).\n" +
        "Official bLVNet-TAM defaults: lr 0.01, cosine, 50 epochs, weight decay 5e-4, dropout 0.5, Nesterov momentum 0.9.\n" +
        "The compute backend is the global --backend option (or BLVNET_BACKEND).",
    )
    .action(async function (this: Command, args: TrainArgs) {
      await runTrain(args, this.optsWithGlobals().backend as string | undefined);
    });
}

export async function runTrain(args: TrainArgs, backendName?: string): Promise<void> {
  const engineKind = parseEngine(args.engine);
  let lrSteps: number[];
  try {
    lrSteps = parseLrSteps(args.lrSteps);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  if (isOrtBackend(backendName)) throw new UserError(`--backend ${backendName}: training runs on the tfjs backends (tensorflow, wasm, cpu); ONNX Runtime serves eval`);
  // --engine ort computes with onnxruntime's CPU provider whatever tfjs backend is selected.
  const backend = engineKind === "ort" ? "ort" : await initBackend(backendName);
  const train = openDataset(args.data, { split: args.split });
  if (train.records.length === 0) throw new UserError(`${args.data}: split "${args.split}" has no usable videos`);
  const model = buildModel(args, { frames: args.frames, size: args.size, dropout: args.dropout, numClasses: train.numClasses });
  if (model.numClasses !== train.numClasses) {
    throw new UserError(`model ${model.id} has ${model.numClasses} classes but ${args.data} (${args.split}) has ${train.numClasses}`);
  }
  const spec = model.inputSpec;
  if (spec.layout === "(NT)CHW") throw new UserError(`model "${args.model}" takes feature maps, not clips: it cannot be trained on videos`);

  const outDir = resolve(args.out ?? join("results", "runs", `${model.id}-${timestamp()}`));
  if (args.resume && !args.out) throw new UserError("--resume needs --out <run folder>");
  if (!args.resume && existsSync(join(checkpointsDir(outDir), "latest.json"))) {
    throw new UserError(`${outDir} already holds a run; continue it with --resume or choose another --out`);
  }

  initForTraining(model, args.seed);
  if (args.weights && !args.resume) loadStartWeights(model, args.weights, args.allowMissing ?? false, console.error);

  const loaderBase = { batch: args.batch, frames: spec.frames, size: spec.size, layout: spec.layout, mean: spec.mean, std: spec.std, seed: args.seed, workers: args.workers } as const;
  const trainLoader = createLoader(train, { ...loaderBase, train: true });
  const valLoader = args.valSplit ? createLoader(openDataset(args.data, { split: args.valSplit }), { ...loaderBase, train: false, clips: 1, crops: 1 }) : undefined;

  const sgd = { momentum: args.momentum, weightDecay: args.weightDecay, nesterov: args.nesterov, clipGradNorm: args.clipGrad };
  const engine = createTrainingEngine(engineKind, model, sgd, args.seed);
  const settings = {
    data: resolve(args.data),
    split: args.split,
    batch: args.batch,
    frames: spec.frames,
    size: spec.size,
    lr: args.lr,
    lrScheduler: args.lrScheduler,
    lrSteps,
    warmupEpochs: args.warmupEpochs,
    momentum: args.momentum,
    weightDecay: args.weightDecay,
    nesterov: args.nesterov,
    clipGrad: args.clipGrad ?? null,
    epochs: args.epochs,
    seed: args.seed,
    engine: engineKind,
    backend,
    weights: args.weights ?? null,
  };
  if (!args.resume) {
    writeFileAtomic(
      join(outDir, "run.json"),
      JSON.stringify({ model: { name: args.model, id: model.id, options: model.options }, settings, dataset: { dir: resolve(args.data), split: args.split, videos: train.records.length, classes: train.classes, skipped: train.problems.length }, provenance: provenance({ backend, seed: args.seed }) }, null, 2) + "\n",
    );
  }
  console.error(`training ${model.id} on ${train.records.length} videos (${train.numClasses} classes) | ${trainLoader.batchesPerEpoch} steps/epoch x ${args.epochs} epochs | engine ${engineKind}, backend ${backend} | ${outDir}`);
  try {
    const summary = await trainLoop({
      model,
      modelName: args.model!,
      engine,
      train: trainLoader,
      val: valLoader,
      schedule: { kind: args.lrScheduler, baseLr: args.lr, epochs: args.epochs, lrSteps, warmupEpochs: args.warmupEpochs },
      epochs: args.epochs,
      outDir,
      dataSeed: args.seed,
      dropoutSeed: args.seed,
      resume: args.resume,
      maxSteps: args.maxSteps,
      saveEvery: args.saveEvery,
      keep: args.keep,
      settings,
      progress: args.progress,
    });
    const how = summary.status === "stopped" ? `stopped at --max-steps ${args.maxSteps}` : "finished";
    console.log(
      `${how}: ${summary.globalStep} steps, last loss ${summary.lastLoss.toFixed(4)}, ${summary.clipsPerSecond.toFixed(2)} clips/s; ` +
        `weights ${join(outDir, "model.safetensors")} (checkpoint ${summary.checkpoint})`,
    );
  } finally {
    engine.dispose();
  }
}
