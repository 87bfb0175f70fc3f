/**
 * End-to-end: the three user jobs (reproduce, compare, publish) through the real CLI on tiny
 * settings (narrow models, 4 frames at 32x32, two synthetic classes, one epoch).
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SweepSpec } from "@blvnet/bench";
import { readRows } from "@blvnet/bench";
import { synthesize } from "@blvnet/data";
import { beforeAll, describe, expect, it } from "vitest";
import { main } from "../cli.js";

const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));
const tiny = { depth: 50, width: 8 };
let data: string;
let work: string;

async function cli(...args: string[]): Promise<number> {
  process.exitCode = undefined;
  const code = await main(["node", "blvnet", "--backend", "cpu", ...args]);
  const exit = code || (typeof process.exitCode === "number" ? process.exitCode : 0);
  process.exitCode = undefined;
  return exit;
}

beforeAll(async () => {
  data = join(tmp("blvnet-data-"), "synthetic");
  await synthesize(data, { classes: ["move-left", "move-right"], train: 4, val: 2, frames: 4, size: 32, seed: 1 });
  work = tmp("blvnet-jobs-");
});

describe("reproduce, compare, publish (tiny)", () => {
  it("reproduce runs a sweep file of all three kinds, resumes, and publishes", async () => {
    const specs: SweepSpec[] = [
      {
        name: "p",
        kinds: ["profile"],
        frames: [4],
        sizes: [32],
        batches: [1],
        backends: ["analytic"],
        models: [
          { model: "blvnet-tam", options: tiny },
          { model: "tsn", options: tiny },
        ],
      },
      {
        name: "s",
        kinds: ["speed"],
        frames: [4],
        sizes: [32],
        batches: [1],
        backends: ["ort"],
        models: [{ model: "tsn", options: tiny }],
        settings: { warmup: 0, iters: 1 },
      },
      {
        name: "a",
        kinds: ["accuracy"],
        frames: [4],
        sizes: [32],
        batches: [4],
        backends: ["cpu"],
        models: [{ model: "tsn", options: tiny }],
        settings: { epochs: 1 },
      },
    ];
    const specFile = join(work, "sweep.json");
    writeFileSync(specFile, JSON.stringify(specs));
    const out = join(work, "run");
    const pub = join(work, "published");
    expect(await cli("reproduce", "--spec", specFile, "--data", data, "--out", out, "--publish", pub, "--no-progress")).toBe(0);
    const rows = readRows(join(out, "results.csv"));
    expect(rows.map((r) => r.kind).sort()).toEqual(["accuracy", "profile", "profile", "speed"]);
    const acc = rows.find((r) => r.kind === "accuracy")!;
    expect(Number(acc.top1)).toBeGreaterThanOrEqual(0);
    expect(acc.backend).toBe("cpu");
    for (const f of ["results.csv", "tables.md", "report.html", "memory-vs-frames.svg"].slice(0, 3))
      expect(existsSync(join(pub, f)), f).toBe(true);

    // a second run finds every row done and redoes nothing
    const before = readFileSync(join(out, "results.csv"), "utf8");
    expect(await cli("reproduce", "--spec", specFile, "--data", data, "--out", out, "--no-publish", "--no-progress")).toBe(0);
    expect(readFileSync(join(out, "results.csv"), "utf8")).toBe(before);

    // publish works on reproduce's output
    const pub2 = join(work, "pub2");
    expect(await cli("publish", out, "--out", pub2)).toBe(0);
    expect(readRows(join(pub2, "results.csv"))).toHaveLength(4);
  });

  it("compare puts TAM, TSM and TSN on equal terms in one table", async () => {
    const out = join(work, "compare");
    const code = await cli(
      "compare",
      "tam",
      "tsm",
      "--data",
      data,
      "--width",
      "8",
      "--frames",
      "4",
      "--size",
      "32",
      "--seeds",
      "1",
      "--epochs",
      "1",
      "--batch",
      "4",
      "--out",
      out,
      "--no-progress",
    );
    expect(code).toBe(0);
    const md = readFileSync(join(out, "compare.md"), "utf8");
    for (const id of ["tam-r18-w8-bf3-f4", "tsm-r18-w8-s8-blockres-f4", "tsn-r18-w8-f4"]) expect(md).toContain(id);
    expect(md).toContain("vs TSN (paired, 95% CI)");
    const rows = readRows(join(out, "results.csv"));
    expect(rows.filter((r) => r.kind === "accuracy")).toHaveLength(3);
    expect(rows.filter((r) => r.kind === "profile")).toHaveLength(3);
    expect(
      new Set(rows.filter((r) => r.kind === "accuracy").map((r) => `${r.frames}|${r.size}|${r.batch}|${r.seed}|${r.dataset}`)).size,
    ).toBe(1);
    expect(readFileSync(join(out, "compare.svg"), "utf8")).toMatch(/^<svg/);
  });

  it("compare --levels sweeps the in-memory synthetic benchmark: a level column in every accuracy row, levels.md/csv/svg", async () => {
    const out = join(work, "levels");
    const args = [
      "--classes",
      "move-left,move-right",
      "--per-class",
      "4",
      "--val-per-class",
      "2",
      "--frames",
      "4",
      "--seeds",
      "0,1",
      "--epochs",
      "1",
      "--batch",
      "4",
    ];
    expect(await cli("compare", "tam", "--levels", "0,4", ...args, "--out", out, "--no-progress")).toBe(0);
    const acc = readRows(join(out, "results.csv")).filter((r) => r.kind === "accuracy");
    expect(acc.map((r) => `${r.model} ${r.dataset} ${r.level} ${r.seed}`).sort()).toEqual([
      "tam-resnet synthetic-l0-c2 0 0",
      "tam-resnet synthetic-l0-c2 0 1",
      "tam-resnet synthetic-l4-c2 4 0",
      "tam-resnet synthetic-l4-c2 4 1",
      "tsn synthetic-l0-c2 0 0",
      "tsn synthetic-l0-c2 0 1",
      "tsn synthetic-l4-c2 4 0",
      "tsn synthetic-l4-c2 4 1",
    ]);
    const md = readFileSync(join(out, "levels.md"), "utf8");
    expect(md).toContain("0 clean: top-1 (pair)");
    expect(md).toContain("4 colours: top-1 (pair)");
    expect(readFileSync(join(out, "levels.svg"), "utf8")).toMatch(/^<svg/);
    // the comparison of the last level, with the paired difference to TSN over both seeds
    expect(readFileSync(join(out, "compare.md"), "utf8")).toMatch(/\| tam-r18-w8-bf3-f4 \| tam \| 2 \|.*\| [+-]\d+\.\d \[/);
  });

  it("rejects bad arguments with one-line errors", async () => {
    expect(await cli("reproduce", "--parts", "profile,nope", "--no-progress")).toBe(2);
    expect(await cli("reproduce", "--shard", "3/2", "--parts", "profile", "--no-progress")).toBe(2);
    expect(await cli("compare", "xyz")).toBe(2);
    expect(await cli("publish", join(work, "missing"))).toBe(2);
  });
});
