import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { acquireLock, claim } from "@blvnet/io";
import { describe, expect, it } from "vitest";
import { mergeRuns, publish } from "../publish/publish.js";
import { runProfile } from "../runners/profile.js";
import { type Runner, runSweep } from "./run.js";
import { parseShard, type SweepSpec } from "./spec.js";
import { readRows, readStore } from "./store.js";

const tmp = () => mkdtempSync(join(tmpdir(), "blvnet-store-"));

const spec: SweepSpec = {
  name: "many",
  kinds: ["profile"],
  frames: [4, 8, 16, 32],
  sizes: [32, 64],
  batches: [1],
  backends: ["analytic"],
  models: [
    { model: "tsn", options: { depth: 50, width: 8 } },
    { model: "tsm", options: { depth: 50, width: 8 } },
  ],
};

/** A runner that yields to the other writers between jobs, and counts what it ran. */
function interleaving(ran: string[]): Runner {
  return async (job) => {
    ran.push(job.key);
    await new Promise((r) => setImmediate(r));
    return runProfile(job);
  };
}

describe("one run folder, several writers", () => {
  it("two shards writing into one folder at once lose no row", async () => {
    const dir = tmp();
    const ran: string[] = [];
    const [a, b] = await Promise.all(
      ["0/2", "1/2"].map((s) =>
        runSweep(spec, { outDir: dir, shard: parseShard(s), runners: { profile: interleaving(ran) }, progress: false }),
      ),
    );
    expect(a.done + b.done).toBe(16);
    expect(readStore(dir).rows).toHaveLength(16);
    expect(readRows(join(dir, "results.csv"))).toHaveLength(16);
    expect(mergeRuns([dir]).rows).toHaveLength(16);
    expect(readdirSync(join(dir, "rows"))).toHaveLength(2);
  });

  it("two identical runs at once do every job once", async () => {
    const dir = tmp();
    const ran: string[] = [];
    const both = await Promise.all(
      [0, 1].map(() => runSweep(spec, { outDir: dir, runners: { profile: interleaving(ran) }, progress: false })),
    );
    expect(ran.sort()).toEqual([...new Set(ran)].sort());
    expect(ran).toHaveLength(16);
    expect(both[0]!.done + both[1]!.done).toBe(16);
    expect(both[0]!.elsewhere.length + both[1]!.elsewhere.length + both[0]!.skipped + both[1]!.skipped).toBe(16);
    expect(readStore(dir).rows).toHaveLength(16);
  });

  it("a row line cut short by a kill is skipped, counted and reported by publish", async () => {
    const dir = tmp();
    await runSweep({ ...spec, frames: [8] }, { outDir: dir, runners: { profile: runProfile }, progress: false });
    const [file] = readdirSync(join(dir, "rows"));
    writeFileSync(join(dir, "rows", "killed.jsonl"), '{"kind":"profile","key":"cut');
    const stored = readStore(dir);
    expect(stored.rows).toHaveLength(4);
    expect(stored.unreadable).toEqual([`${join(dir, "rows", "killed.jsonl")}:1`]);
    const res = publish({ runDirs: [dir], outDir: join(dir, "pub") });
    expect(res.rows).toHaveLength(4);
    expect(res.unreadable).toHaveLength(1);
    expect(
      readFileSync(join(dir, "rows", file!), "utf8")
        .trim()
        .split("\n"),
    ).toHaveLength(4);
  });

  it("a claim or lock left by a dead process is taken over; a live one is refused with one line", () => {
    const dir = tmp();
    const dead = { pid: 2 ** 22 + 12345, host: hostname(), started: "2026-01-01T00:00:00Z", what: "train" };
    writeFileSync(join(dir, ".lock"), JSON.stringify(dead));
    const lock = acquireLock(dir, "train");
    expect(() => acquireLock(dir, "train")).toThrow(
      new RegExp(
        `^${dir} is being written by pid ${process.pid} on ${hostname()} \\(train, since .*\\); wait for it to finish or choose another output folder$`,
      ),
    );
    lock.release();
    acquireLock(dir, "train").release();
    const job = claim(dir, "some job");
    expect(job).not.toBeNull();
    expect(claim(dir, "some job")).toBeNull();
    job!.release();
    expect(claim(dir, "some job")).not.toBeNull();
  });
});
