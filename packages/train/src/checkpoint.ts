/**
 * Training checkpoints of a run folder:
 *
 *   RUN/checkpoints/step-00000120/model.safetensors   weights + buffers, PyTorch state_dict names
 *   RUN/checkpoints/step-00000120/train-state.safetensors  momentum buffers, step counter, and the
 *                                                      loop state (epoch, step, schedule, seeds) as JSON metadata
 *   RUN/checkpoints/latest.json                        which checkpoint is the newest complete one
 *   RUN/model.safetensors                              a copy of the newest weights (for `blvnet eval`)
 *
 * Each file is written atomically and `latest.json` last, so a run killed at any moment resumes
 * from a complete checkpoint. Older checkpoints beyond `keep` are removed.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { decodeSafetensors, writeFileAtomic, writeSafetensors } from "@blvnet/io";
import { UserError, type TensorMap } from "@blvnet/core";
import { MOMENTUM_PREFIX } from "./engine.js";

export const TRAIN_STATE_FORMAT = "blvnet-train-state/1";

/** Where the loop stands: everything besides tensors that a bit-exact resume needs. */
export interface LoopState {
  format: typeof TRAIN_STATE_FORMAT;
  /** Epoch in progress (from 0) and optimizer steps already done in it. */
  epoch: number;
  stepInEpoch: number;
  /** Optimizer steps done since the start of the run. */
  globalStep: number;
  /** Training clips seen since the start. */
  samplesSeen: number;
  /** Seeds of the counter-based generators: data sampling derives from (dataSeed, epoch, sample), dropout from (dropoutSeed, step). */
  dataSeed: number;
  dropoutSeed: number;
  /** Learning rate of the last step and the schedule that produced it. */
  lr: number;
  schedule: Record<string, unknown>;
  /** Model and settings, checked on resume. */
  model: { name: string; id: string; options: Record<string, unknown> };
  settings: Record<string, unknown>;
  /** Loss of the last step (for the record). */
  lastLoss: number;
}

export interface SavedCheckpoint {
  dir: string;
  state: LoopState;
}

const stepDirName = (globalStep: number) => `step-${String(globalStep).padStart(8, "0")}`;

export function checkpointsDir(runDir: string): string {
  return join(runDir, "checkpoints");
}

/** Write one checkpoint and point `latest.json` at it. */
export function saveCheckpoint(runDir: string, tensors: TensorMap, state: LoopState, keep = 2): SavedCheckpoint {
  const weights: TensorMap = new Map();
  const optimizer: TensorMap = new Map();
  for (const [k, t] of tensors) (k.startsWith("optimizer.") ? optimizer : weights).set(k, t);
  const root = checkpointsDir(runDir);
  const dir = join(root, stepDirName(state.globalStep));
  const meta = { format: TRAIN_STATE_FORMAT, model: state.model.name, model_id: state.model.id, epoch: String(state.epoch), step: String(state.globalStep) };
  writeSafetensors(join(dir, "model.safetensors"), weights, meta);
  writeSafetensors(join(dir, "train-state.safetensors"), optimizer, { ...meta, loop_state: JSON.stringify(state) });
  writeFileAtomic(join(runDir, "model.safetensors"), readFileSync(join(dir, "model.safetensors")));
  writeFileAtomic(join(root, "latest.json"), JSON.stringify({ dir: stepDirName(state.globalStep), epoch: state.epoch, step: state.globalStep }, null, 2) + "\n");
  prune(root, keep, stepDirName(state.globalStep));
  return { dir, state };
}

function prune(root: string, keep: number, newest: string): void {
  const dirs = readdirSync(root)
    .filter((n) => /^step-\d+$/.test(n))
    .sort();
  const old = dirs.filter((n) => n !== newest).slice(0, Math.max(0, dirs.length - Math.max(1, keep)));
  for (const n of old) rmSync(join(root, n), { recursive: true, force: true });
}

/** The newest complete checkpoint of a run folder, or null when it has none. */
export function loadLatestCheckpoint(runDir: string): { dir: string; tensors: TensorMap; state: LoopState } | null {
  const pointer = join(checkpointsDir(runDir), "latest.json");
  if (!existsSync(pointer)) return null;
  let name: string;
  try {
    name = (JSON.parse(readFileSync(pointer, "utf8")) as { dir: string }).dir;
  } catch {
    throw new UserError(`${pointer}: not valid JSON; remove the run folder or pick another --out`);
  }
  const dir = join(checkpointsDir(runDir), name);
  const weightsFile = join(dir, "model.safetensors");
  const stateFile = join(dir, "train-state.safetensors");
  for (const f of [weightsFile, stateFile]) if (!existsSync(f)) throw new UserError(`${f} is missing: the checkpoint named by ${pointer} is incomplete`);
  const weights = decodeSafetensors(readFileSync(weightsFile), weightsFile).tensors;
  const train = decodeSafetensors(readFileSync(stateFile), stateFile);
  const json = train.metadata.loop_state;
  if (!json) throw new UserError(`${stateFile}: no loop_state metadata (not written by blvnet train)`);
  const state = JSON.parse(json) as LoopState;
  if (state.format !== TRAIN_STATE_FORMAT) throw new UserError(`${stateFile}: unsupported state format ${String(state.format)}`);
  const tensors: TensorMap = new Map([...weights, ...train.tensors]);
  return { dir, tensors, state };
}

/** Number of momentum buffers in a state map (for messages). */
export function countMomentum(tensors: TensorMap): number {
  let n = 0;
  for (const k of tensors.keys()) if (k.startsWith(MOMENTUM_PREFIX)) n++;
  return n;
}
