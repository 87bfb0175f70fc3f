/**
 * A/B of ONNX expressions of one TAM (blend of 3 neighbouring frames, per-channel weights, ReLU)
 * on onnxruntime's CPU EP, between a producer conv and a consumer conv as in bLVNet's layer0.
 *   npx tsx --conditions=source packages/bench/src/perf/tam-variants.bench.ts [--iters 15] [--threads 2]
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { GraphBuilder, loadOrt, onnxAttr } from "@blvnet/engine-onnx";

const { values: args } = parseArgs({
  options: {
    iters: { type: "string", default: "15" },
    threads: { type: "string", default: "2" },
    frames: { type: "string", default: "16" },
    channels: { type: "string", default: "64" },
    size: { type: "string", default: "112" },
  },
});
const T = Number(args.frames),
  C = Number(args.channels),
  H = Number(args.size),
  W = H;
const rnd = (n: number, s = 1) => Float32Array.from({ length: n }, (_, i) => s * Math.sin(i * 12.9898 + 1.7));

type Body = (g: GraphBuilder, x: string) => string;
function build(body: Body | null): Uint8Array {
  const g = new GraphBuilder();
  const init = (name: string, dims: number[], data: Float32Array) => g.setInitializer(name, { dims, data });
  const stemW = init("stem.w", [C, 3, 7, 7], rnd(C * 3 * 49, 0.1));
  const x0 = g.op("Conv", ["input", stemW], {
    kernel_shape: onnxAttr.ints([7, 7]),
    strides: onnxAttr.ints([2, 2]),
    pads: onnxAttr.ints([3, 3, 3, 3]),
  });
  const x = g.op("Relu", [x0]);
  const y = body ? body(g, x) : x;
  const cw = init("cons.w", [C, C, 3, 3], rnd(C * C * 9, 0.05));
  g.addNode("Conv", [y, cw], ["out"], {
    kernel_shape: onnxAttr.ints([3, 3]),
    strides: onnxAttr.ints([2, 2]),
    pads: onnxAttr.ints([1, 1, 1, 1]),
  });
  return g.toBytes({
    opset: 17,
    graphName: "tam",
    inputs: [{ name: "input", dims: [T, 3, 2 * H, 2 * W] }],
    outputs: [{ name: "out", dims: [T, C, H / 2, W / 2] }],
  });
}
const scale = (g: GraphBuilder, k: number) => g.setInitializer(`w${k}`, { dims: [1, C, 1, 1], data: rnd(C, 0.3 + k) });
/** out[t] = x[t + offset] within the clip, zeros outside: one Pad on [clips, T, inner]. */
function shift(g: GraphBuilder, x: string, offset: number): string {
  const r = g.op("Reshape", [x, g.int64([-1, T, C * H * W])]);
  const p = g.op("Pad", [r, g.int64([0, -offset, 0, 0, offset, 0])]);
  return g.op("Reshape", [p, g.int64([-1, C, H, W])]);
}
const variants: Record<string, Body | null> = {
  "no TAM (producer + consumer only)": null,
  "Mul x3, Pad x2, Sum, Relu (current)": (g, x) =>
    g.op("Relu", [
      g.op("Sum", [shift(g, g.op("Mul", [x, scale(g, 0)]), -1), g.op("Mul", [x, scale(g, 1)]), shift(g, g.op("Mul", [x, scale(g, 2)]), 1)]),
    ]),
  "Mul x3, Pad x2, Add x2, Relu": (g, x) =>
    g.op("Relu", [
      g.op("Add", [
        g.op("Add", [shift(g, g.op("Mul", [x, scale(g, 0)]), -1), g.op("Mul", [x, scale(g, 1)])]),
        shift(g, g.op("Mul", [x, scale(g, 2)]), 1),
      ]),
    ]),
  "Transpose, depthwise Conv [3,1] + Relu, Transpose": (g, x) => {
    const r = g.op("Reshape", [x, g.int64([-1, T, C, H * W])]);
    const t = g.op("Transpose", [r], { perm: onnxAttr.ints([0, 2, 1, 3]) });
    const w = g.setInitializer("wt", { dims: [C, 1, 3, 1], data: rnd(C * 3, 0.3) });
    const c = g.op("Conv", [t, w], { group: onnxAttr.int(C), kernel_shape: onnxAttr.ints([3, 1]), pads: onnxAttr.ints([1, 0, 1, 0]) });
    const b = g.op("Transpose", [g.op("Relu", [c])], { perm: onnxAttr.ints([0, 2, 1, 3]) });
    return g.op("Reshape", [b, g.int64([-1, C, H, W])]);
  },
  "depthwise 1x1 Conv x3 on shifted inputs, Add x2 (fusable), Relu": (g, x) => {
    const dw = (k: number, v: string) =>
      g.op("Conv", [v, g.setInitializer(`d${k}`, { dims: [C, 1, 1, 1], data: rnd(C, 0.3 + k) })], {
        group: onnxAttr.int(C),
        kernel_shape: onnxAttr.ints([1, 1]),
      });
    const a = g.op("Add", [dw(0, shift(g, x, -1)), dw(1, x)]);
    return g.op("Relu", [g.op("Add", [dw(2, shift(g, x, 1)), a])]);
  },
};

const ort = await loadOrt();
const input = new ort.Tensor("float32", rnd(T * 3 * 4 * H * W), [T, 3, 2 * H, 2 * W]);
const sessions: [string, Awaited<ReturnType<typeof ort.InferenceSession.create>>][] = [];
for (const [name, body] of Object.entries(variants)) {
  sessions.push([
    name,
    await ort.InferenceSession.create(build(body), {
      intraOpNumThreads: Number(args.threads),
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
    }),
  ]);
}
const times = new Map<string, number[]>(sessions.map(([n]) => [n, []]));
const outs = new Map<string, Float32Array>();
for (const [n, s] of sessions) outs.set(n, (await s.run({ input })).out.data as Float32Array);
for (let i = 0; i < Number(args.iters); i++)
  for (const [n, s] of sessions) {
    const t = performance.now();
    await s.run({ input });
    times.get(n)!.push(performance.now() - t);
  }
const med = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
const base = med(times.get(Object.keys(variants)[0])!);
console.log(
  `TAM variants, [${T}, ${C}, ${H}, ${W}], ${args.threads} threads, ${args.iters} alternated runs, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
);
for (const [n, ts] of times)
  console.log(`${n.padEnd(66)} median ${med(ts).toFixed(1).padStart(7)} ms  TAM ${(med(ts) - base).toFixed(1).padStart(6)} ms`);
