/**
 * A/B of training-step lowerings on the bLVNet-TAM-50 f8x2 112x112 step: each round builds one
 * OrtTrainer per variant in turn (never two sessions at once: idle onnxruntime threads spin and
 * would slow the other), steps it, and keeps steps 3.. ; AB_PROFILE=1 adds per-op kernel times
 * averaged over the rounds (the steadier figure on a shared machine).
 *
 *   AB_PROFILE=1 npx tsx --conditions=source packages/bench/src/perf/lowering-ab.bench.ts \
 *       '{"legacy":{"legacy":true},"new":{}}' [steps 5] [rounds 2]
 *   e.g. per-param vs packed small-param SGD updates: '{"old":{"packUpdatesBelow":0},"packed":{}}'
 *
 * AB_STAT=median reports the median over rounds of each op's kernel time instead of the mean.
 * AB_NODES=ConvTranspose,Conv (with AB_PROFILE=1) also lists every node of those op types with its
 * kernel ms per step (last round), e.g. to see which convs a lowering moved.
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
const nodeTypes = new Set((process.env.AB_NODES ?? "").split(",").filter(Boolean));
const nodeRows: Record<string, string[]> = {};
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
      nodeRows[name] = sum.nodes
        .filter((r) => nodeTypes.has(r.opType))
        .map(
          (r) =>
            `  ${r.msPerRun.toFixed(2).padStart(7)} ms ${r.opType.padEnd(14)} ${r.node.slice(0, 36).padEnd(36)} ${r.inputs.slice(0, 90)}`,
        );
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
  // AB_STAT=median: the median over rounds (robust to a round slowed by another process) instead of the mean
  const avg =
    process.env.AB_STAT === "median"
      ? (n: string, op: string) => med(kern[n].map((m) => m.get(op) ?? 0))
      : (n: string, op: string) => kern[n].reduce((a, m) => a + (m.get(op) ?? 0), 0) / kern[n].length;
  for (const n of names) console.log(`  ${n} TOTAL per round: ${kern[n].map((m) => m.get("TOTAL")!.toFixed(0)).join(" ")}`);
  for (const op of [...new Set(["TOTAL", ...names.flatMap((n) => [...kern[n][0].keys()])])].slice(0, 40))
    console.log(`  ${op.padEnd(20)} ${names.map((n) => avg(n, op).toFixed(1).padStart(8)).join(" ")}`);
  for (const n of names.filter(() => nodeTypes.size > 0)) console.log(`${n} nodes (last round):\n${nodeRows[n].join("\n")}`);
}
console.log(
  `load ${loadavg()
    .map((v) => v.toFixed(2))
    .join(" ")}`,
);
process.exit(0);
