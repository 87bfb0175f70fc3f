/**
 * The training loop: epochs of batches from a @blvnet/data loader, one engine step per batch at the
 * scheduled learning rate, a log row per step, a checkpoint every epoch (and every `saveEvery`
 * steps), optional validation per epoch. Everything random is counter-based (data: seed, epoch,
 * sample; dropout: seed, step), so `resume` replays a killed run exactly: it reloads the newest
 * checkpoint and skips the batches of the current epoch that were already trained on.
 */

import { basename } from "node:path";
import { performance } from "node:perf_hooks";
import { UserError, type VideoModel } from "@blvnet/core";
import type { Batch, Loader } from "@blvnet/data";
import cliProgress from "cli-progress";
import {
  type CheckpointPointer,
  type LoopState,
  loadLatestCheckpoint,
  markGood,
  type RunConfig,
  rollBackToGood,
  saveCheckpoint,
  TRAIN_STATE_FORMAT,
} from "./checkpoint.js";
import { NonFiniteLossError, type TrainingEngine } from "./engine.js";
import { CsvJsonLog, EPOCH_COLUMNS, type EpochRow, STEP_COLUMNS, type StepRow } from "./log.js";
import { averageViews, ClassificationTally, crossEntropy, ranking, softmaxRows } from "./metrics.js";
import { learningRate, type ScheduleConfig } from "./schedule.js";

export interface TrainLoopOptions {
  model: VideoModel;
  engine: TrainingEngine;
  train: Loader;
  /** Validation loader: evaluated after every epoch when given. */
  val?: Loader;
  /** The run's config: its schedule, epochs and seeds drive the loop; a resume must repeat it. */
  config: RunConfig;
  outDir: string;
  /** Continue from the newest checkpoint in outDir. */
  resume?: boolean;
  /** Stop (after checkpointing) once this many optimizer steps are done in all. */
  maxSteps?: number;
  /** Checkpoint every N steps as well as every epoch. */
  saveEvery?: number;
  /** Checkpoints kept on disk (default 2). */
  keep?: number;
  /** Show a progress bar on stderr (default true). */
  progress?: boolean;
  /** Messages (resume notes, epoch summaries). */
  log?: (message: string) => void;
  /** Samples skipped so far (shown in the progress line). */
  skipped?: () => number;
  /** Schedule changes a resume makes are reported here (to be recorded in run.json). */
  onChanges?: (changes: ConfigChange[]) => void;
  /** How the run was started (argv), for the resume command a divergence message suggests. */
  command?: string[];
}

export interface LoopSummary {
  /** "done" after the last epoch, "stopped" at --max-steps. */
  status: "done" | "stopped";
  epoch: number;
  globalStep: number;
  lastLoss: number;
  /** Directory of the newest checkpoint. */
  checkpoint: string;
  /** Validation after the last epoch of this call, when a validation loader was given. */
  validation: ValidationResult | null;
  seconds: number;
  clipsPerSecond: number;
  resumedFrom: number | null;
}

/** Fields of the config a resume must repeat, under the names its messages use, in the order they are checked. */
const FIXED_ON_RESUME: [string, (c: RunConfig) => unknown][] = [
  ["batch", (c) => c.batch],
  ["frames", (c) => c.frames],
  ["size", (c) => c.size],
  ["momentum", (c) => c.optimizer.momentum],
  ["weightDecay", (c) => c.optimizer.weightDecay],
  ["nesterov", (c) => c.optimizer.nesterov],
  ["seed", (c) => c.seed],
  ["engine", (c) => c.engine],
  ["backend", (c) => c.backend],
  ["data", (c) => c.data.dir],
];

/** Schedule settings a resume may change (after a divergence, say); each change is recorded in run.json. */
const CHANGEABLE_ON_RESUME: [string, (c: RunConfig) => unknown][] = [
  ["lr", (c) => c.optimizer.lr],
  ["lrScheduler", (c) => c.schedule.kind],
  ["lrSteps", (c) => c.schedule.lrSteps],
  ["warmupEpochs", (c) => c.schedule.warmupEpochs],
  ["clipGrad", (c) => c.optimizer.clipGradNorm],
  ["epochs", (c) => c.epochs],
];

