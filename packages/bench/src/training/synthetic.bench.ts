/**
 * The paper's qualitative result on the synthetic temporal-order benchmark, end to end through the
 * library calls behind `blvnet train` and `blvnet eval`, for each model on the same synthetic set, where every class
 * has its time-reversed partner (move-left / move-right, grow / shrink, ...). An order-aware model
 * (bLVNet-TAM) can learn the pairs; TSN's average consensus is blind to frame order (see
 * frame-order.test.ts) and stays at 50% within each pair. The default is the move-left / move-right
 * pair alone (400 training clips each), the cheapest setting in which bLVNet-TAM learned from
 * scratch on a 2-core CPU. Training from scratch there is chaotic: runs that differ only in float32
 * rounding (`--engine ort`, another `--seed`) can stay on the chance plateau for all 20 epochs, so
 * the default is the tfjs engine, which is deterministic and reproduces the published run bit for
 * bit. Add TSM with `--models "...;tsm:depth=50,width=16"`.
 * Resumable: finished runs are reused, interrupted ones continue (--resume).
 *
 *   npx tsx --conditions=source packages/bench/src/training/synthetic.bench.ts [--size 64] [--frames 8]
 *     [--clip-frames 16] [--epochs 20] [--lr 0.005] [--classes move-left,move-right] [--models "blvnet-tam:depth=50,width=16;tsn:depth=50,width=16"]
 *     [--engine tfjs|ort] [--out results/bench/synthetic]
 *
 * The defaults are sized for a 2-core CPU: depth 50 at a quarter of the official width (16 instead
 * of 64 base channels), 64x64 input, 8 frames (bLVNet f4x2), both models alike.
 *
 * Writes <out>/summary.csv and <out>/summary.md (generated from the eval summaries) and the eval
 * reports <out>/eval/<model>; the data goes to datasets/, the runs with their checkpoints to
 * results/runs/synthetic-bench/<model> (both git-ignored).
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { synthesize } from "@blvnet/data";
import { writeFileAtomic } from "@blvnet/io";
import { type EngineKind, evaluate, provenance, type RunRecord, train } from "@blvnet/train";
import { stringify } from "csv-stringify/sync";
import { markdownTable } from "../markdown.js";

const { values: a } = parseArgs({
  options: {
    out: { type: "string", default: "results/bench/synthetic" },
    runs: { type: "string", default: "results/runs/synthetic-bench" },
    datasets: { type: "string", default: "datasets" },
    size: { type: "string", default: "64" },
    frames: { type: "string", default: "8" },
    "clip-frames": { type: "string", default: "16" },
    classes: { type: "string", default: "move-left,move-right" },
    train: { type: "string", default: "400" },
    val: { type: "string", default: "50" },
    epochs: { type: "string", default: "20" },
    batch: { type: "string", default: "8" },
    lr: { type: "string", default: "0.005" },
    "warmup-epochs": { type: "string", default: "1" },
    dropout: { type: "string", default: "0.5" },
    models: { type: "string", default: "blvnet-tam:depth=50,width=16;tsn:depth=50,width=16" },
    engine: { type: "string", default: "tfjs" },
    backend: { type: "string", default: "wasm" },
    seed: { type: "string", default: "0" },
  },
});

const out = resolve(a.out!);
// Frames and checkpoints stay out of the repository (datasets/ and results/runs/ are git-ignored).
const data = resolve(
  a.datasets!,
  `synthetic-s${a.size}-f${a["clip-frames"]}-c${a.classes!.split(",").length}-n${a.train}x${a.val}-seed${a.seed}`,
);
const runs = resolve(a.runs!);

interface Row {
  model: string;
  model_id: string;
  engine: string;
  /** Commit the training run was made at (a reused run may predate this benchmark's commit). */
  train_commit: string;
  size: number;
  frames: number;
  epochs: number;
  steps: number;
  train_seconds: number;
  train_clips_per_s: number;
  top1: number;
  top5: number;
  mean_class_acc: number;
  pair_acc: number | null;
  chance_top1: number;
  val_videos: number;
}

