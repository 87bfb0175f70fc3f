/**
 * End to end through the CLI (in process) on a tiny synthetic dataset and a tiny model registered
 * only here: a run stopped by --max-steps and resumed ends bit-for-bit where an uninterrupted run
 * ends; a non-finite loss stops with exit 3 and keeps the last good checkpoint; eval writes its
 * reports; fine-tuning to another class count needs --allow-missing; an imported PyTorch
 * checkpoint goes through `eval` like our own files.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "csv-parse/sync";
import { BatchNorm, Conv2d, float, IMAGENET_MEAN, IMAGENET_STD, int, Linear, registerModel, VideoModel, type InputSpec, type Ops } from "@blvnet/core";
import { decodeSafetensors } from "@blvnet/io";
import { synthesize } from "@blvnet/data";
import { runCli } from "./run-cli.js";

/** Two convs with BN, a temporal shift between them, dropout before the classifier: every stateful piece of training. */
class TinyVideoNet extends VideoModel {
  readonly family = "tiny-test";
  readonly id: string;
  readonly inputSpec: InputSpec;
  readonly numClasses: number;
  readonly options: Record<string, unknown>;
  readonly conv1 = new Conv2d(3, 8, 3, { stride: 2, padding: 1 });
  readonly bn1 = new BatchNorm(8);
  readonly conv2 = new Conv2d(8, 8, 3, { stride: 2, padding: 1 });
  readonly bn2 = new BatchNorm(8);
  readonly fc: Linear;

  constructor(readonly o: { frames: number; size: number; numClasses: number; dropout: number }) {
    super();
    this.numClasses = o.numClasses;
    this.options = { ...o };
    this.id = `tiny-test-f${o.frames}-c${o.numClasses}`;
    this.inputSpec = { layout: "N(TC)HW", frames: o.frames, size: o.size, channels: 3, mean: IMAGENET_MEAN, std: IMAGENET_STD };
    this.fc = new Linear(8, o.numClasses);
  }

  forward<T>(ops: Ops<T>, x: T): T {
    let y = ops.relu(this.bn1.forward(ops, this.conv1.forward(ops, ops.clipsToFrames(x, this.o.frames))));
    const c = ops.shape(y)[1]!;
    y = ops.concatChannels([ops.timeShift(ops.sliceChannels(y, 0, c / 2), this.o.frames, 1), ops.sliceChannels(y, c / 2, c)]);
    y = ops.relu(this.bn2.forward(ops, this.conv2.forward(ops, y)));
    const f = ops.dropout(ops.globalAvgPool(y), this.o.dropout, this.training);
    return ops.segmentMean(this.fc.forward(ops, f), this.o.frames);
  }
}

registerModel({
  name: "tiny-test",
  description: "test-only tiny video net",
  options: { frames: int(4, "frames"), size: int(32, "size"), numClasses: int(2, "classes"), dropout: float(0.5, "dropout") },
  create: (o) => new TinyVideoNet(o),
});

let root: string;
let data: string;
let data3: string;

/** Run the CLI; returns the exit code and what it printed. */
const cli = (...args: string[]) => runCli("--backend", "cpu", ...args);
const cliOn = (backend: string, ...args: string[]) => runCli("--backend", backend, ...args);

const trainArgs = (out: string, { lr = "0.05", clip = ["--clip-grad", "5"] } = {}, ...extra: string[]) => [
  "train", "--model", "tiny-test", "--data", data, "--epochs", "2", "--batch", "3", "--lr", lr, "--warmup-epochs", "0.5", ...clip,
  "--workers", "2", "--no-progress", "--out", out, ...extra,
];