/** A schedule setting changed by a resume, at the step it takes effect. */
export interface ConfigChange {
  step: number;
  setting: string;
  from: unknown;
  to: unknown;
  date: string;
}

function checkResumable(saved: RunConfig, now: RunConfig, outDir: string): ConfigChange[] {
  if (saved.model.name !== now.model.name || saved.model.id !== now.model.id) {
    throw new UserError(`--resume: the checkpoint in ${outDir} is for model ${saved.model.id} (${saved.model.name}), not ${now.model.id}`);
  }
  for (const [name, get] of FIXED_ON_RESUME) {
    const a = JSON.stringify(get(saved));
    const b = JSON.stringify(get(now));
    if (a !== b)
      throw new UserError(
        `--resume: setting ${name} was ${a} in the checkpointed run, now ${b}; it cannot change in a run (start a new --out)`,
      );
  }
  const date = new Date().toISOString();
  return CHANGEABLE_ON_RESUME.filter(([, get]) => JSON.stringify(get(saved)) !== JSON.stringify(get(now))).map(([setting, get]) => ({
    step: 0,
    setting,
    from: get(saved),
    to: get(now),
    date,
  }));
}

export async function trainLoop(opts: TrainLoopOptions): Promise<LoopSummary> {
  const log = opts.log ?? ((m: string) => console.error(m));
  const { config } = opts;
  const stepsPerEpoch = opts.train.batchesPerEpoch;
  const schedule: ScheduleConfig = { ...config.schedule, baseLr: config.optimizer.lr, epochs: config.epochs, stepsPerEpoch };
  const steps = new CsvJsonLog<StepRow>(opts.outDir, "steps", STEP_COLUMNS);
  const epochs = new CsvJsonLog<EpochRow>(opts.outDir, "epochs", EPOCH_COLUMNS);

  let state: LoopState = {
    format: TRAIN_STATE_FORMAT,
    epoch: 0,
    stepInEpoch: 0,
    globalStep: 0,
    stepsPerEpoch,
    samplesSeen: 0,
    lr: learningRate(schedule, 0, 0),
    lastLoss: NaN,
    config,
  };
  let resumedFrom: number | null = null;
  let lastCheckpoint = "";
  let unconfirmed: CheckpointPointer | null = null;
  if (opts.resume) {
    const ck = loadLatestCheckpoint(opts.outDir);
    if (!ck) throw new UserError(`--resume: no checkpoint in ${opts.outDir} (expected checkpoints/latest.json)`);
    const changes = checkResumable(ck.state.config, config, opts.outDir).map((c) => ({ ...c, step: ck.state.globalStep }));
    for (const c of changes) log(`--resume: ${c.setting} ${showSetting(c.from)} -> ${showSetting(c.to)} from step ${c.step}`);
    if (changes.length) opts.onChanges?.(changes);
    if (ck.state.stepsPerEpoch !== stepsPerEpoch) {
      throw new UserError(
        `--resume: the run had ${ck.state.stepsPerEpoch} steps per epoch, the data now gives ${stepsPerEpoch}; the dataset changed`,
      );
    }
    opts.engine.load(ck.tensors);
    // the saved config holds what must match; the rest (e.g. the start weights' path) is today's
    state = { ...ck.state, format: TRAIN_STATE_FORMAT, config };
    resumedFrom = state.globalStep;
    lastCheckpoint = ck.dir;
    unconfirmed = { dir: basename(ck.dir), epoch: state.epoch, step: state.globalStep, loss: state.lastLoss };
    log(
      `resuming from ${ck.dir}: epoch ${state.epoch + 1}, ${state.stepInEpoch} of ${stepsPerEpoch} steps done, step ${state.globalStep} in all`,
    );
  }
  steps.open(resumedFrom);
  epochs.open(resumedFrom);

  const started = performance.now();
  let clipsThisSession = 0;
  // A checkpoint becomes "good" once the step after it gives a finite loss that has not exploded
  // (far above a chance-level ln K); a divergence rolls the run back to the newest good one.
  const saneLoss = 100 * Math.log(Math.max(2, opts.model.numClasses));
  const checkpoint = async () => {
    const saved = saveCheckpoint(opts.outDir, await opts.engine.state(), state, opts.keep ?? 2);
    lastCheckpoint = saved.dir;
    unconfirmed = saved.pointer;
  };
  let validation: ValidationResult | null = null;
  const summary = (status: LoopSummary["status"]): LoopSummary => {
    const seconds = (performance.now() - started) / 1000;
    return {
      status,
      epoch: state.epoch,
      globalStep: state.globalStep,
      lastLoss: state.lastLoss,
      checkpoint: lastCheckpoint,
      validation,
      seconds,
      clipsPerSecond: seconds > 0 ? clipsThisSession / seconds : 0,
      resumedFrom,
    };
  };

  if (opts.maxSteps !== undefined && state.globalStep >= opts.maxSteps) {
    log(`--max-steps ${opts.maxSteps}: ${state.globalStep} steps are done already`);
    return summary("stopped");
  }
  const totalSteps = Math.min(config.epochs * stepsPerEpoch, opts.maxSteps ?? Infinity);
  const bar = opts.progress === false ? null : progressBar();
  bar?.start(totalSteps, state.globalStep, { epoch: state.epoch + 1, loss: "-", acc: "-", cps: "-", skipped: opts.skipped?.() ?? 0 });
  try {
    while (state.epoch < config.epochs) {
      const epoch = state.epoch;
      const skip = state.stepInEpoch;
      let seen = 0;
      let epochLoss = 0;
      let epochCorrect = 0;
      let epochClips = 0;
      for await (const batch of opts.train.epoch(epoch)) {
        if (seen++ < skip) continue; // trained on before the interruption
        const lr = learningRate(schedule, epoch, state.stepInEpoch);
        const t0 = performance.now();
        const result = await stepOrExplain(opts, batch, lr, state);
        if (unconfirmed && result.loss <= saneLoss) {
          markGood(opts.outDir, unconfirmed);
          unconfirmed = null;
        }
        const seconds = (performance.now() - t0) / 1000;
        const clips = batch.labels.length;
        state = {
          ...state,
          stepInEpoch: state.stepInEpoch + 1,
          globalStep: state.globalStep + 1,
          samplesSeen: state.samplesSeen + clips,
          lr,
          lastLoss: result.loss,
        };
        clipsThisSession += clips;
        epochLoss += result.loss * clips;
        epochCorrect += result.correct;
        epochClips += clips;
        steps.append({
          epoch: epoch + 1,
          step: state.globalStep,
          step_in_epoch: state.stepInEpoch,
          lr,
          loss: result.loss,
          acc: result.correct / clips,
          grad_norm: result.gradNorm,
          clips,
          seconds,
          clips_per_s: clips / seconds,
        });
        const elapsed = (performance.now() - started) / 1000;
        bar?.update(state.globalStep, {
          epoch: epoch + 1,
          loss: result.loss.toFixed(4),
          acc: (result.correct / clips).toFixed(3),
          cps: (clipsThisSession / elapsed).toFixed(2),
          skipped: opts.skipped?.() ?? 0,
        });
        if (opts.maxSteps !== undefined && state.globalStep >= opts.maxSteps) {
          await checkpoint();
          return summary("stopped");
        }
        if (opts.saveEvery && state.globalStep % opts.saveEvery === 0) await checkpoint();
      }
      // End of the epoch: advance, validate, checkpoint.
      state = { ...state, epoch: epoch + 1, stepInEpoch: 0 };
      const val = opts.val ? await validate(opts.engine, opts.val) : null;
      validation = val;
      epochs.append({
        epoch: epoch + 1,
        step: state.globalStep,
        lr: state.lr,
        train_loss: epochClips ? epochLoss / epochClips : "",
        train_acc: epochClips ? epochCorrect / epochClips : "",
        val_top1: val?.top1 ?? "",
        val_top5: val?.top5 ?? "",
        val_loss: val?.loss ?? "",
        seconds: (performance.now() - started) / 1000,
      });
      await checkpoint();
      const valText = val ? `, val top-1 ${(100 * val.top1).toFixed(1)}%` : "";
      if (bar) bar.update(state.globalStep);
      const skipped = opts.skipped?.() ? `, ${opts.skipped()} samples skipped so far` : "";
      log(
        `epoch ${epoch + 1}/${config.epochs}${skipped}: train loss ${epochClips ? (epochLoss / epochClips).toFixed(4) : "-"}, train acc ${epochClips ? ((100 * epochCorrect) / epochClips).toFixed(1) : "-"}%${valText}`,
      );
    }
    return summary("done");
  } finally {
    bar?.stop();
  }
}