async function main_(): Promise<void> {
  const classes = a.classes!.split(",");
  const synth = await synthesize(data, {
    classes,
    train: Number(a.train),
    val: Number(a.val),
    frames: Number(a["clip-frames"]),
    size: Number(a.size),
    seed: Number(a.seed),
  });
  console.error(`synthetic data: ${synth.dir} (${synth.clips} clips${synth.reused ? ", reused" : ""})`);
  const rows: Row[] = [];
  for (const spec of a.models!.split(";").filter(Boolean)) {
    const [name, ...opts] = spec.split(":");
    const options = Object.fromEntries(
      opts
        .join(":")
        .split(",")
        .filter(Boolean)
        .map((o) => o.split("=") as [string, string]),
    );
    // The engine is part of the tag so runs of different engines never resume each other.
    const tag = `${a.engine}-${spec.replace(/[^a-z0-9]+/gi, "-")}`;
    const runDir = join(runs, tag);
    const evalDir = join(out, "eval", tag);
    const model = { name: name!, options: { ...options, frames: Number(a.frames), size: Number(a.size), dropout: Number(a.dropout) } };
    const done =
      existsSync(join(runDir, "epochs.csv")) &&
      readFileSync(join(runDir, "epochs.csv"), "utf8").trim().split("\n").length - 1 >= Number(a.epochs);
    if (!done) {
      await train({
        model,
        data: { dir: data, valSplit: "val" },
        optimizer: { lr: Number(a.lr) },
        schedule: { warmupEpochs: Number(a["warmup-epochs"]) },
        epochs: Number(a.epochs),
        batch: Number(a.batch),
        seed: Number(a.seed),
        engine: a.engine as EngineKind,
        backend: a.backend,
        out: runDir,
        resume: existsSync(join(runDir, "checkpoints", "latest.json")),
        progress: true,
      });
    }
    const s = await evaluate({
      model: { ...model, weights: join(runDir, "model.safetensors") },
      data: { dir: data, split: "val" },
      engine: a.engine === "ort" ? "ort" : "tfjs",
      backend: a.backend,
      out: evalDir,
      progress: true,
    });
    const steps = readFileSync(join(runDir, "steps.csv"), "utf8")
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => l.split(",").map(Number));
    const seconds = steps.reduce((t, r) => t + r[8]!, 0);
    const clips = steps.reduce((t, r) => t + r[7]!, 0);
    rows.push({
      model: spec,
      model_id: s.model.id,
      engine: a.engine!,
      train_commit: (JSON.parse(readFileSync(join(runDir, "run.json"), "utf8")) as RunRecord).provenance.git_commit,
      size: Number(a.size),
      frames: Number(a.frames),
      epochs: Number(a.epochs),
      steps: steps.length,
      train_seconds: Math.round(seconds),
      train_clips_per_s: Number((clips / seconds).toFixed(3)),
      top1: s.report.top1,
      top5: s.report.top5,
      mean_class_acc: s.report.meanClassAccuracy,
      pair_acc: s.report.pairAccuracy,
      chance_top1: 1 / classes.length,
      val_videos: s.report.videos,
    });
  }
  const prov = provenance({ backend: a.engine === "ort" ? "ort" : a.backend!, seed: Number(a.seed) });
  writeFileAtomic(
    join(out, "summary.csv"),
    stringify(
      rows.map((r) => ({ ...r, ...prov })),
      { header: true },
    ),
  );
  const pct = (x: number | null) => (x === null ? "-" : `${(100 * x).toFixed(1)}%`);
  const md = [
    `Synthetic temporal-order benchmark: ${classes.join(", ")} (chance top-1 ${pct(1 / classes.length)}, within a reversed pair 50%); ` +
      `${a.train} train / ${a.val} val clips per class, ${a.size}x${a.size}, ${a.frames} frames, ${a.epochs} epochs, batch ${a.batch}, lr ${a.lr} (cosine), engine ${a.engine}${a.engine === "ort" ? "" : ` (backend ${a.backend})`}, commit ${prov.git_commit}.`,
    "",
    markdownTable(
      ["model", "top-1", "top-5", "pair accuracy", "mean class acc", "steps", "train time", "clips/s", "trained at"],
      rows.map((r) => [
        r.model_id,
        pct(r.top1),
        pct(r.top5),
        pct(r.pair_acc),
        pct(r.mean_class_acc),
        String(r.steps),
        `${r.train_seconds} s`,
        String(r.train_clips_per_s),
        r.train_commit,
      ]),
    ),
  ].join("\n");
  writeFileAtomic(join(out, "summary.md"), md);
  console.log(md);
}

main_().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
