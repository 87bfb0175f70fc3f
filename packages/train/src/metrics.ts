/**
 * Classification metrics over logits: softmax, top-k hits (ties broken towards the lower class,
 * like a stable sort), a confusion matrix with per-class accuracy, and the video-level score that
 * averages the softmax of every view (clip x crop) of a video, as the official test script does.
 */

/** Row-wise softmax of [rows, k] logits (float64 accumulation). */
export function softmaxRows(logits: Float32Array, k: number): Float64Array {
  const rows = logits.length / k;
  const out = new Float64Array(logits.length);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, logits[r * k + j]!);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += out[r * k + j] = Math.exp(logits[r * k + j]! - max);
    for (let j = 0; j < k; j++) out[r * k + j]! /= sum;
  }
  return out;
}

/** Mean of each group of `views` consecutive rows: [videos * views, k] -> [videos, k]. */
export function averageViews(scores: ArrayLike<number>, k: number, views: number): Float64Array {
  const videos = scores.length / k / views;
  const out = new Float64Array(videos * k);
  for (let v = 0; v < videos; v++) {
    for (let w = 0; w < views; w++) for (let j = 0; j < k; j++) out[v * k + j]! += scores[(v * views + w) * k + j]!;
    for (let j = 0; j < k; j++) out[v * k + j]! /= views;
  }
  return out;
}

/** Classes of one score row, best first (stable: equal scores keep class order). */
export function ranking(scores: ArrayLike<number>, k: number, row: number): number[] {
  const idx = Array.from({ length: k }, (_, j) => j);
  return idx.sort((a, b) => scores[row * k + b]! - scores[row * k + a]! || a - b);
}

/** Mean softmax cross-entropy of rows with labels (rows with label < 0 are skipped). */
export function crossEntropy(probs: ArrayLike<number>, k: number, labels: ArrayLike<number>): number {
  let sum = 0;
  let n = 0;
  for (let r = 0; r < labels.length; r++) {
    const y = labels[r]!;
    if (y < 0) continue;
    sum -= Math.log(Math.max(probs[r * k + y]!, 1e-45));
    n++;
  }
  return n ? sum / n : NaN;
}

/** Accumulates predictions into top-1/top-5 counts and a confusion matrix. */
export class ClassificationTally {
  readonly confusion: number[][];
  count = 0;
  top1 = 0;
  top5 = 0;

  constructor(readonly numClasses: number) {
    this.confusion = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  }

  /** One labelled prediction: its class ranking, best first. */
  add(label: number, ranked: readonly number[]): void {
    if (label < 0 || label >= this.numClasses) return;
    this.count++;
    if (ranked[0] === label) this.top1++;
    if (ranked.slice(0, 5).includes(label)) this.top5++;
    this.confusion[label]![ranked[0]!]!++;
  }

  /** Accuracy (0-1) per true class; NaN for classes without samples. */
  perClass(): number[] {
    return this.confusion.map((row, c) => {
      const n = row.reduce((a, b) => a + b, 0);
      return n ? row[c]! / n : NaN;
    });
  }

  /** Mean of the per-class accuracies over classes that have samples. */
  meanClassAccuracy(): number {
    const acc = this.perClass().filter((a) => !Number.isNaN(a));
    return acc.length ? acc.reduce((a, b) => a + b, 0) / acc.length : NaN;
  }

  get top1Accuracy(): number {
    return this.count ? this.top1 / this.count : NaN;
  }

  get top5Accuracy(): number {
    return this.count ? this.top5 / this.count : NaN;
  }
}
