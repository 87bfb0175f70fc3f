/**
 * Sweep specification: models x frames x sizes x batches x backends x kinds (x datasets x seeds),
 * expanded into a deterministic list of jobs with stable keys (resume and sharding use the keys).
 */

import { readFileSync } from "node:fs";
import { UserError } from "@blvnet/core";
import { JOB_KINDS, type JobKind } from "./rows.js";

export interface ModelVariant {
  /** Registry name, e.g. "blvnet-tam". */
  model: string;
  /** Fixed options for this variant (depth, blendingFrames, ...). */
  options?: Record<string, number | string | boolean>;
  /** Frame counts to sweep (total input frames); default: the spec's frames. */
  frames?: number[];
  /** Input sizes; default: the spec's sizes. */
  sizes?: number[];
}

export const SWEEP_ORDERS = ["models", "smallest-first"] as const;

export interface SweepSpec {
  name: string;
  kinds: JobKind[];
  models: ModelVariant[];
  frames: number[];
  sizes: number[];
  batches: number[];
  backends: string[];
  /** Accuracy jobs only. */
  datasets?: string[];
  seeds?: number[];
  /** Per-kind settings passed to the runners (iterations, epochs, ...). */
  settings?: Record<string, number | string | boolean>;
  /**
   * "smallest-first": every model's first frame count, then every model's second, ... (instead of one
   * model after another), so a sweep cut by a time budget still has each model's smallest configuration.
   */
  order?: (typeof SWEEP_ORDERS)[number];
}

export interface Job {
  kind: JobKind;
  model: string;
  options: Record<string, number | string | boolean>;
  frames: number;
  size: number;
  batch: number;
  backend: string;
  dataset: string;
  seed: number | "";
  key: string;
}

function optionString(options: Record<string, unknown>): string {
  return Object.keys(options)
    .sort()
    .map((k) => `${k}=${String(options[k])}`)
    .join(",");
}

export function jobKey(j: Omit<Job, "key">): string {
  return [
    j.kind,
    j.model,
    optionString(j.options),
    `f${j.frames}`,
    `s${j.size}`,
    `b${j.batch}`,
    j.backend,
    j.dataset,
    `seed${j.seed}`,
  ].join("|");
}

/**
 * Expand a spec into jobs, in a fixed order (kinds, models, frames, sizes, batches, backends, datasets, seeds;
 * with order "smallest-first": kinds, frame-count rank, models, ...).
 */
export function expandSweep(spec: SweepSpec): Job[] {
  const jobs: Job[] = [];
  const frameRank: number[] = [];
  for (const kind of spec.kinds) {
    // analytic profiles do not depend on backend, batch or seed
    const backends = kind === "profile" ? ["analytic"] : spec.backends;
    const batches = kind === "accuracy" ? [spec.batches[0]] : spec.batches;
    const datasets = kind === "accuracy" ? (spec.datasets ?? ["synthetic"]) : [""];
    const seeds: (number | "")[] = kind === "accuracy" ? (spec.seeds ?? [0]) : [""];
    for (const v of spec.models) {
      const frameList = v.frames ?? spec.frames;
      for (const frames of frameList)
        for (const size of v.sizes ?? spec.sizes)
          for (const batch of kind === "profile" ? [1] : batches)
            for (const backend of backends)
              for (const dataset of datasets)
                for (const seed of seeds) {
                  const j = { kind, model: v.model, options: v.options ?? {}, frames, size, batch, backend, dataset, seed };
                  jobs.push({ ...j, key: jobKey(j) });
                  frameRank.push(spec.kinds.indexOf(kind) * 1000 + frameList.indexOf(frames));
                }
    }
  }
  // a stable sort: within one rank, the model-major order
  const ordered =
    spec.order === "smallest-first"
      ? jobs
          .map((j, i) => ({ j, rank: frameRank[i]! }))
          .sort((a, b) => a.rank - b.rank)
          .map((x) => x.j)
      : jobs;
  const seen = new Set<string>();
  return ordered.filter((j) => {
    if (seen.has(j.key)) return false;
    seen.add(j.key);
    return true;
  });
}

/** `--shard i/n`: a deterministic slice (every n-th job starting at i, 0-based). */
export function parseShard(s: string | undefined): { index: number; count: number } {
  if (!s) return { index: 0, count: 1 };
  const m = /^(\d+)\/(\d+)$/.exec(s);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) throw new UserError(`--shard must look like i/n with 0 <= i < n, got "${s}"`);
  return { index, count };
}

export function shardJobs(jobs: Job[], shard: { index: number; count: number }): Job[] {
  return jobs.filter((_, i) => i % shard.count === shard.index);
}

/** Read sweep specifications from a JSON file (an array of SweepSpec, or one), checking their shape. */
export function loadSweepFile(path: string): SweepSpec[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new UserError(`${path}: cannot read sweep specification (${(e as Error).message})`);
  }
  const specs = (Array.isArray(raw) ? raw : [raw]) as SweepSpec[];
  specs.forEach((s, i) => {
    const where = `${path}: spec ${i}${typeof s?.name === "string" ? ` ("${s.name}")` : ""}`;
    const bad = (what: string) => new UserError(`${where}: ${what}`);
    if (!s || typeof s !== "object") throw bad("not an object");
    if (typeof s.name !== "string" || !s.name) throw bad("needs a name");
    if (!Array.isArray(s.kinds) || !s.kinds.length || s.kinds.some((k) => !JOB_KINDS.includes(k)))
      throw bad(`kinds must be a non-empty subset of ${JOB_KINDS.join(", ")}`);
    if (!Array.isArray(s.models) || !s.models.length || s.models.some((m) => typeof m?.model !== "string"))
      throw bad("models must be a non-empty list of {model, options?, frames?, sizes?}");
    for (const k of ["frames", "sizes", "batches", "backends"] as const) {
      if (!Array.isArray(s[k])) throw bad(`${k} must be a list`);
    }
    if (!s.batches.length || !s.backends.length) throw bad("batches and backends must not be empty");
    if (s.order !== undefined && !SWEEP_ORDERS.includes(s.order)) throw bad(`order must be one of ${SWEEP_ORDERS.join(", ")}`);
  });
  return specs;
}
