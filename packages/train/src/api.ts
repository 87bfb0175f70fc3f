/**
 * Training and evaluation as library calls: `train(config)` and `evaluate(config)` (what
 * `blvnet train` / `blvnet eval` and the accuracy sweeps run). Each returns what callers need, so
 * nobody reads run.json or summary.json back.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { createModel, sgdProblem, UserError, type VideoModel } from "@blvnet/core";
import {
  type BadSample,
  type ClipLayout,
  createLoader,
  createSynthLoader,
  type Dataset,
  formatBadSample,
  type Loader,
  openDataset,
  SYNTH_LEVELS,
} from "@blvnet/data";
import { isOrtBackend, isOrtDevice, ORT_DEVICES } from "@blvnet/engine-onnx";
import { initBackend } from "@blvnet/engine-tfjs";
import { acquireLock, ensureDir, writeError, writeFileAtomic } from "@blvnet/io";
import { loadStartWeights, type StartWeights, withOverrides } from "@blvnet/models";
import { checkpointsDir, type RunConfig, type RunRecord, TRAIN_STATE_FORMAT } from "./checkpoint.js";
import {
  type DataConfig,
  DEFAULT_MAX_SKIPPED,
  EVAL_DEFAULTS,
  type EvalConfig,
  type EvalSummary,
  type LogSink,
  type ModelConfig,
  SYNTHETIC_DEFAULTS,
  type SyntheticData,
  TRAIN_DEFAULTS,
  type TrainConfig,
  type TrainSummary,
} from "./config.js";
import { ENGINES } from "./engine.js";
import { createTrainingEngine } from "./engines.js";
import { type EvalEngine, type EvalReport, evaluateModel, ortScorer, type Scorer, tfjsScorer, writeEvalOutputs } from "./evaluate.js";
import { initForTraining } from "./init.js";
import { provenance } from "./provenance.js";
import { lrStepsProblem, SCHEDULERS } from "./schedule.js";
import { type ConfigChange, trainLoop } from "./trainer.js";

export const EVAL_ENGINES = ["tfjs", "ort", "ort-webgpu", "ort-cuda"] as const satisfies readonly EvalEngine[];

const timestamp = () => new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
const stderr: LogSink = (m) => console.error(m);

/** A split to train or evaluate on: it must have samples, and labelled ones. */
function openSplit(dir: string, split: string, labelled: boolean): Dataset {
  const ds = openDataset(dir, { split });
  if (ds.records.length === 0) throw new UserError(`${dir}: split "${split}" has no usable videos`);
  const unlabelled = labelled ? ds.records.find((r) => r.label < 0) : undefined;
  if (unlabelled)
    throw new UserError(
      `${formatBadSample({ ...unlabelled.where, reason: "has no label" })} (split "${split}" must be labelled to train or evaluate on it)`,
    );
  return ds;
}

type ResolvedSynthetic = Required<Omit<SyntheticData, "classes" | "seed">> & Pick<SyntheticData, "classes"> & { seed: number };

/** The synthetic source of a data config with its defaults (the run's seed unless it names one), or undefined for a folder. */
function syntheticOf(data: Omit<DataConfig, "valSplit">, seed: number): ResolvedSynthetic | undefined {
  check(
    (data.dir === undefined) !== (data.synthetic === undefined),
    "data: give either a dataset folder (dir) or synthetic, not both nor neither",
  );
  if (!data.synthetic) return undefined;
  const syn = { ...SYNTHETIC_DEFAULTS, ...defined(data.synthetic), perClass: data.synthetic.perClass, seed: data.synthetic.seed ?? seed };
  check(
    Number.isInteger(syn.level) && syn.level >= 0 && syn.level < SYNTH_LEVELS.length,
    `synthetic.level must be an integer in 0..${SYNTH_LEVELS.length - 1}, got ${syn.level}`,
  );
  checkInt("synthetic.perClass", syn.perClass, 1);
  checkInt("synthetic.valPerClass", syn.valPerClass, 1);
  checkInt("synthetic.seed", syn.seed, 0);
  return syn;
}

/** How runs and rows name a synthetic source (in place of a folder). */
export function syntheticName(syn: ResolvedSynthetic): string {
  const classes = syn.classes ? syn.classes.length : 10;
  return `synthetic:level=${syn.level},classes=${classes},perClass=${syn.perClass},valPerClass=${syn.valPerClass},fresh=${syn.fresh},seed=${syn.seed}`;
}

interface LoaderInput {
  batch: number;
  frames: number;
  size: number;
  layout: ClipLayout;
  mean: readonly number[];
  std: readonly number[];
}

