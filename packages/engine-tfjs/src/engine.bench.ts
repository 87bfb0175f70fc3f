/**
 * Engine timings (not a test): ResNet-18-like forward with 1 vs N wasm threads, and one SGD step of
 * a small ResNet-like net with temporal shift + depthwise 1x1 on wasm (1 / N threads) and cpu
 * (these gradient rules; with --stock also tfjs' own rules, which are far slower on cpu and do not
 * run on wasm).
 *
 *   npx tsx --conditions=source packages/core/src/tf/engine.bench.ts [--threads 2] [--runs 5] [--stock]
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import type { Ops } from "@blvnet/core";
import { assignNames, BatchNorm, Conv2d, fillDeterministic, Linear, Module, ModuleList, refgenInput } from "@blvnet/core";
import * as tf from "@tensorflow/tfjs-core";
import { backendThreads, initBackend, shutdownBackend } from "./backend.js";
import { useGradientRules } from "./grads.js";
import { TfOps } from "./tfops.js";
import { sgdOf, trainStep } from "./train.js";

class BasicBlock extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm;
  readonly dw: Conv2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm;
  readonly down: Conv2d | null;
  readonly down_bn: BatchNorm | null;
  constructor(
    cin: number,
    cout: number,
    stride: number,
    readonly frames: number,
  ) {
    super();
    this.conv1 = new Conv2d(cin, cout, 3, { stride, padding: 1 });
    this.bn1 = new BatchNorm(cout);
    this.dw = new Conv2d(cout, cout, 1, { groups: cout });
    this.conv2 = new Conv2d(cout, cout, 3, { padding: 1 });
    this.bn2 = new BatchNorm(cout);
    const needDown = stride !== 1 || cin !== cout;
    this.down = needDown ? new Conv2d(cin, cout, 1, { stride }) : null;
    this.down_bn = needDown ? new BatchNorm(cout) : null;
  }
  forward<T>(ops: Ops<T>, x: T): T {
    const c = ops.shape(x)[1];
    const fold = Math.max(1, Math.floor(c / 8));
    // temporal shift of 1/8 of the channels each way (TSM)
    const shifted =
      this.frames > 1
        ? ops.concatChannels([
            ops.timeShift(ops.sliceChannels(x, 0, fold), this.frames, 1),
            ops.timeShift(ops.sliceChannels(x, fold, 2 * fold), this.frames, -1),
            ops.sliceChannels(x, 2 * fold, c),
          ])
        : x;
    let y = ops.relu(this.bn1.forward(ops, this.conv1.forward(ops, shifted)));
    y = this.bn2.forward(ops, this.conv2.forward(ops, this.dw.forward(ops, y)));
    const skip = this.down ? this.down_bn!.forward(ops, this.down.forward(ops, x)) : x;
    return ops.relu(ops.add(y, skip));
  }
}

class ResNetish extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm;
  readonly blocks: ModuleList<BasicBlock>;
  readonly fc: Linear;
  constructor(widths: number[], blocksPerStage: number, frames: number, classes = 10) {
    super();
    this.conv1 = new Conv2d(3, widths[0], 7, { stride: 2, padding: 3 });
    this.bn1 = new BatchNorm(widths[0]);
    const blocks: BasicBlock[] = [];
    let cin = widths[0];
    widths.forEach((w, s) => {
      for (let b = 0; b < blocksPerStage; b++) {
        blocks.push(new BasicBlock(cin, w, b === 0 && s > 0 ? 2 : 1, frames));
        cin = w;
      }
    });
    this.blocks = new ModuleList(blocks);
    this.fc = new Linear(cin, classes);
  }
  forward<T>(ops: Ops<T>, x: T): T {
    let y = ops.maxPool2d(ops.relu(this.bn1.forward(ops, this.conv1.forward(ops, x))), { kernel: 3, stride: 2, padding: 1 });
    for (const b of this.blocks.items) y = b.forward(ops, y);
    return this.fc.forward(ops, ops.globalAvgPool(y));
  }
}

function build(widths: number[], blocks: number, frames: number): ResNetish {
  const m = new ResNetish(widths, blocks, frames);
  assignNames(m);
  fillDeterministic(m);
  return m;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median ms of `runs` calls after one warm-up call. */
function time(runs: number, f: () => void): number {
  f();
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    f();
    ms.push(performance.now() - t);
  }
  return median(ms);
}

async function forwardMs(backend: string, threads: number, runs: number): Promise<number> {
  await shutdownBackend();
  await initBackend(backend, { threads });
  const m = build([64, 128, 256, 512], 2, 1).eval();
  const ops = new TfOps();
  const shape = [8, 3, 112, 112];
  const x = ops.input(refgenInput(shape), shape);
  const ms = time(runs, () => tf.tidy(() => m.forward(ops, x).dataSync()));
  ops.store.dispose();
  x.dispose();
  return ms;
}

async function trainMs(backend: string, threads: number, runs: number, rules: "fast" | "stock"): Promise<number> {
  await shutdownBackend();
  await initBackend(backend, { threads });
  useGradientRules(rules);
  const m = build([32, 64, 128, 256], 1, 8).train();
  const ops = new TfOps({ trainable: true });
  const shape = [8, 3, 64, 64]; // one clip of 8 frames
  const x = ops.input(refgenInput(shape), shape);
  const labels = [0, 1, 2, 3, 4, 5, 6, 7];
  const ms = time(runs, () => trainStep(m, ops, x, labels, { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 }));
  sgdOf(ops.store).dispose();
  ops.store.dispose();
  x.dispose();
  useGradientRules("fast");
  return ms;
}

const { values } = parseArgs({
  options: {
    threads: { type: "string", default: "2" },
    runs: { type: "string", default: "5" },
    stock: { type: "boolean", default: false },
  },
});
const threads = Number(values.threads);
const runs = Number(values.runs);
const rows: [string, number][] = [];
const load = () => loadavg()[0].toFixed(2);
console.log(`load average before: ${load()}`);

rows.push(["forward ResNet-18-like, batch 8 x 112², wasm 1 thread", await forwardMs("wasm", 1, runs)]);
const threadedMs = await forwardMs("wasm", threads, runs);
rows.push([`forward ResNet-18-like, batch 8 x 112², wasm ${backendThreads()} threads`, threadedMs]);
rows.push(["train step small ResNet+TSM+dw1x1, 8 x 64², wasm 1 thread", await trainMs("wasm", 1, runs, "fast")]);
rows.push([`train step small ResNet+TSM+dw1x1, 8 x 64², wasm ${threads} threads`, await trainMs("wasm", threads, runs, "fast")]);
rows.push(["train step small ResNet+TSM+dw1x1, 8 x 64², cpu", await trainMs("cpu", 1, Math.min(runs, 3), "fast")]);
if (values.stock) rows.push(["train step small ResNet+TSM+dw1x1, 8 x 64², cpu, tfjs stock gradients", await trainMs("cpu", 1, 1, "stock")]);
await shutdownBackend();

for (const [name, ms] of rows) console.log(`${ms.toFixed(0).padStart(8)} ms  ${name}`);
console.log(`load average after: ${load()} (2-core machine shared with other jobs: compare rows, not absolute numbers)`);
