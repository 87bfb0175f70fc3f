/**
 * Training checkpoints of a run folder:
 *
 *   RUN/checkpoints/step-00000120/model.safetensors   weights + buffers, PyTorch state_dict names
 *   RUN/checkpoints/step-00000120/train-state.safetensors  momentum buffers, step counter, and the
 *                                                      loop state (epoch, step, schedule, seeds) as JSON metadata
 *   RUN/checkpoints/latest.json                        which checkpoint is the newest complete one
 *   RUN/checkpoints/good.json                          the newest whose weights then gave a sane loss (kept)
 *   RUN/model.safetensors                              a copy of the newest weights (for `blvnet eval`)
 *   RUN/run.json                                       the run's config, dataset and provenance (RunRecord)
 *
 * Each file is written atomically and `latest.json` last, so a run killed at any moment resumes
 * from a complete checkpoint. Older checkpoints beyond `keep` are removed.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type TensorMap, UserError } from "@blvnet/core";
import { decodeSafetensors, writeFileAtomic, writeSafetensors } from "@blvnet/io";
import type { EngineKind } from "./engine.js";
import type { Provenance } from "./provenance.js";
import type { SchedulerKind } from "./schedule.js";
import type { ConfigChange } from "./trainer.js";

export const TRAIN_STATE_FORMAT = "blvnet-train-state/2";

/**
 * What a run was started with, defaults applied and paths absolute: written to run.json and to every
 * checkpoint, and compared field by field on resume.
 */
export interface RunConfig {
  model: { name: string; id: string; options: Record<string, unknown>; weights: string | null };
  data: { dir: string; split: string };
  /** Input of the built model (its frames and size options, or their defaults). */
  frames: number;
  size: number;
  optimizer: { lr: number; momentum: number; weightDecay: number; nesterov: boolean; clipGradNorm: number | null };
  schedule: { kind: SchedulerKind; lrSteps: number[]; warmupEpochs: number };
  epochs: number;
  batch: number;
  /** Seed of the initial weights and of the counter-based generators (data: seed, epoch, sample; dropout: seed, step). */
  seed: number;
  engine: EngineKind;
  backend: string;
}

/** Where the loop stands: everything besides tensors that a bit-exact resume needs. */
export interface LoopState {
  format: typeof TRAIN_STATE_FORMAT;
  /** Epoch in progress (from 0) and optimizer steps already done in it. */
  epoch: number;
  stepInEpoch: number;
  /** Optimizer steps done since the start of the run. */
  globalStep: number;
  /** Optimizer steps per epoch of the run's data (a resume on other data is refused). */
  stepsPerEpoch: number;
  /** Training clips seen since the start. */
  samplesSeen: number;
  /** Learning rate and loss of the last step. */
  lr: number;
  lastLoss: number;
  config: RunConfig;
}

/** run.json of a run folder. */
export interface RunRecord {
  format: typeof TRAIN_STATE_FORMAT;
  config: RunConfig;
  dataset: DatasetRecord;
  provenance: Provenance;
  /** Schedule settings changed by resumes, in order (absent when none). */
  changes?: ConfigChange[];
}

/** The training split as the run saw it. */
export interface DatasetRecord {
  dir: string;
  split: string;
  videos: number;
  classes: string[];
  /** Entries of the list file that were skipped (missing frames, bad labels). */
  skipped: number;
}

export interface SavedCheckpoint {
  dir: string;
  state: LoopState;
  pointer: Pointer;
}

const stepDirName = (globalStep: number) => `step-${String(globalStep).padStart(8, "0")}`;

export function checkpointsDir(runDir: string): string {
  return join(runDir, "checkpoints");
}

interface Pointer {
  dir: string;
  epoch: number;
  step: number;
  loss: number;
}

export type CheckpointPointer = Pointer;

/** Write one checkpoint and point `latest.json` at it; pruning keeps `keep` of them and the good one. */
export function saveCheckpoint(runDir: string, tensors: TensorMap, state: LoopState, keep = 2): SavedCheckpoint {
  const weights: TensorMap = new Map();
  const optimizer: TensorMap = new Map();
  for (const [k, t] of tensors) (k.startsWith("optimizer.") ? optimizer : weights).set(k, t);
  const root = checkpointsDir(runDir);
  const dir = join(root, stepDirName(state.globalStep));
  const meta = {
    format: TRAIN_STATE_FORMAT,
    model: state.config.model.name,
    model_id: state.config.model.id,
    epoch: String(state.epoch),
    step: String(state.globalStep),
  };
  writeSafetensors(join(dir, "model.safetensors"), weights, meta);
  writeSafetensors(join(dir, "train-state.safetensors"), optimizer, { ...meta, loop_state: JSON.stringify(state) });
  writeFileAtomic(join(runDir, "model.safetensors"), readFileSync(join(dir, "model.safetensors")));
  const pointer: Pointer = { dir: stepDirName(state.globalStep), epoch: state.epoch, step: state.globalStep, loss: state.lastLoss };
  writeFileAtomic(join(root, "latest.json"), `${JSON.stringify(pointer, null, 2)}\n`);
  prune(root, keep, [pointer.dir, readPointer(join(root, "good.json"))?.dir]);
  return { dir, state, pointer };
}

