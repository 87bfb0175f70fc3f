/**
 * A/B of training-step lowerings on the bLVNet-TAM-50 f8x2 112x112 step: each round builds one
 * OrtTrainer per variant in turn (never two sessions at once: idle onnxruntime threads spin and
 * would slow the other), steps it, and keeps steps 3.. ; AB_PROFILE=1 adds per-op kernel times
 * averaged over the rounds (the steadier figure on a shared machine).
 *
 *   AB_PROFILE=1 npx tsx --conditions=source packages/bench/src/perf/lowering-ab.bench.ts \
 *       '{"legacy":{"legacy":true},"new":{}}' [steps 5] [rounds 2]
 *   e.g. per-param vs packed small-param SGD updates: '{"old":{"packUpdatesBelow":0},"packed":{}}'
 */
import { mkdtempSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fillDeterministic, inputShape, refgenInput } from "@blvnet/core";
import { OrtTrainer, summarizeProfile, type TrainLowering } from "@blvnet/engine-onnx";
import { createModel } from "@blvnet/models";

const variants: Record<string, TrainLowering> = JSON.parse(process.argv[2] ?? '{"legacy":{"legacy":true},"new":{}}');
const steps = Math.max(3, Number(process.argv[3] ?? 5));
const opts = { depth: 50, alpha: 2, beta: 4, frames: 16, blendingFrames: 3, numClasses: 174, dropout: 0.5, size: 112 };
const profile = process.env.AB_PROFILE === "1";
const profileDir = profile ? mkdtempSync(join(tmpdir(), "lowering-ab-")) : "";
const kern: Record<string, Map<string, number>[]> = {};
const rounds = Number(process.argv[4] ?? 2);
const times: Record<string, number[]> = {};
const losses: Record<string, string[]> = {};
for (let round = 0; round < rounds; round++)
  for (const [name, lowering] of Object.entries(variants)) {
    const model = createModel("blvnet-tam", opts);
    fillDeterministic(model);
    model.train();
    const shape = inputShape(model.inputSpec, 1);
    const input = refgenInput(shape);
    const t = await OrtTrainer.create(model, {
      momentum: 0.9,
      threads: 2,
      inputShape: shape,
      lowering,
      ...(profile ? { profilePrefix: join(profileDir, `${name}_${round}`) } : {}),
    });
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      const r = await t.step(input, [7], 0.001);
      if (i > 1) (times[name] ??= []).push(performance.now() - t0);
      if (round === 0) (losses[name] ??= []).push(r.loss.toFixed(5));
    }
    if (profile) {
      const sum = summarizeProfile(t.endProfiling()!, 1);
      const m = new Map(sum.rows.map((r) => [r.opType, r.msPerRun]));
      m.set("TOTAL", sum.msPerRun);
      (kern[name] ??= []).push(m);
    }
    await t.release();
  }
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
for (const name of Object.keys(variants))
  console.log(
    `${name.padEnd(12)} median ${med(times[name]).toFixed(0)} ms  all ${times[name].map((v) => v.toFixed(0)).join(" ")}  losses ${losses[name].join(" ")}`,
  );
if (profile) {
  const names = Object.keys(variants);
  const avg = (n: string, op: string) => kern[n].reduce((a, m) => a + (m.get(op) ?? 0), 0) / kern[n].length;
  for (const op of [...new Set(["TOTAL", ...names.flatMap((n) => [...kern[n][0].keys()])])].slice(0, 40))
    console.log(`  ${op.padEnd(20)} ${names.map((n) => avg(n, op).toFixed(1).padStart(8)).join(" ")}`);
}
console.log(
  `load ${loadavg()
    .map((v) => v.toFixed(2))
    .join(" ")}`,
);
process.exit(0);