/** A split of the in-memory synthetic benchmark ("train": perClass clips, fresh per epoch; "val": valPerClass). */
function syntheticSplit(
  syn: ResolvedSynthetic,
  split: string,
  input: LoaderInput = { batch: 1, frames: 1, size: 8, layout: "N(TC)HW", mean: [0, 0, 0], std: [1, 1, 1] },
): Loader {
  check(split === "train" || split === "val", `synthetic data has the splits "train" and "val", got "${split}"`);
  const s = split as "train" | "val";
  return createSynthLoader({
    ...input,
    classes: syn.classes,
    level: syn.level,
    split: s,
    perClass: s === "train" ? syn.perClass : syn.valPerClass,
    fresh: syn.fresh,
    seed: syn.seed,
  });
}

/** The model of a config, with the dataset's class count unless its options name another. */
function buildFor(cfg: ModelConfig, dir: string, ds: Dataset): VideoModel {
  const model = createModel(cfg.name, withOverrides(cfg.name, cfg.options ?? {}, { numClasses: ds.numClasses }));
  if (model.numClasses !== ds.numClasses)
    throw new UserError(`model ${model.id} has ${model.numClasses} classes but ${dir} (${ds.split}) has ${ds.numClasses}`);
  return model;
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new UserError(message);
}

