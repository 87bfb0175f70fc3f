/**
 * Evaluation of a model over a test-mode loader: clip-level and video-level top-1/top-5 (video =
 * softmax averaged over its clips x crops), per-class accuracy, confusion matrix, and, on the
 * synthetic benchmark, the accuracy within each time-reversed class pair (chance = 50%).
 * The scorer is the tfjs interpreter or an onnxruntime session over the exported model.
 */
import { join } from "node:path";
import type { VideoModel } from "@blvnet/core";
import { type Loader, SYNTH_CLASSES } from "@blvnet/data";
import { type OrtBackendName, OrtEngine } from "@blvnet/engine-onnx";
import { TfOps, tfForward } from "@blvnet/engine-tfjs";
import { writeFileAtomic } from "@blvnet/io";
import * as tf from "@tensorflow/tfjs-core";
import cliProgress from "cli-progress";
import { stringify } from "csv-stringify/sync";
import { confusionSvg } from "./confusion-svg.js";
import { averageViews, ClassificationTally, crossEntropy, ranking, softmaxRows } from "./metrics.js";

export type EvalEngine = "tfjs" | OrtBackendName;

/** Logits for a batch in the model's input layout. */
export interface Scorer {
  readonly kind: EvalEngine;
  logits(input: Float32Array, shape: number[]): Promise<Float32Array>;
  dispose(): Promise<void>;
}

export function tfjsScorer(model: VideoModel): Scorer {
  const ops = new TfOps();
  model.eval();
  return {
    kind: "tfjs",
    async logits(input, shape) {
      const out = tf.tidy(() => tfForward(model, ops, ops.input(input, shape)));
      try {
        return (await out.data()) as Float32Array;
      } finally {
        out.dispose();
      }
    },
    async dispose() {
      ops.store.dispose();
    },
  };
}

export async function ortScorer(model: VideoModel, backend: OrtBackendName): Promise<Scorer> {
  model.eval();
  const engine = await OrtEngine.create(model, { backend, dynamicBatch: true });
  return {
    kind: backend,
    async logits(input, shape) {
      return (await engine.run(input, shape)).data;
    },
    dispose: () => engine.release(),
  };
}

export interface PredictionRow {
  id: string;
  label: number;
  label_name: string;
  pred: number;
  pred_name: string;
  correct: number;
  prob_label: number;
  prob_pred: number;
  top5: string;
}

export interface EvalReport {
  videos: number;
  views: number;
  classes: string[];
  /** Video-level (views averaged). */
  top1: number;
  top5: number;
  meanClassAccuracy: number;
  loss: number;
  /** Each view on its own. */
  clipTop1: number;
  clipTop5: number;
  perClass: { class: string; index: number; videos: number; accuracy: number }[];
  confusion: number[][];
  /** Synthetic benchmark only: share of videos whose class outscores its time-reversed partner. */
  pairAccuracy: number | null;
  pairs: { a: string; b: string; videos: number; accuracy: number }[] | null;
  predictions: PredictionRow[];
  seconds: number;
  videosPerSecond: number;
}

/** Partner class index of each synthetic class (move-left <-> move-right, ...), or null elsewhere. */
export function reversePartners(classes: readonly string[]): (number | null)[] | null {
  const synth = SYNTH_CLASSES as readonly string[];
  if (classes.length === 0 || !classes.every((c) => synth.includes(c))) return null;
  return classes.map((c) => {
    const partner = synth[synth.indexOf(c) ^ 1]!;
    const j = classes.indexOf(partner);
    return j >= 0 ? j : null;
  });
}

