import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { validateRow } from "./rows.js";
import { type Runner, runSweep } from "./run.js";
import { expandSweep, type Job, parseShard, type SweepSpec, shardJobs } from "./spec.js";
import { readRows, readStore } from "./store.js";

const tmp = () => mkdtempSync(join(tmpdir(), "blvnet-sweep-"));

/** A deterministic stand-in for the profile runner (the real runners are tested end to end through `blvnet reproduce`). */
const runProfile: Runner = async (job: Job) => {
  const n = job.key.length * 1000 + job.frames;
  return {
    modelId: `${job.model}-f${job.frames}`,
    backend: "analytic",
    threads: 1,
    metrics: { params: n, macs: 7 * n, saved_activation_bytes: 11 * n },
  };
};

/** A small sweep: three model families over two frame counts. */
const spec: SweepSpec = {
  name: "test",
  kinds: ["profile"],
  frames: [8, 16],
  sizes: [64],
  batches: [1],
  backends: ["analytic"],
  models: [
    { model: "blvnet-tam", options: { depth: 50, width: 16 } },
    { model: "tsm", options: { depth: 50, width: 16 } },
    { model: "tsn", options: { depth: 50, width: 16 } },
  ],
};

describe("sweeps", () => {
  it("expands a spec into unique, stably ordered keys and shards it into disjoint slices", () => {
    const jobs = expandSweep(spec);
    expect(jobs).toHaveLength(6);
    expect(new Set(jobs.map((j) => j.key)).size).toBe(6);
    expect(expandSweep(spec).map((j) => j.key)).toEqual(jobs.map((j) => j.key));
    const a = shardJobs(jobs, parseShard("0/2"));
    const b = shardJobs(jobs, parseShard("1/2"));
    expect([...a, ...b].map((j) => j.key).sort()).toEqual(jobs.map((j) => j.key).sort());
    expect(() => parseShard("2/2")).toThrow(/--shard/);
    expect(() => parseShard("x")).toThrow(/--shard/);
  });

  it("writes one valid row per job with provenance", async () => {
    const dir = tmp();
    const s = await runSweep(spec, { outDir: dir, runners: { profile: runProfile }, progress: false });
    expect(s.failed).toEqual([]);
    const rows = readRows(join(dir, "results.csv"));
    expect(rows).toHaveLength(6);
    for (const r of rows) expect(validateRow(r, "row")).toEqual([]);
    expect(rows.every((r) => r.git_commit && r.date && r.device)).toBe(true);
  });

  it("resumes a sweep killed (-9) inside a job without redoing finished rows", async () => {
    const dir = tmp();
    // A real process that finishes 2 jobs, then is killed inside the third (its claim is left behind).
    const script = [
      'import { runSweep, runProfile } from "@blvnet/bench";',
      `const spec = ${JSON.stringify(spec)};`,
      "let calls = 0;",
      'const dying = (job) => (++calls <= 2 ? runProfile(job) : process.kill(process.pid, "SIGKILL"));',
      `await runSweep(spec, { outDir: ${JSON.stringify(dir)}, runners: { profile: dying }, progress: false });`,
    ].join("\n");
    const root = fileURLToPath(new URL("../../../../", import.meta.url));
    const child = spawnSync(process.execPath, ["--import", "tsx", "--conditions=source", "--input-type=module", "-e", script], {
      cwd: root,
    });
    expect(child.signal).toBe("SIGKILL");
    const before = readStore(dir).rows;
    expect(before).toHaveLength(2);

    const redone: string[] = [];
    const counting: Runner = (job) => {
      redone.push(job.key);
      return runProfile(job);
    };
    const s = await runSweep(spec, { outDir: dir, runners: { profile: counting }, progress: false });
    expect(s.skipped).toBe(2);
    expect(redone).toHaveLength(4);
    for (const r of before) expect(redone).not.toContain(r.key);
    const after = readRows(join(dir, "results.csv"));
    expect(after).toHaveLength(6);
    // the rows of the first process are kept as they were (same dates)
    for (const r of before) expect(after.find((x) => x.key === r.key)?.date).toBe(r.date);
  });
});
