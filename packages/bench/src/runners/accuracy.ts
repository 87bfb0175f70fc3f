/**
 * Accuracy rows: train a model on a dataset folder (resuming a killed run from its checkpoint),
 * then evaluate it on the validation split, through the library calls behind `blvnet train`/`eval`.
 */

import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { checkpointsDir, type EngineKind, evaluate, type SyntheticData, train } from "@blvnet/train";
import type { RunnerResult } from "../sweep/run.js";
import type { Job } from "../sweep/spec.js";
import { depthOf, jobModel, jobOptions, temporalOf } from "./model.js";

export interface AccuracySettings {
  /** Run directory of the sweep: training runs go to <outDir>/train/<job>, evaluations to <outDir>/eval/<job>. */
  outDir: string;
  /** The dataset folder (the job's dataset column is its name in the rows); not with `synthetic`. */
  dataDir?: string;
  /** Instead of a folder: the synthetic benchmark rendered in memory, its clips seeded by the job's seed. */
  synthetic?: Omit<SyntheticData, "seed">;
  epochs: number;
  /** Warm-up epochs before the cosine decay (default 0). */
  warmupEpochs?: number;
  lr: number;
  dropout: number;
  engine: EngineKind;
  /** tfjs backend for the tfjs engine. */
  backend?: string;
  progress: boolean;
}

const slug = (key: string) => createHash("sha256").update(key).digest("hex").slice(0, 12);

export function accuracyRunner(s: AccuracySettings) {
  return async (job: Job): Promise<RunnerResult> => {
    const seed = Number(job.seed || 0);
    const trainDir = join(s.outDir, "train", slug(job.key));
    const evalDir = join(s.outDir, "eval", slug(job.key));
    const model = { name: job.model, options: jobOptions(job, { dropout: s.dropout }) };
    // The synthetic data seed is part of each seed: every seed trains and is evaluated on its own clips.
    const data = s.synthetic ? { synthetic: { ...s.synthetic, seed } } : { dir: s.dataDir };
    // warm-up shorter than the run (a 1-epoch smoke run has none)
    const warmupEpochs = Math.min(s.warmupEpochs ?? 0, Math.max(0, s.epochs - 1));
    const trained = await train({
      model,
      data: { ...data, split: "train" },
      optimizer: { lr: s.lr, momentum: 0.9, weightDecay: 5e-4, nesterov: true },
      schedule: { kind: "cosine", lrSteps: [20, 40], warmupEpochs },
      epochs: s.epochs,
      batch: job.batch,
      seed,
      engine: s.engine,
      backend: s.backend,
      out: trainDir,
      resume: existsSync(join(checkpointsDir(trainDir), "latest.json")),
      keep: 1,
      progress: s.progress,
    });
    const evaluated = await evaluate({
      model: { ...model, weights: trained.weights },
      data: { ...data, split: "val" },
      crops: 1,
      clips: 1,
      batch: s.synthetic ? job.batch : 8,
      backend: s.engine === "ort" ? "ort" : s.backend,
      out: evalDir,
      progress: s.progress,
    });
    const r = evaluated.report;
    const built = jobModel(job, { dropout: s.dropout, numClasses: r.classes.length });
    return {
      modelId: built.id,
      depth: depthOf(built),
      temporal: temporalOf(built),
      backend: trained.config.backend,
      metrics: {
        level: s.synthetic ? (s.synthetic.level ?? 0) : levelOf(s.dataDir),
        top1: +(100 * r.top1).toFixed(2),
        top5: +(100 * r.top5).toFixed(2),
        pair_accuracy: r.pairAccuracy === null ? "" : +(100 * r.pairAccuracy).toFixed(2),
        epochs: s.epochs,
        train_clips: trained.dataset.videos,
        val_clips: r.videos,
        train_seconds: +trained.totalSeconds.toFixed(1),
        skipped_samples: trained.skipped + evaluated.skipped,
      },
      // paths relative to the run folder: a published row names no folder of the machine that made it
      note: `engine=${s.engine}; lr=${s.lr} cosine${warmupEpochs ? ` warm-up ${warmupEpochs}` : ""}; wd=5e-4; dropout=${s.dropout}${s.synthetic ? `; ${syntheticNote(s.synthetic)}` : ""}; train=${relative(s.outDir, trainDir)}`,
    };
  };
}

/** The difficulty level a synthetic dataset folder records in dataset.json ("" for other datasets). */
export function levelOf(dir: string | undefined): number | "" {
  if (!dir) return "";
  try {
    const level = (JSON.parse(readFileSync(join(dir, "dataset.json"), "utf8")) as { level?: unknown; format?: unknown }).level;
    return typeof level === "number" ? level : "";
  } catch {
    return "";
  }
}

function syntheticNote(d: Omit<SyntheticData, "seed">): string {
  return `synthetic in memory: ${d.classes?.length ?? 10} classes, ${d.perClass}/class${d.fresh === false ? "" : " fresh every epoch"}, val ${d.valPerClass ?? 30}/class`;
}
