import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { refgenInput } from "@blvnet/core";
import { readCheckpointFile, writeSafetensors } from "@blvnet/io";
import { describe, expect, it } from "vitest";
import { loadGolden, outputValues, type TensorRecord } from "./golden.js";
import { compareRecord, formatResult, verifyFiles, verifyGolden } from "./verify.js";

const golden = (name: string) => new URL(`../../../fixtures/golden/${name}.json`, import.meta.url).pathname;

// The public bLVNet and TAM goldens (the TSM one belongs to the baselines' tests).
const FILES = ["small-blvnet-tam-50-f4x2-64", "small-blvnet-tam-50-f4x2-64-2clips", "tam-c64-t8-bf3", "tam-c64-t8-bf5"];

describe("verify against the official goldens", () => {
  it("passes every bLVNet-TAM and TAM golden within tolerance, stage by stage", async () => {
    const results = await verifyFiles(FILES.map(golden), { stages: true });
    for (const r of results) {
      expect(r.error, r.name).toBeUndefined();
      expect(r.params, r.name).toMatchObject({ ok: true });
      expect(r.maxRelErr, formatResult(r)).toBeLessThanOrEqual(r.tol);
      expect(r.tol).toBe(1e-4);
      expect(r.passed).toBe(true);
      expect(r.firstDiverging, r.name).toBeUndefined();
      expect(
        r.stages!.every((s) => s.basis !== "missing"),
        r.name,
      ).toBe(true);
    }
    expect(results.map((r) => r.model)).toEqual(["blvnet-tam", "blvnet-tam", "tam", "tam"]);
    // the 1-clip golden stores full stage tensors: those must be compared on data, not samples
    expect(results[0].stages!.find((s) => s.name === "layer3_out")!.basis).toBe("data");
  });

  it("runs on a tfjs backend when asked, with the same verdicts and stage taps", async () => {
    const results = await verifyFiles([golden("small-blvnet-tam-50-f4x2-64-2clips"), golden("tam-c64-t8-bf5")], {
      stages: true,
      backend: "wasm",
    });
    for (const r of results) {
      expect(r.backend).toBe("wasm");
      expect(r.passed, formatResult(r)).toBe(true);
      expect(r.firstDiverging).toBeUndefined();
    }
  });

  it("fails a wrong output and names the first state_dict mismatch", async () => {
    const g = loadGolden(golden("tam-c64-t8-bf3"));
    g.params[1] = { ...g.params[1], key: "nxt.weight" };
    const data = Buffer.from(g.output.data_f32_b64!, "base64");
    data.writeFloatLE(data.readFloatLE(400) + 0.01, 400);
    g.output.data_f32_b64 = data.toString("base64");
    const r = await verifyGolden(g);
    expect(r.passed).toBe(false);
    expect(r.maxRelErr).toBeGreaterThan(1e-4);
    expect(r.params.firstMismatch).toMatch(/entry #1: golden nxt.weight \[64,1,1,1\], model next.weight/);
  });

  it("reports a golden that no model builds as a failed result, and still runs the others", async () => {
    const g = loadGolden(golden("tam-c64-t8-bf3"));
    const dir = mkdtempSync(join(tmpdir(), "verify-"));
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ ...g, family: "nonesuch" }));
    const [r, ok] = await verifyFiles([bad, golden("tam-c64-t8-bf5")]);
    expect(r.passed).toBe(false);
    expect(r.error).toMatch(/no model builds golden family "nonesuch"/);
    expect(formatResult(r)).toMatch(/^FAIL tam-c64-t8-bf3 /);
    expect(ok.passed).toBe(true);
    rmSync(dir, { recursive: true });
  });
});

describe("the Something-Something TSM golden (16 frames, 160x160, 2 clips, 174 classes)", () => {
  const file = golden("tsm-r50-16f-160-2clips");

  it("stores the input as stats + samples only, which the refgen-v1 input verify feeds reproduces", () => {
    const g = loadGolden(file);
    expect(g.input.shape).toEqual([2, 48, 160, 160]);
    expect(g.input.data_f32_b64).toBeUndefined();
    const x = refgenInput(g.input.shape);
    expect(g.input.samples.index.map((i) => x[i])).toEqual(g.input.samples.values);
    let sum = 0;
    let sumSq = 0;
    for (const v of x) {
      sum += v;
      sumSq += v * v;
    }
    expect(x.length).toBe(g.input.stats.numel);
    expect(Math.abs(sum - g.input.stats.sum)).toBeLessThan(1e-9 * g.input.stats.sum_abs);
    expect(Math.abs(sumSq - g.input.stats.sum_sq)).toBeLessThan(1e-9 * g.input.stats.sum_sq);
  });

  it("passes on onnxruntime, stage by stage (on samples), with the full logits compared", async () => {
    const [r] = await verifyFiles([file], { stages: true });
    expect(r.error).toBeUndefined();
    expect(r.model).toBe("tsm");
    expect(r.id).toBe("tsm-r50-s8-blockres-f16");
    expect(r.params).toMatchObject({ ok: true, count: 267 });
    expect(r.passed, formatResult(r)).toBe(true);
    expect(r.firstDiverging).toBeUndefined();
    expect(r.stages!.map((s) => `${s.name}:${s.basis}`)).toEqual(
      ["stem_out", "layer1_out", "layer2_out", "layer3_out", "layer4_out", "pool", "frame_logits"].map((s) => `${s}:samples`),
    );
    expect(outputValues(loadGolden(file)).length).toBe(2 * 174);
  });
});

