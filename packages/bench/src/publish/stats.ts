/**
 * Statistics over seeds: mean, sample standard deviation, the 95% confidence interval of the mean
 * (Student t with n-1 degrees of freedom), and the paired difference of two models over the seeds
 * they share (each seed: same data, same initial-weight seed), with its interval.
 */

/** Two-sided 95% quantile of Student's t (t_{0.975}) for 1..30 degrees of freedom. */
const T975 = [
  NaN,
  12.706205,
  4.302653,
  3.182446,
  2.776445,
  2.570582,
  2.446912,
  2.364624,
  2.306004,
  2.262157,
  2.228139,
  2.200985,
  2.178813,
  2.160369,
  2.144787,
  2.13145,
  2.119905,
  2.109816,
  2.100922,
  2.093024,
  2.085963,
  2.079614,
  2.073873,
  2.068658,
  2.063899,
  2.059539,
  2.055529,
  2.051831,
  2.048407,
  2.04523,
  2.042272,
];

/** t_{0.975} with `df` degrees of freedom: the table up to 30, then the Cornish-Fisher expansion around z = 1.959964. */
export function tQuantile975(df: number): number {
  if (!(df >= 1)) return NaN;
  if (Number.isInteger(df) && df <= 30) return T975[df]!;
  const z = 1.959964;
  return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df * df);
}

export interface Summary {
  n: number;
  mean: number;
  /** Sample standard deviation (n-1); 0 for one value. */
  std: number;
  /** Half-width of the 95% confidence interval of the mean; NaN below two values. */
  half: number;
  lo: number;
  hi: number;
}

export function summarize(xs: readonly number[]): Summary {
  const n = xs.length;
  const mean = n ? xs.reduce((a, b) => a + b, 0) / n : NaN;
  const std = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : n === 1 ? 0 : NaN;
  const half = n > 1 ? (tQuantile975(n - 1) * std) / Math.sqrt(n) : NaN;
  return { n, mean, std, half, lo: mean - half, hi: mean + half };
}

/** Paired difference a - b over the keys (seeds) both have. */
export function pairedDifference(a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>): Summary & { seeds: number[] } {
  const seeds = [...a.keys()].filter((k) => b.has(k)).sort((x, y) => x - y);
  return { ...summarize(seeds.map((k) => a.get(k)! - b.get(k)!)), seeds };
}

/** "95.4 ± 2.1" (mean ± std). */
export function formatMeanStd(s: Summary, digits = 1): string {
  if (!s.n) return "";
  return s.n > 1 ? `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}` : s.mean.toFixed(digits);
}

/** "[90.2, 99.6]" (95% CI, cut to `range`), blank below two values. */
export function formatCi(s: Summary, digits = 1, range: readonly [number, number] = [-Infinity, Infinity]): string {
  if (!Number.isFinite(s.half)) return "";
  const [lo, hi] = [Math.max(range[0], s.lo), Math.min(range[1], s.hi)];
  return `[${lo.toFixed(digits)}, ${hi.toFixed(digits)}]`;
}

/** The range of an accuracy in %: a t interval reaching past it is shown cut at its ends. */
export const PERCENT: readonly [number, number] = [0, 100];

/** "+70.1 [62.0, 78.2]": a signed difference with its 95% CI. */
export function formatDifference(s: Summary, digits = 1): string {
  if (!s.n) return "";
  const sign = s.mean >= 0 ? "+" : "";
  const ci = formatCi(s, digits);
  return `${sign}${s.mean.toFixed(digits)}${ci ? ` ${ci}` : ""}`;
}
