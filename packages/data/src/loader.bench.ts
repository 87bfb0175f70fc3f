/**
 * Loader throughput on the synthetic benchmark (112x112, 16 frames): not a test.
 *   npx tsx --conditions=source packages/data/src/loader.bench.ts [--dir D] [--workers N] [--epochs E] [--test]
 * Generates the data set once (cached in the OS temp folder), then times full epochs with a
 * consumer that does nothing, i.e. the loader's own ceiling. Prints clips/s per epoch, and the
 * process CPU time per clip (all threads), which stays meaningful on a shared, busy machine.
 */
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createLoader, openDataset, synthesize } from "./index.js";

const { values: args } = parseArgs({
  options: {
    dir: { type: "string", default: join(tmpdir(), "blvnet-synth-bench-112") },
    workers: { type: "string" },
    epochs: { type: "string", default: "2" },
    batch: { type: "string", default: "8" },
    test: { type: "boolean", default: false },
    layout: { type: "string", default: "N(TC)HW" },
  },
});

const syn = await synthesize(args.dir, { train: 40, val: 40, frames: 16, size: 112, seed: 0 });
console.log(`data: ${syn.dir} (${syn.clips} clips, ${syn.reused ? "reused" : `generated in ${syn.seconds.toFixed(1)} s`})`);
const train = !args.test;
const ds = openDataset(args.dir, { split: train ? "train" : "val" });
const workers = args.workers ? Number(args.workers) : undefined;
const loader = createLoader(ds, {
  batch: Number(args.batch),
  frames: 16,
  size: 112,
  train,
  seed: 1,
  workers,
  layout: args.layout as "N(TC)HW" | "NCTHW",
});
console.log(
  `loader: ${ds.records.length} ${train ? "train" : "val"} clips, batch ${args.batch}, workers ${workers ?? "default"}, ` +
    `${availableParallelism()} cpus, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? "default"}`,
);
for (let e = 0; e < Number(args.epochs); e++) {
  let batches = 0;
  // Process CPU time (all threads) per clip: a figure that holds up on a shared, busy machine.
  const cpu0 = process.cpuUsage();
  for await (const b of loader) {
    if (b.input.length !== b.shape.reduce((a, x) => a * x, 1)) throw new Error("shape mismatch");
    batches++;
  }
  const s = loader.stats;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000 / s.clips;
  console.log(
    `epoch ${e}: ${batches} batches, ${s.clips} clips in ${s.seconds.toFixed(2)} s = ${s.clipsPerSecond.toFixed(1)} clips/s ` +
      `(skipped ${s.skipped}); ${cpuMs.toFixed(1)} CPU-ms per clip = ${(1000 / cpuMs).toFixed(0)} clips/s per free core`,
  );
}