describe("verify --weights: a checkpoint holding the golden's weights gives the golden's output", () => {
  const ckpt = (v: string) => new URL(`../../../fixtures/golden/checkpoints/small-blvnet-layer0-${v}.pth.tar`, import.meta.url).pathname;
  const file = golden("small-blvnet-tam-50-f4x2-64-2clips");

  it.each(["zip", "legacy"])(
    "passes with the official-format %s checkpoint (stem, layer0 and first TAM; the rest generated)",
    async (v) => {
      const warnings: string[] = [];
      const [r] = await verifyFiles([file], { weights: ckpt(v), allowMissing: true, warn: (m) => warnings.push(m) });
      expect(r.error).toBeUndefined();
      expect(r.params.ok).toBe(true);
      expect(r.passed).toBe(true);
      expect(warnings.join(" ")).toMatch(/weights keep their initial values/);
    },
  );

  it("refuses a partial checkpoint without --allow-missing, and fails one whose values differ from the golden's", async () => {
    const [partial] = await verifyFiles([file], { weights: ckpt("zip") });
    expect(partial.passed).toBe(false);
    expect(partial.error).toMatch(/refusing to run with \d+ weights left uninitialised \(allow with --allow-missing\)/);
    const dir = mkdtempSync(join(tmpdir(), "verify-weights-"));
    const { tensors } = readCheckpointFile(ckpt("zip"));
    const w = tensors.get("baseline_model.conv1.weight")!.data as Float32Array;
    w[0] += 0.01;
    const changed = join(dir, "changed.safetensors");
    writeSafetensors(changed, tensors);
    const [r] = await verifyFiles([file], { weights: changed, allowMissing: true, warn: () => {} });
    expect(r.passed).toBe(false);
    expect(r.params.firstMismatch).toMatch(/^baseline_model\.conv1\.weight: generated sum/);
    await expect(verifyFiles([file], { weights: join(dir, "nope.pth") })).rejects.toThrow(
      /nope\.pth: cannot read checkpoint \(no such file\)/,
    );
    rmSync(dir, { recursive: true });
  });
});

describe("golden files are checked for internal consistency", () => {
  const dir = mkdtempSync(join(tmpdir(), "golden-"));
  const write = (name: string, g: unknown) => {
    const path = join(dir, `${name}.json`);
    writeFileSync(path, JSON.stringify(g));
    return path;
  };
  const base = () => JSON.parse(JSON.stringify(loadGolden(golden("small-tsm-r50-8f-64-2clips"))));

  it("refuses an output shape that disagrees with its values", () => {
    const g = base();
    g.output.shape = [2, 11];
    expect(() => loadGolden(write("shape", g))).toThrow(/output.values holds 20 numbers, its shape \[2,11\] needs 22/);
  });

  it("refuses stored data of the wrong size and stats that disagree with the shape", () => {
    const tam = JSON.parse(JSON.stringify(loadGolden(golden("tam-c64-t8-bf3"))));
    tam.output.shape = [16, 64, 14, 13];
    expect(() => loadGolden(write("tam", tam))).toThrow(/output.stats.numel disagrees with its shape/);
    tam.output.shape = [16, 64, 14, 14];
    tam.output.data_f32_b64 = tam.output.data_f32_b64.slice(0, 400);
    expect(() => loadGolden(write("tam2", tam))).toThrow(/output.data_f32_b64 holds 300 bytes, its shape \[16,64,14,14\] needs 802816/);
  });

  it("refuses a config that does not build a model of the golden's input shape", async () => {
    const g = base();
    g.config.resolution = 32;
    const [r] = await verifyFiles([write("config", g)]);
    expect(r.passed).toBe(false);
    expect(r.error).toMatch(/takes input \[2,24,32,32\], but the golden input is \[2,24,64,64\]; is the config complete\?/);
  });
});

describe("stage comparison", () => {
  // rows 2k and 2k+1 equal; the golden stores rows 0, 2 only (data_rows step 2)
  const ours = Float32Array.from([1, 2, 1, 2, 3, -4, 3, -4]);
  const record = (stored: number[]): TensorRecord => ({
    shape: [4, 2],
    stats: { numel: 8, sum: 0, sum_abs: 0, sum_sq: 0, min: -4, max: 3 },
    samples: { index: [0, 5], values: [1, -4] },
    data_f32_b64: Buffer.from(Float32Array.from(stored).buffer).toString("base64"),
    data_rows: { step: 2 },
  });

  it("compares the stored rows of a step-2 record", () => {
    expect(compareRecord("s", ours, record([1, 2, 3, -4]))).toMatchObject({ maxRelErr: 0, basis: "data" });
    expect(compareRecord("s", ours, record([1, 2, 3, -3])).maxRelErr).toBeCloseTo(1 / 4);
  });

  it("falls back to samples and flags a size mismatch", () => {
    const { data_f32_b64: _, data_rows: __, ...noData } = record([]);
    expect(compareRecord("s", ours, noData)).toMatchObject({ maxRelErr: 0, basis: "samples" });
    expect(compareRecord("s", ours.subarray(0, 6), noData).maxRelErr).toBe(Infinity);
  });
});
