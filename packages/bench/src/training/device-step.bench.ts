/**
 * The compiled SGD step (OrtTrainer) on an onnxruntime device, with the weights, momentum buffers
 * and BN statistics kept on the device between steps (`resident`, WebGPU IO binding) and without
 * (a host round trip of the whole state per step). Steps of the two modes ALTERNATE (two trainers
 * side by side) so both see the same machine load; the first `--warmup` steps of each are untimed
 * (pipeline compilation). Prints medians, their ratio, and one JSON line with provenance.
 * On lavapipe (software Vulkan) "device" memory is host memory: the difference there is copy and
 * allocation overhead only; on a discrete GPU it also saves 2 x state bytes of bus traffic per step.
 *
 *   npx tsx --conditions=source packages/bench/src/training/device-step.bench.ts [--device webgpu]
 *       [--model tsn] [--opt depth=18,width=16] [--frames 2] [--size 32] [--batch 2] [--steps 5] [--warmup 1]
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { fillDeterministic, inputShape, refgenInput, type VideoModel } from "@blvnet/core";
import { isOrtDevice, OrtTrainer } from "@blvnet/engine-onnx";
import { createModel } from "@blvnet/models";
import { provenance } from "@blvnet/train";

const { values: a } = parseArgs({
  options: {
    device: { type: "string", default: "webgpu" },
    model: { type: "string", default: "tsn" },
    opt: { type: "string", default: "depth=18,width=16" },
    frames: { type: "string", default: "2" },
    size: { type: "string", default: "32" },
    batch: { type: "string", default: "2" },
    steps: { type: "string", default: "5" },
    warmup: { type: "string", default: "1" },
    threads: { type: "string", default: "2" },
  },
});
if (!isOrtDevice(a.device)) throw new Error(`--device ${a.device}: cpu, webgpu or cuda`);
const device = a.device;
const options: Record<string, unknown> = { frames: Number(a.frames), size: Number(a.size), numClasses: 10, dropout: 0 };
for (const kv of a.opt!.split(",").filter(Boolean)) {
  const [k, v] = kv.split("=");
  options[k!] = Number.isNaN(Number(v)) ? v : Number(v);
}
const SGD = { lr: 0.001, momentum: 0.9, weightDecay: 1e-4 };
const load1 = () => Number(loadavg()[0].toFixed(2));
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

function model(): VideoModel {
  const m = createModel(a.model!, options);
  fillDeterministic(m);
  return m.train();
}

const m0 = model();
const shape = inputShape(m0.inputSpec, Number(a.batch));
const input = refgenInput(shape);
const labels = Array.from({ length: shape[0]! }, (_, i) => i % 10);
const loadBefore = load1();
const trainers = {
  resident: await OrtTrainer.create(model(), { ...SGD, threads: Number(a.threads), inputShape: shape, device, resident: true }),
  host: await OrtTrainer.create(model(), { ...SGD, threads: Number(a.threads), inputShape: shape, device, resident: false }),
};
const times: Record<keyof typeof trainers, number[]> = { resident: [], host: [] };
const total = Number(a.warmup) + Number(a.steps);
for (let s = 0; s < total; s++) {
  for (const mode of ["resident", "host"] as const) {
    const t0 = performance.now();
    await trainers[mode].step(input, labels, SGD.lr, { dropoutSeed: s });
    const ms = performance.now() - t0;
    if (s >= Number(a.warmup)) times[mode].push(ms);
    console.error(
      `${mode.padEnd(8)} step ${s + 1}/${total} ${ms.toFixed(0)} ms${s < Number(a.warmup) ? " (warm-up)" : ""} (load ${load1()})`,
    );
  }
}
const resident = trainers.resident.resident;
for (const t of Object.values(trainers)) await t.release();
const r = median(times.resident);
const h = median(times.host);
console.log(
  `${m0.id} batch ${a.batch} on ${device}: state resident ${r.toFixed(0)} ms/step, host round trip ${h.toFixed(0)} ms/step (median of ${a.steps}), resident/host ${(r / h).toFixed(2)}${resident ? "" : " (this device has no resident state: both modes are host round trips)"}; load ${loadBefore} -> ${load1()}`,
);
console.log(
  JSON.stringify({
    ...provenance({ backend: `ort-${device}`, threads: Number(a.threads), seed: 0 }),
    model: m0.id,
    ort_device: device,
    batch: Number(a.batch),
    resident_ms: times.resident.map(Math.round),
    host_ms: times.host.map(Math.round),
    resident_median_ms: r,
    host_median_ms: h,
    residentAvailable: resident,
    load_before: loadBefore,
    load_after: load1(),
  }),
);
