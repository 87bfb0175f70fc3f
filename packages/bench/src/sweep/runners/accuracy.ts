/**
 * Accuracy rows: train a model on a dataset folder (resuming a killed run from its checkpoint),
 * then evaluate it on the validation split, through the same functions as `blvnet train`/`eval`.
 */
import { existsSync, readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { runEval, runTrain } from "@blvnet/train";
import { checkpointsDir } from "@blvnet/train";
import type { Job } from "../spec.js";
import type { RunnerResult } from "../run.js";
import { depthOf, jobModel, temporalOf } from "./model.js";

export interface AccuracySettings {
  /** Run directory of the sweep: training runs go to <outDir>/train/<job>, evaluations to <outDir>/eval/<job>. */
  outDir: string;
  /** The dataset folder (the job's dataset column is its name in the rows). */
  dataDir: string;
  epochs: number;
  lr: number;
  dropout: number;
  engine: string;
  /** tfjs backend for the tfjs engine. */
  backend?: string;
  progress: boolean;
}

const slug = (key: string) => createHash("sha256").update(key).digest("hex").slice(0, 12);

export function accuracyRunner(s: AccuracySettings) {
  return async (job: Job): Promise<RunnerResult> => {
    const data = s.dataDir;
    const opt = Object.entries(job.options).map(([k, v]) => `${k}=${v}`);
    const seed = Number(job.seed || 0);
    const trainDir = join(s.outDir, "train", slug(job.key));
    const evalDir = join(s.outDir, "eval", slug(job.key));
    const common = { model: job.model, opt, data, frames: job.frames, size: job.size, progress: s.progress };
    const t0 = performance.now();
    await runTrain(
      {
        ...common,
        split: "train",
        epochs: s.epochs,
        batch: job.batch,
        lr: s.lr,
        lrScheduler: "cosine",
        lrSteps: "20,40",
        warmupEpochs: 0,
        momentum: 0.9,
        weightDecay: 5e-4,
        nesterov: true,
        dropout: s.dropout,
        seed,
        out: trainDir,
        resume: existsSync(join(checkpointsDir(trainDir), "latest.json")),
        keep: 1,
        engine: s.engine,
      },
      s.backend,
    );
    const trainSeconds = (performance.now() - t0) / 1000;
    await runEval({ ...common, weights: join(trainDir, "model.safetensors"), split: "val", crops: "1", clips: 1, batch: 8, out: evalDir }, s.engine === "ort" ? "ort" : s.backend);
    const summary = JSON.parse(readFileSync(join(evalDir, "summary.json"), "utf8"));
    const model = jobModel(job, { dropout: s.dropout, numClasses: summary.classes.length });
    const run = JSON.parse(readFileSync(join(trainDir, "run.json"), "utf8"));
    return {
      modelId: model.id,
      depth: depthOf(model),
      temporal: temporalOf(model),
      backend: s.engine === "ort" ? "ort" : String(run.settings.backend),
      metrics: {
        top1: +(100 * summary.top1).toFixed(2),
        top5: +(100 * summary.top5).toFixed(2),
        pair_accuracy: summary.pairAccuracy === null ? "" : +(100 * summary.pairAccuracy).toFixed(2),
        epochs: s.epochs,
        train_clips: run.dataset.videos,
        val_clips: summary.videos,
        train_seconds: +trainSeconds.toFixed(1),
      },
      note: `engine=${s.engine}; lr=${s.lr} cosine; wd=5e-4; dropout=${s.dropout}; train=${trainDir}`,
    };
  };
}
