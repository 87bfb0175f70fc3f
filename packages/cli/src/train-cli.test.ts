/**
 * End to end through the CLI (in process) on a tiny synthetic dataset and a tiny model registered
 * only here: a run stopped by --max-steps and resumed ends bit-for-bit where an uninterrupted run
 * ends; a non-finite loss stops with exit 3 and keeps the last good checkpoint; eval writes its
 * reports; fine-tuning to another class count needs --allow-missing; an imported PyTorch
 * checkpoint goes through `eval` like our own files.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  BatchNorm,
  Conv2d,
  float,
  IMAGENET_MEAN,
  IMAGENET_STD,
  type InputSpec,
  int,
  Linear,
  type Ops,
  registerModel,
  VideoModel,
} from "@blvnet/core";
import { synthesize } from "@blvnet/data";
import { decodeSafetensors } from "@blvnet/io";
import { train } from "@blvnet/train";
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
  "train",
  "--model",
  "tiny-test",
  "--data",
  data,
  "--epochs",
  "2",
  "--batch",
  "3",
  "--lr",
  lr,
  "--warmup-epochs",
  "0.5",
  ...clip,
  "--workers",
  "2",
  "--no-progress",
  "--out",
  out,
  ...extra,
];

const weightsOf = (run: string) => decodeSafetensors(readFileSync(join(run, "model.safetensors"))).tensors;
const stateOf = (run: string) => {
  const latest = JSON.parse(readFileSync(join(run, "checkpoints", "latest.json"), "utf8")) as { dir: string };
  return decodeSafetensors(readFileSync(join(run, "checkpoints", latest.dir, "train-state.safetensors")));
};

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "blvnet-train-"));
  data = (await synthesize(join(root, "synth"), { classes: ["move-left", "move-right"], train: 4, val: 2, frames: 8, size: 32, seed: 1 }))
    .dir;
  data3 = (
    await synthesize(join(root, "synth3"), { classes: ["move-left", "move-right", "grow"], train: 1, val: 1, frames: 8, size: 32, seed: 2 })
  ).dir;
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
    const rows = (run: string) =>
      (parse(readFileSync(join(run, "steps.csv"), "utf8"), { columns: true, cast: true }) as Record<string, number>[]).map(
        ({ step, lr, loss, grad_norm }) => ({ step, lr, loss, grad_norm }),
      );
    expect(rows(parts)).toEqual(rows(full));
    expect(rows(full).map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("refuses to overwrite a run and to resume with other fixed settings", async () => {
    const full = join(root, "full");
    expect((await cli(...trainArgs(full))).err).toMatch(/already holds a run; continue it with --resume/);
    const r = await cli(...trainArgs(full, {}, "--resume", "--batch", "2"));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/setting batch was 3 in the checkpointed run, now 2; it cannot change in a run/);
  });

  it("a divergence stops the run (exit 3), rolls back to the last good checkpoint and gives a resume command that works", async () => {
    const run = join(root, "nan");
    expect((await cli(...trainArgs(run, {}, "--max-steps", "3"))).code).toBe(0);
    const r = await cli(...trainArgs(run, { lr: "1e30", clip: [] }, "--resume", "--save-every", "1"));
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/--resume: lr 0.05 -> 1e\+30 from step 3/);
    expect(r.err).toMatch(
      /training stopped: non-finite (loss|gradient).* at epoch 2, step \d \(lr \d\.\d{3}e\+(29|30)\); --resume continues from the last good checkpoint .*step-00000003 \(step 3, loss \d/,
    );
    const advice = /e\.g\. (blvnet .*train .*)$/.exec(r.err)?.[1];
    expect(advice, r.err).toBeDefined();
    expect(advice).toMatch(/ --resume --lr 1e\+29$/);
    expect(advice).not.toMatch(/--lr 1e30/);
    // the kept checkpoint is the good one: finite weights, a sane loss; --resume with a lower lr continues from it
    const latest = JSON.parse(readFileSync(join(run, "checkpoints", "latest.json"), "utf8")) as { step: number; loss: number };
    expect(latest.step).toBe(3);
    expect(latest.loss).toBeLessThan(10);
    for (const [k, t] of weightsOf(run)) if (t.data instanceof Float32Array) expect(t.data.every(Number.isFinite), k).toBe(true);
    const again = await cli(...trainArgs(run, {}, "--resume"));
    expect(again.code, again.err).toBe(0);
    expect(again.err).toMatch(/resuming from .*step-00000003/);
    const changes = JSON.parse(readFileSync(join(run, "run.json"), "utf8")).changes as {
      step: number;
      setting: string;
      from: unknown;
      to: unknown;
    }[];
    expect(changes.map((c) => [c.step, c.setting, c.from, c.to])).toEqual([
      [3, "lr", 0.05, 1e30],
      [3, "clipGrad", 5, null],
      [3, "lr", 1e30, 0.05],
      [3, "clipGrad", null, 5],
    ]);
  });

  it("eval writes summary, predictions, per-class accuracy and the confusion matrix (3 crops x 2 clips)", async () => {
    const out = join(root, "eval");
    const r = await cli(
      "eval",
      "--model",
      "tiny-test",
      "--weights",
      join(root, "full", "model.safetensors"),
      "--data",
      data,
      "--crops",
      "3",
      "--clips",
      "2",
      "--out",
      out,
      "--no-progress",
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/\(4 videos, 6 view\(s\) each\): top-1 \d+\.\d\d%/);
    expect(r.out).toMatch(/time-reversed pairs: \d+\.\d\d% \(chance 50%\)/);
    const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as {
      videos: number;
      top1: number;
      confusion?: unknown;
      perClass: unknown[];
    };
    expect(summary.videos).toBe(4);
    expect(summary.perClass).toHaveLength(2);
    const preds = parse(readFileSync(join(out, "predictions.csv"), "utf8"), { columns: true }) as Record<string, string>[];
    expect(preds).toHaveLength(4);
    expect(preds.filter((p) => p.correct === "1").length / 4).toBeCloseTo(summary.top1, 12);
    expect(readFileSync(join(out, "confusion.svg"), "utf8")).toMatch(/^<svg[\s\S]*move-left[\s\S]*<\/svg>\n$/);
    expect(readFileSync(join(out, "confusion.csv"), "utf8").split("\n")[0]).toBe("true\\pred,move-left,move-right");
  });

  it("eval through ONNX Runtime (--backend ort) agrees with the tfjs interpreter", async () => {
    const weights = join(root, "full", "model.safetensors");
    const run = async (backend: string, out: string) => {
      const r = await cliOn(backend, "eval", "--model", "tiny-test", "--weights", weights, "--data", data, "--out", out, "--no-progress");
      expect(r.code, r.err).toBe(0);
      return parse(readFileSync(join(out, "predictions.csv"), "utf8"), { columns: true, cast: true }) as {
        id: string;
        pred: number;
        prob_pred: number;
      }[];
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
    const r = await cliOn(
      "wasm",
      "eval",
      "--model",
      "blvnet-tam",
      "--opt",
      "depth=50",
      "--frames",
      "8",
      "--size",
      "32",
      "--opt",
      "dropout=0",
      "--weights",
      pth,
      "--allow-missing",
      "--data",
      data,
      "--batch",
      "4",
      "--out",
      out,
      "--no-progress",
    );
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/evaluating blvnet-tam-50-a2-b4-f4x2 \(\d+ tensors from .*small-blvnet-layer0-zip\.pth\.tar\)/);
    expect(r.err).toMatch(/warning: .*missing keys/);
    expect(JSON.parse(readFileSync(join(out, "summary.json"), "utf8")).videos).toBe(4);
  });
});

describe("bad samples, concurrent writers and unwritable outputs", () => {
  let broken: string;
  beforeAll(async () => {
    broken = (
      await synthesize(join(root, "broken"), { classes: ["move-left", "move-right"], train: 4, val: 2, frames: 8, size: 32, seed: 3 })
    ).dir;
    rmSync(join(broken, "frames", "train", "000000"), { recursive: true });
    // every frame of sample 2 is empty, so whichever frames the sampler picks fail to decode
    for (let f = 1; f <= 8; f++) writeFileSync(join(broken, "frames", "train", "000001", `${String(f).padStart(5, "0")}.jpg`), "");
  });
  const list = () => join(broken, "train.txt");

  it("train and eval log each skipped sample with its reason and count them; past --max-skipped they stop with one line", async () => {
    const base = ["--model", "tiny-test", "--data", broken, "--batch", "3", "--no-progress"];
    const stopped = await cli("train", ...base, "--epochs", "1", "--out", join(root, "skip-default"));
    expect(stopped.code).toBe(2);
    expect(stopped.err.trim().split("\n").at(-1)).toMatch(
      /^blvnet: \d of 8 samples skipped, more than the 0 allowed \(--max-skipped\); latest: /,
    );
    const ok = await cli("train", ...base, "--epochs", "1", "--max-skipped", "2", "--out", join(root, "skip-ok"));
    expect(ok.code, ok.err).toBe(0);
    expect(ok.err).toContain(`skipped ${list()}:1: frame folder not found: ${join(broken, "frames", "train", "000000")}`);
    expect(ok.err).toMatch(new RegExp(`skipped ${list()}:2: unreadable image .*000001/0000\\d\\.jpg`));
    expect(ok.out).toMatch(/; 2 samples skipped \(see the log\)/);
    const ev = await cli(
      "eval",
      ...base,
      "--split",
      "train",
      "--weights",
      join(root, "skip-ok", "model.safetensors"),
      "--max-skipped",
      "25%",
      "--out",
      join(root, "skip-eval"),
    );
    expect(ev.code, ev.err).toBe(0);
    expect(ev.out).toMatch(/\(6 of 8 videos, 2 skipped, 1 view\(s\) each\)/);
    expect(JSON.parse(readFileSync(join(root, "skip-eval", "summary.json"), "utf8"))).toMatchObject({ videos: 6, skipped: 2 });
    const info = await cli("data", "info", broken);
    expect(info.out).toMatch(/: 6 usable samples/);
    expect(info.out).toMatch(/2 entries skipped/);
    expect(info.out).toContain(`${list()}:2: empty frame file: ${join(broken, "frames", "train", "000001", "00001.jpg")}`);
  });

  it("a label outside [0, classes) is rejected when the list is read, naming file and line", async () => {
    const dir = join(root, "badlabel");
    mkdirSync(dir);
    writeFileSync(join(dir, "labels.txt"), "move-left\nmove-right\n");
    writeFileSync(
      join(dir, "train.txt"),
      [`${join(data, "frames/train/000000")} 8 0`, `${join(data, "frames/train/000001")} 8 -1`, ""].join("\n"),
    );
    const r = await cli(
      "train",
      "--model",
      "tiny-test",
      "--data",
      dir,
      "--epochs",
      "1",
      "--no-progress",
      "--out",
      join(root, "badlabel-run"),
    );
    expect(r.code).toBe(2);
    expect(r.err).toContain(`skipped ${join(dir, "train.txt")}:2: label -1 is outside [0, 2)`);
    expect(r.err.trim().split("\n").at(-1)).toMatch(/^blvnet: 1 of 2 samples skipped, more than the 0 allowed/);
  });

  it("a second train into the same --out is refused while the first runs", async () => {
    const out = join(root, "twice");
    const config = { model: { name: "tiny-test" }, data: { dir: data }, epochs: 1, batch: 3, out, backend: "cpu", log: () => {} };
    const results = await Promise.allSettled([train(config), train(config)]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    const refused = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(String(refused.reason.message)).toMatch(
      new RegExp(`^${out} is being written by pid ${process.pid} .*; wait for it to finish or choose another output folder$`),
    );
    expect(existsSync(join(out, ".lock"))).toBe(false);
  });

  it("eval checks its --out before evaluating: a file in the way is one line, exit 2", async () => {
    const file = join(root, "not-a-folder");
    writeFileSync(file, "x");
    const r = await cli(
      "eval",
      "--model",
      "tiny-test",
      "--weights",
      join(root, "full", "model.safetensors"),
      "--data",
      data,
      "--out",
      join(file, "eval"),
      "--no-progress",
    );
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^blvnet: cannot write .*not-a-folder\/eval: (a part of the path is a file, not a folder|a file is in the way)$/);
    expect(r.err).not.toMatch(/evaluating/);
  });
});
