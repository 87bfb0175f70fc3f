/**
 * A fast sanity check of the training engine on the simplest temporal-order task: a white square
 * on black moving left or right (wrapping around), clips made in memory, no nuisances. An
 * order-aware model (bLVNet-TAM) should learn it within a few dozen SGD steps; TSN's average
 * consensus cannot tell a clip from its time reverse and stays at 50% whatever it is trained on.
 * (The synthetic benchmark of @blvnet/data is the real test: see synthetic.bench.ts.)
 *
 *   npx tsx --conditions=source packages/bench/src/training/motion-sanity.bench.ts [--steps 150]
 *     [--size 64] [--engine tfjs|ort] [--models "blvnet-tam:depth=50,width=16;tsn:depth=50,width=16"] [--out results/bench/motion-sanity]
 */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { inputShape, Rng } from "@blvnet/core";
import { initBackend } from "@blvnet/engine-tfjs";
import { writeFileAtomic } from "@blvnet/io";
import { createModel } from "@blvnet/models";
import { createTrainingEngine, ENGINES, type EngineKind, initForTraining, provenance } from "@blvnet/train";
import { stringify } from "csv-stringify/sync";
import { markdownTable } from "../markdown.js";

const { values: a } = parseArgs({
  options: {
    out: { type: "string", default: "results/bench/motion-sanity" },
    size: { type: "string", default: "64" },
    frames: { type: "string", default: "8" },
    steps: { type: "string", default: "150" },
    batch: { type: "string", default: "8" },
    lr: { type: "string", default: "0.01" },
    models: { type: "string", default: "blvnet-tam:depth=50,width=16;tsn:depth=50,width=16" },
    backend: { type: "string", default: "wasm" },
    engine: { type: "string", default: "tfjs" },
    seed: { type: "string", default: "0" },
  },
});

const S = Number(a.size);
const T = Number(a.frames);

/** n clips (official layout, values 0 or 2): an 8x8 square at a random place moving 3 px per frame; label 1 = right. */
function clips(n: number, rng: Rng): { x: Float32Array; y: Int32Array } {
  const x = new Float32Array(n * T * 3 * S * S);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = rng.int(2);
    const dir = y[i] ? 1 : -1;
    const x0 = rng.int(S);
    const y0 = rng.int(S - 8);
    for (let t = 0; t < T; t++) {
      const cx = (((x0 + dir * 3 * t) % S) + S) % S;
      for (let c = 0; c < 3; c++) {
        for (let r = y0; r < y0 + 8; r++) for (let d = 0; d < 8; d++) x[(((i * T + t) * 3 + c) * S + r) * S + ((cx + d) % S)] = 2;
      }
    }
  }
  return { x, y };
}

async function run(spec: string) {
  const [name, ...rest] = spec.split(":");
  const opts = Object.fromEntries(
    rest
      .join(":")
      .split(",")
      .filter(Boolean)
      .map((kv) => kv.split("=")),
  );
  const model = createModel(name!, { ...opts, frames: T, size: S, numClasses: 2, dropout: 0.5 });
  const seed = Number(a.seed);
  initForTraining(model, seed);
  if (!(ENGINES as readonly string[]).includes(a.engine!)) throw new Error(`--engine must be one of ${ENGINES.join(", ")}`);
  const engine = createTrainingEngine(a.engine as EngineKind, model, { momentum: 0.9, weightDecay: 5e-4, nesterov: true }, seed);
  const rng = new Rng(seed + 1);
  const batch = Number(a.batch);
  const started = performance.now();
  let last = { loss: 0, correct: 0, n: 0 };
  for (let s = 1; s <= Number(a.steps); s++) {
    const { x, y } = clips(batch, rng);
    const r = await engine.step(x, inputShape(model.inputSpec, batch), y, Number(a.lr));
    last = s > Number(a.steps) - 25 ? { loss: last.loss + r.loss, correct: last.correct + r.correct, n: last.n + batch } : last;
  }
  const seconds = (performance.now() - started) / 1000;
  const test = clips(128, new Rng(seed + 2));
  const logits = await engine.evalLogits(test.x, inputShape(model.inputSpec, 128));
  let right = 0;
  for (let i = 0; i < 128; i++) right += (logits[2 * i + 1]! > logits[2 * i]! ? 1 : 0) === test.y[i] ? 1 : 0;
  await engine.dispose();
  return {
    model: spec,
    model_id: model.id,
    steps: Number(a.steps),
    train_acc_last25: last.correct / last.n,
    train_loss_last25: last.loss / (last.n / batch),
    test_acc: right / 128,
    seconds: Math.round(seconds),
  };
}

async function main(): Promise<void> {
  const backend = await initBackend(a.backend);
  const rows = [];
  for (const spec of a.models!.split(";").filter(Boolean)) {
    const row = await run(spec);
    console.error(JSON.stringify(row));
    rows.push(row);
  }
  const out = resolve(a.out!);
  const prov = provenance({ backend, seed: Number(a.seed) });
  writeFileAtomic(
    join(out, "summary.csv"),
    stringify(
      rows.map((r) => ({ ...r, ...prov })),
      { header: true },
    ),
  );
  const md = [
    `Moving square, left vs right (chance 50%): ${S}x${S}, ${T} frames, ${a.steps} SGD steps of ${a.batch} clips, lr ${a.lr}, engine ${a.engine}, backend ${backend}, commit ${prov.git_commit}.`,
    "",
    markdownTable(
      ["model", "train acc (last 25 steps)", "test acc (128 clips)", "train time"],
      rows.map((r) => [r.model_id, `${(100 * r.train_acc_last25).toFixed(1)}%`, `${(100 * r.test_acc).toFixed(1)}%`, `${r.seconds} s`]),
    ),
  ].join("\n");
  writeFileAtomic(join(out, "summary.md"), md);
  console.log(md);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
