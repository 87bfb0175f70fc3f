/**
 * Training and evaluation as library calls (what `blvnet train` / `blvnet eval` and the accuracy sweeps run).
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { UserError } from "@blvnet/core";
import { createLoader, openDataset } from "@blvnet/data";
import { initBackend } from "@blvnet/engine-tfjs";
import { isOrtBackend } from "@blvnet/engine-onnx";
import { writeFileAtomic } from "@blvnet/io";
import { buildModel, loadStartWeights, type ModelArgs } from "@blvnet/models";
import { checkpointsDir } from "./checkpoint.js";
import { createTrainingEngine, parseEngine } from "./engines.js";
import { evaluateModel, ortScorer, tfjsScorer, writeEvalOutputs, type EvalEngine, type Scorer } from "./evaluate.js";
import { initForTraining } from "./init.js";
import { provenance } from "./provenance.js";
import { parseLrSteps, type SchedulerKind } from "./schedule.js";
import { trainLoop } from "./trainer.js";

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

export const EVAL_ENGINES = ["tfjs", "ort", "ort-cuda"] as const;
const timestamp = () => new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);

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