const weightsOf = (run: string) => decodeSafetensors(readFileSync(join(run, "model.safetensors"))).tensors;
const stateOf = (run: string) => {
  const latest = JSON.parse(readFileSync(join(run, "checkpoints", "latest.json"), "utf8")) as { dir: string };
  return decodeSafetensors(readFileSync(join(run, "checkpoints", latest.dir, "train-state.safetensors")));
};

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "blvnet-train-"));
  data = (await synthesize(join(root, "synth"), { classes: ["move-left", "move-right"], train: 4, val: 2, frames: 8, size: 32, seed: 1 })).dir;
  data3 = (await synthesize(join(root, "synth3"), { classes: ["move-left", "move-right", "grow"], train: 1, val: 1, frames: 8, size: 32, seed: 2 })).dir;
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("blvnet train / eval (tiny model, cpu backend)", () => {
  it("a run stopped at --max-steps and resumed ends bit-for-bit like an uninterrupted run", async () => {
    const full = join(root, "full");
    const parts = join(root, "parts");
    const a = await cli(...trainArgs(full));
    expect(a.code, a.err).toBe(0);
    expect(a.out).toMatch(/finished: 6 steps/); // 8 videos, batch 3 -> 3 steps per epoch

    const b1 = await cli(...trainArgs(parts, {}, "--max-steps", "4"));
    expect(b1.code, b1.err).toBe(0);
    expect(b1.out).toMatch(/stopped at --max-steps 4/);
    const b2 = await cli(...trainArgs(parts, {}, "--resume"));
    expect(b2.code, b2.err).toBe(0);
    expect(b2.err).toMatch(/resuming from .*step-00000004: epoch 2, 1 of 3 steps done/);

    const wa = weightsOf(full);
    const wb = weightsOf(parts);
    expect([...wb.keys()]).toEqual([...wa.keys()]);
    for (const [k, t] of wa) expect(wb.get(k)!.data, k).toEqual(t.data);
    const sa = stateOf(full);
    const sb = stateOf(parts);
    for (const [k, t] of sa.tensors) expect(sb.tensors.get(k)!.data, k).toEqual(t.data);
    // BN statistics and dropout were part of it: the run really moved away from its start
    expect(wa.get("bn1.num_batches_tracked")!.data[0]).toBe(6n);
    expect(Math.abs((wa.get("bn1.running_mean")!.data as Float32Array)[0]!)).toBeGreaterThan(0);

    // the step log of the resumed run reads like the uninterrupted one (timings aside)
    const rows = (run: string) => (parse(readFileSync(join(run, "steps.csv"), "utf8"), { columns: true, cast: true }) as Record<string, number>[]).map(({ step, lr, loss, grad_norm }) => ({ step, lr, loss, grad_norm }));
    expect(rows(parts)).toEqual(rows(full));
    expect(rows(full).map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("refuses to overwrite a run and to resume with other settings", async () => {
    const full = join(root, "full");
    expect((await cli(...trainArgs(full))).err).toMatch(/already holds a run; continue it with --resume/);
    const r = await cli(...trainArgs(full, { lr: "0.1" }, "--resume"));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/setting lr was 0.05 in the checkpointed run, now 0.1/);
  });

  it("a non-finite loss stops the run (exit 3) and keeps the last good checkpoint", async () => {
    const run = join(root, "nan");
    const r = await cli(...trainArgs(run, { lr: "1e30", clip: [] }, "--save-every", "1"));
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/training stopped: non-finite (loss|gradient).* at epoch 1, step \d \(lr 1\.000e\+30\); the last good checkpoint is kept: .*step-\d+ \(step \d\)/);
    const latest = JSON.parse(readFileSync(join(run, "checkpoints", "latest.json"), "utf8")) as { step: number };
    expect(latest.step).toBeGreaterThanOrEqual(1);
    for (const [k, t] of weightsOf(run)) if (t.data instanceof Float32Array) expect(t.data.every(Number.isFinite), k).toBe(true);
  });

  it("eval writes summary, predictions, per-class accuracy and the confusion matrix (3 crops x 2 clips)", async () => {
    const out = join(root, "eval");
    const r = await cli("eval", "--model", "tiny-test", "--weights", join(root, "full", "model.safetensors"), "--data", data, "--crops", "3", "--clips", "2", "--out", out, "--no-progress");
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/\(4 videos, 6 view\(s\) each\): top-1 \d+\.\d\d%/);
    expect(r.out).toMatch(/time-reversed pairs: \d+\.\d\d% \(chance 50%\)/);
    const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as { videos: number; top1: number; confusion?: unknown; perClass: unknown[] };
    expect(summary.videos).toBe(4);
    expect(summary.perClass).toHaveLength(2);
    const preds = parse(readFileSync(join(out, "predictions.csv"), "utf8"), { columns: true }) as Record<string, string>[];
    expect(preds).toHaveLength(4);
    expect(preds.filter((p) => p.correct === "1").length / 4).toBeCloseTo(summary.top1, 12);
    expect(readFileSync(join(out, "confusion.svg"), "utf8")).toMatch(/^<svg[^]*move-left[^]*<\/svg>\n$/);
    expect(readFileSync(join(out, "confusion.csv"), "utf8").split("\n")[0]).toBe("true\\pred,move-left,move-right");
  });

  it("eval through ONNX Runtime (--backend ort) agrees with the tfjs interpreter", async () => {
    const weights = join(root, "full", "model.safetensors");
    const run = async (backend: string, out: string) => {
      const r = await cliOn(backend, "eval", "--model", "tiny-test", "--weights", weights, "--data", data, "--out", out, "--no-progress");
      expect(r.code, r.err).toBe(0);
      return parse(readFileSync(join(out, "predictions.csv"), "utf8"), { columns: true, cast: true }) as { id: string; pred: number; prob_pred: number }[];
    };
    const tfjs = await run("cpu", join(root, "eval-tfjs"));
    const ort = await run("ort", join(root, "eval-ort"));
    expect(ort.map((p) => p.id)).toEqual(tfjs.map((p) => p.id));
    ort.forEach((p, i) => expect(Math.abs(p.prob_pred - tfjs[i]!.prob_pred)).toBeLessThan(1e-4));
    expect(JSON.parse(readFileSync(join(root, "eval-ort", "summary.json"), "utf8")).engine).toBe("ort");
  });

  it("fine-tuning to another class count re-initialises the classifier only with --allow-missing", async () => {
    const weights = join(root, "full", "model.safetensors");
    const base = ["train", "--model", "tiny-test", "--data", data3, "--weights", weights, "--epochs", "1", "--batch", "3", "--no-progress"];
    const refused = await cli(...base, "--out", join(root, "ft-refused"));
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/fc.weight expected \[3,8\] got \[2,8\].*--allow-missing/);
    const ok = await cli(...base, "--allow-missing", "--val-split", "val", "--out", join(root, "ft"));
    expect(ok.code, ok.err).toBe(0);
    const epochRows = parse(readFileSync(join(root, "ft", "epochs.csv"), "utf8"), { columns: true, cast: true }) as { val_top1: number }[];
    expect(epochRows).toHaveLength(1);
    expect([0, 1 / 3, 2 / 3, 1].some((v) => Math.abs(v - epochRows[0]!.val_top1) < 1e-9)).toBe(true); // 3 val videos
    expect(ok.err).toMatch(/classifier re-initialised for 3 classes: fc.weight \[2,8\] -> \[3,8\], fc.bias \[2\] -> \[3\]/);
    // the backbone started from the given weights: conv1 moved only by one epoch of fine-tuning
    const start = weightsOf(join(root, "full")).get("conv1.weight")!.data as Float32Array;
    const tuned = weightsOf(join(root, "ft")).get("conv1.weight")!.data as Float32Array;
    const diff = start.reduce((m, v, i) => Math.max(m, Math.abs(v - tuned[i]!)), 0);
    expect(diff).toBeGreaterThan(0);
    expect(diff).toBeLessThan(0.1);
  });

  it("evaluates an imported PyTorch checkpoint through the same command", async () => {
    const pth = resolve(__dirname, "../../../fixtures/golden/checkpoints/small-blvnet-layer0-zip.pth.tar");
    expect(existsSync(pth)).toBe(true);
    const out = join(root, "eval-pth");
    const r = await cliOn("wasm", "eval", "--model", "blvnet-tam", "--opt", "depth=50", "--frames", "8", "--size", "32", "--opt", "dropout=0", "--weights", pth, "--allow-missing", "--data", data, "--batch", "4", "--out", out, "--no-progress");
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/evaluating blvnet-tam-50-a2-b4-f4x2 \(\d+ tensors from .*small-blvnet-layer0-zip\.pth\.tar\)/);
    expect(r.err).toMatch(/warning: .*missing keys/);
    expect(JSON.parse(readFileSync(join(out, "summary.json"), "utf8")).videos).toBe(4);
  });
});
