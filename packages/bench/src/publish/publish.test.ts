import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { provenance } from "@blvnet/train";
import { describe, expect, it } from "vitest";
import type { Row } from "../sweep/rows.js";
import { type Runner, runSweep } from "../sweep/run.js";
import { parseShard, type SweepSpec } from "../sweep/spec.js";
import { readRows, writeRows } from "../sweep/store.js";
import { mergeRuns, publish } from "./publish.js";

function row(kind: "profile" | "speed" | "accuracy", frames: number, metrics: Row, extra: Row = {}): Row {
  const key = `${kind}|blvnet-tam|depth=50|f${frames}|s224|b1|${extra.backend ?? "analytic"}||seed${extra.seed ?? ""}`;
  return {
    ...provenance({ backend: String(extra.backend ?? "analytic") }),
    kind,
    key,
    model: "blvnet-tam",
    model_id: `blvnet-tam-50-a2-b4-f${frames / 2}x2`,
    depth: 50,
    temporal: "tam",
    frames,
    size: 224,
    batch: 1,
    dataset: "",
    seed: "",
    ...metrics,
    ...extra,
  };
}

function runDir(rows: Row[]): string {
  const dir = mkdtempSync(join(tmpdir(), "blvnet-run-"));
  writeRows(join(dir, "results.csv"), rows);
  return dir;
}

describe("publish", () => {
  const profile16 = row("profile", 16, { params: 25020142, macs: 23.851303e9, saved_activation_bytes: 743.184082 * 2 ** 20 });
  const profile32 = row("profile", 32, { params: 25020142, macs: 47.702606e9, saved_activation_bytes: 1485.90918 * 2 ** 20 });
  const speed16 = row("speed", 16, { latency_ms: 812.5, clips_per_s: 1.23 }, { backend: "ort" });
  const acc = [0, 1, 2].map((seed) => row("accuracy", 16, { top1: 60 + seed, top5: 90 }, { backend: "wasm", seed, dataset: "synthetic" }));
  acc.forEach((r, i) => (r.key = `accuracy|seed${i}`));

  it("merges shards into the same rows as one run, sorted by key", () => {
    const whole = mergeRuns([runDir([profile16, profile32, speed16, ...acc])]).rows;
    const sharded = mergeRuns([runDir([profile32, acc[1]]), runDir([speed16, profile16, acc[0], acc[2]])]).rows;
    expect(sharded).toEqual(whole);
    expect(whole).toHaveLength(6);
  });

  it("rejects duplicate keys, rows without provenance and rows without their metrics", () => {
    expect(() => mergeRuns([runDir([profile16]), runDir([profile16])])).toThrow(/duplicate row/);
    expect(() => mergeRuns([runDir([{ ...profile16, git_commit: "" }])])).toThrow(/missing git_commit/);
    expect(() => mergeRuns([runDir([{ ...speed16, latency_ms: "" }])])).toThrow(/speed row without a numeric latency_ms/);
    expect(() => mergeRuns(["/nonexistent/run"])).toThrow(/no results.csv/);
  });

  it("writes the CSV, tables next to the official figures, plots and a report", () => {
    const out = mkdtempSync(join(tmpdir(), "blvnet-pub-"));
    const res = publish({ runDirs: [runDir([profile16, profile32, speed16, ...acc])], outDir: out });
    for (const f of [
      "results.csv",
      "tables.md",
      "report.html",
      "accuracy-vs-gflops.svg",
      "memory-vs-frames.svg",
      "throughput-vs-frames.svg",
    ]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    expect(readRows(join(out, "results.csv"))).toHaveLength(6);
    expect(res.files.length).toBeGreaterThanOrEqual(6);
    const md = readFileSync(join(out, "tables.md"), "utf8");
    // our profile row sits next to the official count of the same config (blvnet-tam-50-f8x2 = 23.851 GMACs)
    expect(md).toMatch(/\| blvnet-tam-50-a2-b4-f8x2 \| 16 \| 224 \| 25.02 \| 23.851 \| 743.2 \| 25.02 \| 23.851 \| 743.2 \| 0.00% \|/);
    expect(md).toMatch(/61.0 ± 1.0/); // mean ± std over the three seeds
    expect(md).toMatch(/IBM\/bLVNet-TAM README/); // published figures
    const svg = readFileSync(join(out, "accuracy-vs-gflops.svg"), "utf8");
    expect(svg).toMatch(/bLVNet-TAM \(published, SSv1\)/);
  });

  it("replaces its whole output set at once, and refuses a folder holding files it did not write", () => {
    const out = mkdtempSync(join(tmpdir(), "blvnet-pub-"));
    publish({ runDirs: [runDir([profile16, profile32, speed16, ...acc])], outDir: out });
    publish({ runDirs: [runDir([profile16])], outDir: out });
    expect(readRows(join(out, "results.csv"))).toHaveLength(1);
    writeFileSync(join(out, "notes.txt"), "mine");
    expect(() => publish({ runDirs: [runDir([profile16])], outDir: out })).toThrow(
      /holds files publish did not write \(notes.txt\); choose another --out/,
    );
    expect(readFileSync(join(out, "notes.txt"), "utf8")).toBe("mine");
  });

  it("on a full disk fails with one line and leaves the earlier set as it was, no temp files", (ctx) => {
    const disk = mkdtempSync(join(tmpdir(), "blvnet-disk-"));
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", disk], { stdio: "ignore" });
    } catch {
      ctx.skip("needs root to mount a small tmpfs");
    }
    try {
      const out = join(disk, "pub");
      publish({ runDirs: [runDir([profile16])], outDir: out });
      const before = readFileSync(join(out, "results.csv"), "utf8");
      writeFileSync(join(disk, "filler"), Buffer.alloc(200 * 1024 - 4096 * 8));
      const big = Array.from({ length: 400 }, (_, i) => ({ ...profile16, key: `profile|big${i}`, note: "x".repeat(400) }));
      expect(() => publish({ runDirs: [runDir(big)], outDir: out })).toThrow(/^cannot write .*: no space left on the device/);
      expect(readFileSync(join(out, "results.csv"), "utf8")).toBe(before);
      expect(readdirSync(disk).sort()).toEqual(["filler", "pub"]);
    } finally {
      execFileSync("umount", [disk]);
    }
  });
});