export async function evaluateModel(scorer: Scorer, loader: Loader, opts: { progress?: boolean } = {}): Promise<EvalReport> {
  const k = loader.dataset.numClasses;
  const classes = loader.dataset.classes.length === k ? loader.dataset.classes : Array.from({ length: k }, (_, i) => String(i));
  const video = new ClassificationTally(k);
  const clip = new ClassificationTally(k);
  const partners = reversePartners(classes);
  const pairHits = new Map<string, { hits: number; n: number }>();
  const predictions: PredictionRow[] = [];
  let lossSum = 0;
  let views = 1;
  const started = performance.now();
  const bar =
    opts.progress === false
      ? null
      : new cliProgress.SingleBar(
          { format: "eval {bar} {percentage}% | {value}/{total} videos | ETA {eta_formatted}", noTTYOutput: true, notTTYSchedule: 5000 },
          cliProgress.Presets.shades_classic,
        );
  bar?.start(loader.dataset.records.length, 0);
  try {
    for await (const batch of loader.epoch(0)) {
      views = batch.views;
      const logits = await scorer.logits(batch.input, batch.shape);
      if (logits.length !== batch.shape[0]! * k)
        throw new Error(`model returned ${logits.length} values for ${batch.shape[0]} rows x ${k} classes`);
      const viewProbs = softmaxRows(logits, k);
      const probs = averageViews(viewProbs, k, batch.views);
      lossSum += crossEntropy(probs, k, batch.labels) * batch.labels.length;
      for (let v = 0; v < batch.labels.length; v++) {
        const y = batch.labels[v]!;
        const ranked = ranking(probs, k, v);
        video.add(y, ranked);
        for (let w = 0; w < batch.views; w++) clip.add(y, ranking(viewProbs, k, v * batch.views + w));
        const p = ranked[0]!;
        predictions.push({
          id: batch.ids[v]!,
          label: y,
          label_name: y >= 0 ? classes[y]! : "",
          pred: p,
          pred_name: classes[p]!,
          correct: y === p ? 1 : 0,
          prob_label: y >= 0 ? probs[v * k + y]! : NaN,
          prob_pred: probs[v * k + p]!,
          top5: ranked.slice(0, 5).join(" "),
        });
        const partner = y >= 0 && partners ? partners[y] : null;
        if (partner !== null && partner !== undefined) {
          const key = y < partner ? `${y}:${partner}` : `${partner}:${y}`;
          const e = pairHits.get(key) ?? { hits: 0, n: 0 };
          e.n++;
          if (probs[v * k + y]! > probs[v * k + partner]!) e.hits++;
          pairHits.set(key, e);
        }
      }
      bar?.increment(batch.labels.length);
    }
  } finally {
    bar?.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  const perClassAcc = video.perClass();
  const pairs = partners
    ? [...pairHits.entries()].map(([key, e]) => {
        const [a, b] = key.split(":").map(Number) as [number, number];
        return { a: classes[a]!, b: classes[b]!, videos: e.n, accuracy: e.hits / e.n };
      })
    : null;
  const pairTotal = pairs?.reduce((s, p) => s + p.videos, 0) ?? 0;
  return {
    videos: video.count,
    views,
    classes,
    top1: video.top1Accuracy,
    top5: video.top5Accuracy,
    meanClassAccuracy: video.meanClassAccuracy(),
    loss: lossSum / Math.max(1, video.count),
    clipTop1: clip.top1Accuracy,
    clipTop5: clip.top5Accuracy,
    perClass: classes.map((c, i) => ({
      class: c,
      index: i,
      videos: video.confusion[i]!.reduce((a, b) => a + b, 0),
      accuracy: perClassAcc[i]!,
    })),
    confusion: video.confusion,
    pairAccuracy: pairs && pairTotal ? pairs.reduce((s, p) => s + p.accuracy * p.videos, 0) / pairTotal : null,
    pairs,
    predictions,
    seconds,
    videosPerSecond: seconds > 0 ? video.count / seconds : 0,
  };
}

/** summary.json, predictions.csv, per-class.csv, confusion.csv and confusion.svg in `dir`. */
export function writeEvalOutputs(dir: string, report: EvalReport, meta: Record<string, unknown>): string[] {
  const { predictions, confusion, perClass, ...rest } = report;
  const files = {
    summary: join(dir, "summary.json"),
    predictions: join(dir, "predictions.csv"),
    perClass: join(dir, "per-class.csv"),
    confusionCsv: join(dir, "confusion.csv"),
    confusionSvg: join(dir, "confusion.svg"),
  };
  writeFileAtomic(
    files.summary,
    JSON.stringify({ ...meta, ...rest, perClass }, (_, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 2) + "\n",
  );
  writeFileAtomic(
    files.predictions,
    stringify(predictions, {
      header: true,
      columns: ["id", "label", "label_name", "pred", "pred_name", "correct", "prob_label", "prob_pred", "top5"],
    }),
  );
  writeFileAtomic(files.perClass, stringify(perClass, { header: true, columns: ["index", "class", "videos", "accuracy"] }));
  const classes = report.classes;
  writeFileAtomic(
    files.confusionCsv,
    stringify([["true\\pred", ...classes], ...confusion.map((row, i) => [classes[i]!, ...row.map(String)])]),
  );
  const title = `${String(meta.model_id ?? "model")}: top-1 ${(100 * report.top1).toFixed(1)}% on ${report.videos} videos`;
  writeFileAtomic(files.confusionSvg, confusionSvg(confusion, classes, { title }));
  return Object.values(files);
}
