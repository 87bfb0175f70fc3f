/**
 * Per-op profile of one inference configuration on onnxruntime (CPU EP): export the model (eval
 * mode, refgen-v1 weights), open a session with profiling, run it, and print kernel time per op
 * type and the largest nodes, plus the untimed-by-profiler wall time of the same runs.
 *
 *   npx tsx --conditions=source packages/bench/src/perf/infer-profile.bench.ts --model blvnet-tam \
 *       [--frames 16] [--size 224] [--batch 1] [--threads 2] [--iters 5] [--top 25] [--opt k=v ...]
 *       [--no-blocked-shifts] (profile the graph as onnxruntime optimises it, without nchwc-reorders.ts's rewrite)
 *       [--no-row-blend] (TAM blends as depthwise convs and shifts, not RowBlend custom ops; implied by --no-blocked-shifts)
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { fillDeterministic, inputShape, refgenInput } from "@blvnet/core";

import {
  buildOnnx,
  cpuSessionWithBlockedShifts,
  cpuSessionWithRowBlend,
  deviceSessionOptions,
  findProfileFile,
  loadOrt,
  ONNX_INPUT_NAME,
  summarizeProfile,
} from "@blvnet/engine-onnx";
import { createModel } from "@blvnet/models";

const { values: args } = parseArgs({
  options: {
    model: { type: "string", default: "blvnet-tam" },
    frames: { type: "string", default: "16" },
    size: { type: "string", default: "224" },
    batch: { type: "string", default: "1" },
    threads: { type: "string", default: "2" },
    iters: { type: "string", default: "5" },
    top: { type: "string", default: "25" },
    opt: { type: "string", multiple: true, default: [] },
    prefix: { type: "string", default: "/tmp/infer-profile" },
    "no-blocked-shifts": { type: "boolean", default: false },
    "no-row-blend": { type: "boolean", default: false },
  },
});
const options: Record<string, unknown> = { frames: Number(args.frames), size: Number(args.size) };
for (const kv of args.opt!) {
  const [k, v] = kv.split("=");
  options[k] = v !== undefined && v !== "" && Number.isFinite(Number(v)) ? Number(v) : v;
}
const model = createModel(args.model!, options);
fillDeterministic(model);
const batch = Number(args.batch);
const shape = inputShape(model.inputSpec, batch);
const ort = await loadOrt();
// As OrtEngine runs it (session.ts): by default TAM blends as RowBlend custom ops and every blend and
// time shift on blocked maps (row-blend-session.ts), else the binding's session with blocked shifts.
const fused =
  args["no-blocked-shifts"] || args["no-row-blend"]
    ? null
    : await cpuSessionWithRowBlend(
        ort,
        buildOnnx(model, { clips: batch, rowBlend: true }).bytes,
        Number(args.threads),
        ["output"],
        args.prefix,
      );
const input = new ort.Tensor("float32", refgenInput(shape), shape);
const sessionOptions = deviceSessionOptions("cpu", {
  threads: Number(args.threads),
  enableProfiling: true,
  profileFilePrefix: args.prefix,
});
const plainBytes = fused ? null : buildOnnx(model, { clips: batch }).bytes;
const plain = !plainBytes
  ? null
  : args["no-blocked-shifts"]
    ? { session: await ort.InferenceSession.create(plainBytes, sessionOptions), blockedShifts: 0 }
    : await cpuSessionWithBlockedShifts(ort, plainBytes, sessionOptions);
const session = fused?.runner ?? plain!.session;
const shifts = fused?.rewrites ?? plain!.blockedShifts;
const wall: number[] = [];
await session.run({ [ONNX_INPUT_NAME]: input });
for (let i = 0; i < Number(args.iters); i++) {
  const t = performance.now();
  await session.run({ [ONNX_INPUT_NAME]: input });
  wall.push(performance.now() - t);
}
plain?.session.endProfiling();
const file = fused ? fused.runner.endProfiling() : findProfileFile(args.prefix!);
if (!file) throw new Error(`no profile file for ${args.prefix}`);
const s = summarizeProfile(file, 1);
const median = [...wall].sort((a, b) => a - b)[Math.floor(wall.length / 2)];
console.log(
  `${model.id} batch ${batch} [${shape}] ${args.threads} threads: wall median ${median.toFixed(1)} ms (profiled), kernel ${s.msPerRun.toFixed(1)} ms/run, ${shifts} shifts${fused ? " and RowBlends" : ""} on blocked maps, load ${loadavg()[0].toFixed(2)}`,
);
for (const r of s.rows.slice(0, 16))
  console.log(
    `  ${r.opType.padEnd(22)} ${r.msPerRun.toFixed(1).padStart(8)} ms ${(100 * r.share).toFixed(1).padStart(5)}%  ${r.nodes} nodes`,
  );
console.log("top nodes:");
for (const r of s.nodes.slice(0, Number(args.top)))
  console.log(
    `  ${r.msPerRun.toFixed(2).padStart(7)} ms ${r.opType.padEnd(18)} ${r.node.slice(0, 48).padEnd(48)} ${r.inputs.slice(0, 90)}`,
  );
await session.release();
process.exit(0);