/** `o` without its undefined fields, so that they do not hide defaults when spread. */
function defined<T extends object>(o: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function checkInt(name: string, v: number, min: number): void {
  check(Number.isInteger(v) && v >= min, `${name} must be an integer >= ${min}, got ${v}`);
}

/** Train a model with SGD on a dataset folder; resumable, checkpointed every epoch. */
export async function train(config: TrainConfig): Promise<TrainSummary> {
  const started = performance.now();
  const log = config.log ?? stderr;
  const d = TRAIN_DEFAULTS;
  const optimizer = { ...d.optimizer, ...defined(config.optimizer) };
  const schedule = { ...d.schedule, ...defined(config.schedule), lrSteps: [...(config.schedule?.lrSteps ?? d.schedule.lrSteps)] };
  const epochs = config.epochs ?? d.epochs;
  const batch = config.batch ?? d.batch;
  const seed = config.seed ?? d.seed;
  const engineKind = config.engine ?? d.engine;
  const split = config.data.split ?? "train";
  check((ENGINES as readonly string[]).includes(engineKind), `engine must be one of ${ENGINES.join(", ")}, got "${engineKind}"`);
  check(
    (SCHEDULERS as readonly string[]).includes(schedule.kind),
    `schedule.kind must be one of ${SCHEDULERS.join(", ")}, got "${schedule.kind}"`,
  );
  const stepsProblem = lrStepsProblem(schedule.lrSteps);
  check(stepsProblem === null, `schedule.lrSteps ${stepsProblem}, got [${schedule.lrSteps.join(", ")}]`);
  checkInt("epochs", epochs, 1);
  checkInt("batch", batch, 1);
  checkInt("seed", seed, 0);
  const sgd = sgdProblem(optimizer);
  check(sgd === null, `optimizer: ${sgd}`);
  check(
    Number.isFinite(schedule.warmupEpochs) && schedule.warmupEpochs >= 0 && schedule.warmupEpochs < epochs,
    `schedule.warmupEpochs must be in [0, epochs), got ${schedule.warmupEpochs}`,
  );
  const skipLimit = maxSkippedOf(config.data.maxSkipped);
  if (isOrtBackend(config.backend))
    throw new UserError(
      `--backend ${config.backend}: training runs on the tfjs backends (tensorflow, wasm, cpu) or with --engine ort --device cpu|webgpu|cuda; ONNX Runtime backends serve eval`,
    );
  const device = config.device ?? "cpu";
  check(isOrtDevice(device), `device must be one of ${ORT_DEVICES.join(", ")}, got "${device}"`);
  check(device === "cpu" || engineKind === "ort", `--device ${device} needs --engine ort (the tfjs engine runs on the --backend)`);
  // The ort engine computes with an onnxruntime execution provider whatever tfjs backend is selected.
  const backend = engineKind === "ort" ? (device === "cpu" ? "ort" : `ort-${device}`) : await initBackend(config.backend);
  const syn = syntheticOf(config.data, seed);
  const dataDir = syn ? syntheticName(syn) : resolve(config.data.dir!);
  const ds = syn ? syntheticSplit(syn, split).dataset : openSplit(dataDir, split, true);
  const model = buildFor(config.model, dataDir, ds);
  const spec = model.inputSpec;
  if (spec.layout === "(NT)CHW")
    throw new UserError(`model "${config.model.name}" takes feature maps, not clips: it cannot be trained on videos`);
  const layout = spec.layout;
  const valDs = config.data.valSplit && !syn ? openSplit(dataDir, config.data.valSplit, true) : undefined;

  const outDir = resolve(config.out ?? join("results", "runs", `${model.id}-${timestamp()}`));
  if (config.resume && !config.out) throw new UserError("--resume needs --out <run folder>");
  // One writer per run folder: a second `train` into it is refused before it writes anything.
  const lock = acquireLock(outDir, "train");
  try {
    return await trainLocked();
  } finally {
    lock.release();
  }

  async function trainLocked(): Promise<TrainSummary> {
    if (!config.resume && existsSync(join(checkpointsDir(outDir), "latest.json"))) {
      throw new UserError(`${outDir} already holds a run; continue it with --resume or choose another --out`);
    }

    initForTraining(model, seed);
    const weights = config.model.weights;
    if (weights && !config.resume) loadStartWeights(model, weights, config.model.allowMissing ?? false, log);

    const skips = new SkipLog(log);
    skips.report(ds);
    if (valDs) skips.report(valDs);
    const loaderBase = {
      batch,
      frames: spec.frames,
      size: spec.size,
      layout,
      mean: spec.mean,
      std: spec.std,
      seed,
      workers: config.data.workers,
      onBadSample: skips.add,
    } as const;
    const trainLoader = syn
      ? syntheticSplit(syn, split, loaderBase)
      : createLoader(ds, { ...loaderBase, train: true, maxSkipped: skipLimit(ds) });
    const valLoader = syn
      ? config.data.valSplit
        ? syntheticSplit(syn, config.data.valSplit, loaderBase)
        : undefined
      : valDs
        ? createLoader(valDs, { ...loaderBase, train: false, clips: 1, crops: 1, maxSkipped: skipLimit(valDs) })
        : undefined;

    const runConfig: RunConfig = {
      model: { name: config.model.name, id: model.id, options: { ...model.options }, weights: weights ?? null },
      data: { dir: dataDir, split },
      frames: spec.frames,
      size: spec.size,
      optimizer: {
        lr: optimizer.lr,
        momentum: optimizer.momentum,
        weightDecay: optimizer.weightDecay,
        nesterov: optimizer.nesterov,
        clipGradNorm: optimizer.clipGradNorm ?? null,
      },
      schedule,
      epochs,
      batch,
      seed,
      engine: engineKind,
      backend,
    };
    const dataset = { dir: dataDir, split, videos: ds.records.length, classes: ds.classes, skipped: ds.problems.length };
    const runJson = join(outDir, "run.json");
    if (!config.resume) {
      const record: RunRecord = { format: TRAIN_STATE_FORMAT, config: runConfig, dataset, provenance: provenance({ backend, seed }) };
      writeFileAtomic(runJson, JSON.stringify(record, null, 2) + "\n");
    }
    const recordChanges = (changes: ConfigChange[]) => {
      const record = JSON.parse(readFileSync(runJson, "utf8")) as RunRecord;
      writeFileAtomic(runJson, JSON.stringify({ ...record, changes: [...(record.changes ?? []), ...changes] }, null, 2) + "\n");
    };
    const engine = createTrainingEngine(engineKind, model, optimizer, seed, device);
    const skippedNote = ds.problems.length ? ` (${ds.problems.length} skipped)` : "";
    log(
      `training ${model.id} on ${ds.records.length} videos${skippedNote} (${ds.numClasses} classes) | ${trainLoader.batchesPerEpoch} steps/epoch x ${epochs} epochs | engine ${engineKind}, backend ${backend} | ${outDir}`,
    );
    try {
      const loop = await trainLoop({
        model,
        engine,
        train: trainLoader,
        val: valLoader,
        config: runConfig,
        outDir,
        resume: config.resume,
        maxSteps: config.maxSteps,
        saveEvery: config.saveEvery,
        keep: config.keep ?? d.keep,
        progress: config.progress ?? false,
        log,
        skipped: () => skips.count,
        onChanges: recordChanges,
        command: config.command,
      });
      return {
        ...loop,
        config: runConfig,
        dataset,
        skipped: skips.count,
        outDir,
        weights: join(outDir, "model.safetensors"),
        totalSeconds: (performance.now() - started) / 1000,
      };
    } finally {
      await engine.dispose();
    }
  }
}

/**
 * Every skipped sample, logged once with its file, line and reason (the loader meets a bad sample
 * again each epoch), and counted.
 */
class SkipLog {
  private readonly seen = new Set<string>();
  constructor(private readonly log: LogSink) {}
  get count(): number {
    return this.seen.size;
  }
  readonly add = (b: BadSample) => {
    const key = formatBadSample(b);
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.log(`skipped ${key}`);
  };
  report(ds: Dataset): void {
    for (const p of ds.problems) this.add(p);
  }
}

/** Fail now, with one line, if `dir` cannot take files (a file in the way, no permission, a full disk). */
function checkWritable(dir: string): void {
  ensureDir(dir);
  const probe = join(dir, `.write-test-${process.pid}`);
  try {
    writeFileSync(probe, "");
  } catch (e) {
    throw writeError(e, dir);
  } finally {
    rmSync(probe, { force: true });
  }
}

/** `maxSkipped` as a count per dataset: a count (>= 1) or a fraction of the samples (< 1); default 1%. */
function maxSkippedOf(limit: number | undefined): (ds: Dataset) => number {
  const v = limit ?? DEFAULT_MAX_SKIPPED;
  check(
    Number.isFinite(v) && v >= 0 && (v < 1 || Number.isInteger(v)),
    `maxSkipped must be a fraction in [0, 1) or a whole count, got ${v}`,
  );
  return (ds) => (v < 1 ? Math.floor(v * (ds.records.length + ds.problems.length)) : v);
}

/** Accuracy of a model with given weights on a dataset split; writes summary.json, predictions, per-class accuracy and the confusion matrix. */
export async function evaluate(config: EvalConfig): Promise<EvalSummary> {
  const log = config.log ?? stderr;
  const d = EVAL_DEFAULTS;
  if (!config.model.weights) throw new UserError("--weights is required: the checkpoint to evaluate");
  const engine: EvalEngine = config.engine ?? (isOrtBackend(config.backend) ? config.backend : "tfjs");
  check((EVAL_ENGINES as readonly string[]).includes(engine), `engine must be one of ${EVAL_ENGINES.join(", ")}, got "${engine}"`);
  const crops = config.crops ?? d.crops;
  const clips = config.clips ?? d.clips;
  const batch = config.batch ?? d.batch;
  const split = config.data.split ?? d.split;
  check(crops === 1 || crops === 3, `crops must be 1 or 3, got ${crops}`);
  checkInt("clips", clips, 1);
  checkInt("batch", batch, 1);
  const skipLimit = maxSkippedOf(config.data.maxSkipped);
  // Results must be writable before minutes of evaluation: check the output folder first.
  const outDir = resolve(config.out ?? join("results", "eval", `${config.model.name}-${split}`));
  checkWritable(outDir);
  const backend = engine === "tfjs" ? await initBackend(config.backend) : engine;
  // An evaluated synthetic split is seeded 0 unless the config names the training run's seed.
  const syn = syntheticOf(config.data, 0);
  const dataDir = syn ? syntheticName(syn) : resolve(config.data.dir!);
  const ds = syn ? syntheticSplit(syn, split).dataset : openSplit(dataDir, split, true);
  const model = buildFor(config.model, dataDir, ds);
  const spec = model.inputSpec;
  if (spec.layout === "(NT)CHW")
    throw new UserError(`model "${config.model.name}" takes feature maps, not clips: it cannot be evaluated on videos`);
  const weights = config.model.weights;
  const load: StartWeights = loadStartWeights(model, weights, config.model.allowMissing ?? false, log);

  const skips = new SkipLog(log);
  skips.report(ds);
  const loader = syn
    ? syntheticSplit(syn, split, { batch, frames: spec.frames, size: spec.size, layout: spec.layout, mean: spec.mean, std: spec.std })
    : createLoader(ds, {
        batch,
        frames: spec.frames,
        size: spec.size,
        layout: spec.layout,
        mean: spec.mean,
        std: spec.std,
        train: false,
        clips,
        crops,
        workers: config.data.workers,
        onBadSample: skips.add,
        maxSkipped: skipLimit(ds),
      });
  const scorer: Scorer = engine === "tfjs" ? tfjsScorer(model) : await ortScorer(model, engine);
  log(
    `evaluating ${model.id} (${load.report.loaded} tensors from ${weights}) on ${ds.records.length} videos of ${dataDir} [${split}], ${clips} clip(s) x ${crops} crop(s), engine ${engine}`,
  );
  let report: EvalReport;
  try {
    report = await evaluateModel(scorer, loader, { progress: config.progress ?? false });
  } finally {
    await scorer.dispose();
  }
  const files = writeEvalOutputs(outDir, report, {
    model: config.model.name,
    model_id: model.id,
    options: model.options,
    // relative to the output folder: summary.json names no folder of the machine that wrote it
    weights: relative(outDir, resolve(weights)),
    data: syn ? dataDir : relative(outDir, dataDir),
    split,
    clips,
    crops,
    engine,
    skipped: skips.count,
    provenance: provenance({ backend }),
  });
  return {
    model: { name: config.model.name, id: model.id, options: { ...model.options } },
    weights: resolve(weights),
    tensorsLoaded: load.report.loaded,
    engine,
    backend,
    dataset: { dir: dataDir, split, videos: ds.records.length + ds.problems.length },
    skipped: skips.count,
    report,
    outDir,
    files,
  };
}