describe("publishing sweeps", () => {
  const spec: SweepSpec = {
    name: "test",
    kinds: ["profile"],
    frames: [8, 16],
    sizes: [64],
    batches: [1],
    backends: ["analytic"],
    models: [
      { model: "blvnet-tam", options: { depth: 50 } },
      { model: "tsm", options: { depth: 50 } },
      { model: "tsn", options: { depth: 50 } },
    ],
  };
  /** A deterministic stand-in for the profile runner. */
  const runProfile: Runner = async (job) => {
    const n = job.key.length * 1000 + job.frames;
    return {
      modelId: `${job.model}-f${job.frames}`,
      backend: "analytic",
      threads: 1,
      metrics: { params: n, macs: 7 * n, saved_activation_bytes: 11 * n },
    };
  };
  const tmp = () => mkdtempSync(join(tmpdir(), "blvnet-sweep-"));
  const measured = (rows: Row[]) => rows.map((r) => [r.key, r.model_id, r.params, r.macs, r.saved_activation_bytes].join("|")).sort();

  it("publishes two shards as the same rows as one unsharded run", async () => {
    const whole = tmp();
    const s0 = tmp();
    const s1 = tmp();
    await runSweep(spec, { outDir: whole, runners: { profile: runProfile }, progress: false });
    await runSweep(spec, { outDir: s0, shard: parseShard("0/2"), runners: { profile: runProfile }, progress: false });
    await runSweep(spec, { outDir: s1, shard: parseShard("1/2"), runners: { profile: runProfile }, progress: false });
    expect(readRows(join(s0, "results.csv")).length).toBe(3);
    expect(measured(mergeRuns([s0, s1]).rows)).toEqual(measured(mergeRuns([whole]).rows));
  });
});
