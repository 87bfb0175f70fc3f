// `blvnet profile` end to end through the CLI (shape-only, so every case runs in well under a second).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { runCli as cli } from "../run-cli.js";

const COUNTS = new URL("../../../../results/reference/counts.csv", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "blvnet-profile-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
});

const csv = (text: string) => parse(text, { columns: true, skip_empty_lines: true }) as Record<string, string>[];

describe("blvnet profile --reference-configs", () => {
  it("prints one CSV row per configuration of counts.csv", async () => {
    const r = await cli("profile", "--reference-configs", "--format", "csv", "--counts", COUNTS);
    expect(r.code).toBe(0);
    const rows = csv(r.out);
    expect(Object.keys(rows[0])).toEqual(["config", "params", "macs", "saved_activation_bytes"]);
    expect(rows.map((x) => x.config)).toEqual(csv(readFileSync(COUNTS, "utf8")).map((x) => x.model));
    expect(rows.find((x) => x.config === "tsn-r50-8f")).toEqual({
      config: "tsn-r50-8f",
      params: "23864558",
      macs: "32699940864",
      saved_activation_bytes: "687706560",
    });
  });

  it("--check passes on the official counts and fails (exit 1) on a wrong one", async () => {
    const ok = await cli("profile", "--reference-configs", "--check", "--format", "csv", "--counts", COUNTS);
    expect(ok.code).toBe(0);
    expect(ok.err).toMatch(/all 19 configurations within tolerance/);
    expect(csv(ok.out).every((x) => x.ok === "1")).toBe(true);

    const bad = join(tmp, "bad-counts.csv");
    const text = readFileSync(COUNTS, "utf8").replace(/^(tsm-r50-8f,[^,]*,[^,]*,)23\.864558,/m, "$124.1,");
    writeFileSync(bad, text);
    const failed = await cli("profile", "--reference-configs", "--check", "--counts", bad);
    expect(failed.code).toBe(1);
    expect(failed.err).toMatch(/1 of 19 configurations outside tolerance: tsm-r50-8f/);
    expect(failed.out).toMatch(/tsm-r50-8f .* FAIL/);
  });
});

describe("blvnet profile MODEL", () => {
  it("profiles a registry model with options, per clip and per batch, with a module breakdown", async () => {
    const r = await cli(
      "profile",
      "tsn",
      "--frames",
      "8",
      "--opt",
      "numClasses=174",
      "--opt",
      "dropout=0",
      "--batch",
      "2",
      "--by-module",
      "2",
      "--format",
      "json",
    );
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({
      model_id: "tsn-r50-f8",
      input_shape: "2x24x224x224",
      batch: 2,
      params: 23_864_558,
      macs: 2 * 32_699_940_864,
    });
    const modules = j.modules as { module: string; macs: number; saved_activation_bytes: number }[];
    expect(modules.map((m) => m.module)).toContain("base_model.layer3");
    expect(modules.reduce((a, m) => a + m.macs, 0)).toBe(j.macs);
    expect(modules.reduce((a, m) => a + m.saved_activation_bytes, 0)).toBe(j.saved_activation_bytes);
  });

  it("accepts an official configuration name and prints a readable table", async () => {
    const r = await cli("profile", "blvnet-tam-50-f8x2");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/blvnet-tam-50-a2-b4-f8x2, input 1x48x224x224/);
    expect(r.out).toMatch(/multiply-accumulates\s+23\.851\s+23\.851\s+G/);
    expect(r.out).toMatch(/saved for backward \(train step\)\s+743\.184/);
  });

  it("explains bad input in one line (exit 2)", async () => {
    for (const [args, msg] of [
      [["profile", "resnet-9000"], /unknown model "resnet-9000"/],
      [["profile", "tsn", "--batch", "0"], /--batch must be a positive integer/],
      [["profile", "tsn", "--format", "xml"], /--format must be one of/],
      [["profile", "tsn", "--opt", "depth"], /--opt depth: expected key=value/],
      [["profile", "tsn", "--check"], /--check only applies to --reference-configs/],
      [["profile"], /name a model to profile/],
    ] as const) {
      const r = await cli(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err).toMatch(msg);
    }
  });
});

describe("blvnet profile --tables", () => {
  it("writes the FLOPs and memory-vs-frames tables as Markdown and CSV", async () => {
    const dir = join(tmp, "results");
    const r = await cli("profile", "--tables", dir, "--counts", COUNTS);
    expect(r.code).toBe(0);
    const flops = csv(readFileSync(join(dir, "profile-flops.csv"), "utf8"));
    const official = flops.filter((x) => x.official_macs !== "");
    expect(official.length).toBe(19);
    for (const x of official) expect(Math.abs(Number(x.macs) / Number(x.official_macs) - 1)).toBeLessThan(1e-3);
    const memory = csv(readFileSync(join(dir, "memory-vs-frames.csv"), "utf8"));
    expect(memory.length).toBe(2 * 6 * 3);
    const at = (model: string, frames: number) =>
      Number(memory.find((x) => x.model === model && x.depth === "50" && Number(x.frames) === frames)!.saved_activation_bytes);
    expect(at("tsn", 16) / at("blvnet-tam", 16)).toBeGreaterThan(1.5); // the paper's "less memory"
    expect(at("blvnet-tam", 64) / (4 * at("blvnet-tam", 16))).toBeCloseTo(1, 3); // linear in frames but for per-channel BN stats
    const md = readFileSync(join(dir, "memory-vs-frames.md"), "utf8");
    expect(md).toMatch(/^# Training memory/);
    expect(md).toMatch(/\| 16 \| 743\.2 \| 1311\.3 \| 1654\.3 \|/);
  });
});