/**
 * `good.json`: the newest checkpoint whose weights went on to give a finite, sane loss (judged by
 * the step after it). A divergence rolls back to it; pruning never removes it.
 */
export function markGood(runDir: string, pointer: Pointer): void {
  writeFileAtomic(join(checkpointsDir(runDir), "good.json"), `${JSON.stringify(pointer, null, 2)}\n`);
}

function readPointer(file: string): Pointer | null {
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Pointer;
  } catch {
    throw new UserError(`${file}: not valid JSON; remove the run folder or pick another --out`);
  }
}

function prune(root: string, keep: number, protect: (string | undefined)[]): void {
  const dirs = readdirSync(root)
    .filter((n) => /^step-\d+$/.test(n))
    .sort();
  const old = dirs.filter((n) => !protect.includes(n)).slice(0, Math.max(0, dirs.length - Math.max(1, keep)));
  for (const n of old) rmSync(join(root, n), { recursive: true, force: true });
}

/**
 * After a divergence: point `latest.json` back at the newest good checkpoint, so that `--resume`
 * (with a lower lr) continues from it. Returns it, or null when the run has none.
 */
export function rollBackToGood(runDir: string): { dir: string; step: number; loss: number } | null {
  const root = checkpointsDir(runDir);
  const good = readPointer(join(root, "good.json"));
  if (!good) return null;
  writeFileAtomic(join(root, "latest.json"), `${JSON.stringify(good, null, 2)}\n`);
  return { dir: join(root, good.dir), step: good.step, loss: good.loss };
}

/** The newest complete checkpoint of a run folder, or null when it has none. */
export function loadLatestCheckpoint(runDir: string): { dir: string; tensors: TensorMap; state: LoopState } | null {
  const pointer = join(checkpointsDir(runDir), "latest.json");
  const latest = readPointer(pointer);
  if (!latest) return null;
  const name = latest.dir;
  const dir = join(checkpointsDir(runDir), name);
  const weightsFile = join(dir, "model.safetensors");
  const stateFile = join(dir, "train-state.safetensors");
  for (const f of [weightsFile, stateFile])
    if (!existsSync(f)) throw new UserError(`${f} is missing: the checkpoint named by ${pointer} is incomplete`);
  const weights = decodeSafetensors(readFileSync(weightsFile), weightsFile).tensors;
  const train = decodeSafetensors(readFileSync(stateFile), stateFile);
  const json = train.metadata.loop_state;
  if (!json) throw new UserError(`${stateFile}: no loop_state metadata (not written by blvnet train)`);
  const saved = JSON.parse(json) as LoopState | LoopStateV1;
  const state = saved.format === V1 ? fromV1(saved) : saved;
  if (state.format !== TRAIN_STATE_FORMAT) throw new UserError(`${stateFile}: unsupported state format ${String(state.format)}`);
  const tensors: TensorMap = new Map([...weights, ...train.tensors]);
  return { dir, tensors, state };
}

const V1 = "blvnet-train-state/1";

/** The first format (flat settings; blvnet before the train library), still resumable. */
interface LoopStateV1 {
  format: typeof V1;
  epoch: number;
  stepInEpoch: number;
  globalStep: number;
  samplesSeen: number;
  lr: number;
  lastLoss: number;
  schedule: { stepsPerEpoch: number };
  model: { name: string; id: string; options: Record<string, unknown> };
  settings: {
    data: string;
    split: string;
    batch: number;
    frames: number;
    size: number;
    lr: number;
    lrScheduler: SchedulerKind;
    lrSteps: number[];
    warmupEpochs: number;
    momentum: number;
    weightDecay: number;
    nesterov: boolean;
    clipGrad: number | null;
    epochs: number;
    seed: number;
    engine: EngineKind;
    backend: string;
    weights: string | null;
  };
}

function fromV1(v: LoopStateV1): LoopState {
  const s = v.settings;
  return {
    format: TRAIN_STATE_FORMAT,
    epoch: v.epoch,
    stepInEpoch: v.stepInEpoch,
    globalStep: v.globalStep,
    stepsPerEpoch: v.schedule.stepsPerEpoch,
    samplesSeen: v.samplesSeen,
    lr: v.lr,
    lastLoss: v.lastLoss,
    config: {
      model: { ...v.model, weights: s.weights },
      data: { dir: s.data, split: s.split },
      frames: s.frames,
      size: s.size,
      optimizer: { lr: s.lr, momentum: s.momentum, weightDecay: s.weightDecay, nesterov: s.nesterov, clipGradNorm: s.clipGrad },
      schedule: { kind: s.lrScheduler, lrSteps: s.lrSteps, warmupEpochs: s.warmupEpochs },
      epochs: s.epochs,
      batch: s.batch,
      seed: s.seed,
      engine: s.engine,
      backend: s.backend,
    },
  };
}
