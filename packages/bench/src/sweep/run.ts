/**
 * Runs a sweep: the jobs of one shard, skipping those already in the run directory (resume),
 * one runner per job kind, one row per job with provenance. A failing job is logged and the
 * sweep goes on; the caller decides the exit code from the summary.
 */
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { claim, claimOwner, ensureDir, type LockOwner, WriteError, writeError, writeFileAtomic } from "@blvnet/io";
import { provenance } from "@blvnet/train";
import cliProgress from "cli-progress";
import type { JobKind, Row } from "./rows.js";
import { expandSweep, type Job, type SweepSpec, shardJobs } from "./spec.js";
import { ResultStore } from "./store.js";

export interface RunnerResult {
  /** Canonical model id of the built model. */
  modelId: string;
  depth?: number;
  temporal?: string;
  threads?: number;
  /** Backend/device actually used (a runner may resolve "auto"). */
  backend?: string;
  device?: string;
  metrics: Row;
  note?: string;
}

export type Runner = (job: Job) => Promise<RunnerResult>;

export interface SweepOptions {
  outDir: string;
  shard?: { index: number; count: number };
  runners: Partial<Record<JobKind, Runner>>;
  /** Print progress (default true). */
  progress?: boolean;
  log?: (line: string) => void;
}

export interface SweepSummary {
  total: number;
  skipped: number;
  done: number;
  failed: { key: string; error: string }[];
  rows: Row[];
  /** Jobs another live process of this folder was running (not done here). */
  elsewhere: string[];
}

const describeOwner = (o: LockOwner | null) => (o ? `pid ${o.pid} on ${o.host} since ${o.started}` : "finished meanwhile");

export async function runSweep(spec: SweepSpec, opts: SweepOptions): Promise<SweepSummary> {
  const log = opts.log ?? ((l: string) => console.error(l));
  ensureDir(opts.outDir);
  const shard = opts.shard ?? { index: 0, count: 1 };
  writeFileAtomic(join(opts.outDir, `sweep-${spec.name}-${shard.index}of${shard.count}.json`), JSON.stringify({ spec, shard }, null, 2));
  const store = new ResultStore(opts.outDir);
  const jobs = shardJobs(expandSweep(spec), shard);
  const todo = jobs.filter((j) => !store.has(j.key));
  const summary: SweepSummary = { total: jobs.length, skipped: jobs.length - todo.length, done: 0, failed: [], rows: [], elsewhere: [] };
  if (summary.skipped) log(`${spec.name}: ${summary.skipped} of ${jobs.length} jobs already in ${store.file}, skipping them`);

  const bar =
    opts.progress === false
      ? null
      : new cliProgress.SingleBar(
          { format: `${spec.name} {bar} {value}/{total} jobs | {job}`, noTTYOutput: true, notTTYSchedule: 10_000, stream: process.stderr },
          cliProgress.Presets.shades_classic,
        );
  bar?.start(todo.length, 0, { job: "" });
  for (const job of todo) {
    bar?.update({ job: job.key });
    // Another writer of this folder (a shard, a rerun) may have done or started the job meanwhile.
    store.refresh();
    const held = store.has(job.key) ? null : claim(opts.outDir, job.key, `${spec.name} ${job.key}`);
    if (!held) {
      if (store.has(job.key)) summary.skipped++;
      else {
        summary.elsewhere.push(job.key);
        log(`${job.key}: running in another process (${describeOwner(claimOwner(opts.outDir, job.key))}), left to it`);
      }
      bar?.increment();
      continue;
    }
    const runner = opts.runners[job.kind];
    try {
      if (!runner) throw new Error(`no runner for job kind "${job.kind}"`);
      const r = await runner(job);
      const row: Row = {
        ...provenance({ backend: r.backend ?? job.backend, threads: r.threads, device: r.device }),
        kind: job.kind,
        key: job.key,
        model: job.model,
        model_id: r.modelId,
        depth: r.depth ?? "",
        temporal: r.temporal ?? "",
        frames: job.frames,
        size: job.size,
        batch: job.batch,
        dataset: job.dataset,
        seed: job.seed,
        ...r.metrics,
        note: r.note ?? "",
      };
      store.add(row);
      summary.rows.push(row);
      summary.done++;
    } catch (e) {
      // Nothing more can be written when the disk is full: stop with the one-line reason.
      if (e instanceof WriteError) throw e;
      const error = (e as Error).message ?? String(e);
      summary.failed.push({ key: job.key, error });
      const errors = join(opts.outDir, "errors.jsonl");
      const line = `${JSON.stringify({ key: job.key, error, date: new Date().toISOString() })}\n`;
      try {
        appendFileSync(errors, line);
      } catch (w) {
        throw writeError(w, errors, line.length);
      }
      log(`FAILED ${job.key}: ${error}`);
    } finally {
      held.release();
    }
    bar?.increment();
  }
  bar?.stop();
  return summary;
}