async function stepOrExplain(opts: TrainLoopOptions, batch: Batch, lr: number, state: LoopState) {
  if (batch.views !== 1) throw new Error(`training batches must have one view per video, got ${batch.views}`);
  try {
    return await opts.engine.step(batch.input, batch.shape, batch.labels, lr);
  } catch (e) {
    if (!(e instanceof NonFiniteLossError)) throw e;
    const where = `epoch ${state.epoch + 1}, step ${state.globalStep + 1} (lr ${lr.toPrecision(4)})`;
    const good = rollBackToGood(opts.outDir);
    const from = good
      ? `--resume continues from the last good checkpoint ${good.dir} (step ${good.step}, loss ${good.loss.toPrecision(4)})`
      : "no good checkpoint had been written yet: start again";
    const lower = Number((state.config.optimizer.lr / 10).toPrecision(3));
    const advice = opts.command
      ? `; e.g. ${resumeCommand(opts.command, good !== null, lower)}`
      : `, with a lower lr (e.g. ${lower}), warm-up or gradient clipping`;
    throw new UserError(`training stopped: ${e.message} at ${where}; ${from}${advice}`, 3);
  }
}

/** The command line that continues the run (or restarts it) with a lower --lr. */
function resumeCommand(argv: string[], resume: boolean, lr: number): string {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--lr") i++;
    else if (a.startsWith("--lr=") || a === "--resume") continue;
    else out.push(a);
  }
  return [...out, ...(resume ? ["--resume"] : []), "--lr", String(lr)]
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`))
    .join(" ");
}

export interface ValidationResult {
  top1: number;
  top5: number;
  loss: number;
  videos: number;
}

/** Video-level top-1/top-5 and loss over a (test-mode) loader, with the engine's eval logits. */
export async function validate(engine: TrainingEngine, loader: Loader): Promise<ValidationResult> {
  const k = loader.dataset.numClasses;
  const tally = new ClassificationTally(k);
  let lossSum = 0;
  for await (const batch of loader.epoch(0)) {
    const probs = averageViews(softmaxRows(await engine.evalLogits(batch.input, batch.shape), k), k, batch.views);
    lossSum += crossEntropy(probs, k, batch.labels) * batch.labels.length;
    for (let v = 0; v < batch.labels.length; v++) tally.add(batch.labels[v]!, ranking(probs, k, v));
  }
  return { top1: tally.top1Accuracy, top5: tally.top5Accuracy, loss: lossSum / Math.max(1, tally.count), videos: tally.count };
}

function progressBar(): cliProgress.SingleBar {
  return new cliProgress.SingleBar(
    {
      format:
        "train {bar} {percentage}% | step {value}/{total} | epoch {epoch} | loss {loss} | acc {acc} | {cps} clips/s | {skipped} skipped | ETA {eta_formatted}",
      noTTYOutput: true,
      notTTYSchedule: 5000,
      etaBuffer: 20,
      hideCursor: false,
    },
    cliProgress.Presets.shades_classic,
  );
}

/** A setting as the user would type it; null means the feature is off. */
function showSetting(v: unknown): string {
  return v === null || v === undefined ? "off" : JSON.stringify(v);
}
