/**
 * CPU sessions over exports with RowBlend nodes (TAM's blend in one pass; OnnxOpsOptions.rowBlend):
 * opened through onnxruntime's C API (ffi-session.ts), the only way to register the custom-op
 * library (native-ops.ts). Opened as cpuSessionWithBlockedShifts is for the binding
 * (rewritten-session.ts), the rewrite putting time shifts and blends on the blocked maps.
 *
 * The blend rewrite needs onnxruntime's NCHWc block size on this CPU, which no API reports: it is
 * found once per process by a probe (a tiny conv -> blend -> conv model run with each candidate
 * block, kept only when it reproduces the un-rewritten session bit for bit). No block found: no
 * RowBlend session (callers run the plain graph).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as Ort from "onnxruntime-node";
import { GraphBuilder, onnxAttr } from "../onnx/graph.js";
import { ROW_BLEND_DOMAIN, ROW_BLEND_OP } from "../onnx/onnxops.js";
import { FfiSession, loadFfiApi } from "./ffi-session.js";
import { nativeOpsLibrary, nativeOpsUnavailableReason } from "./native-ops.js";
import { elideNchwcReorders } from "./nchwc-reorders.js";
import { openRewritten } from "./rewritten-session.js";

/** What OrtEngine runs: onnxruntime-node's session, or an FfiSession fetching the named outputs. */
export interface InferenceRunner {
  run(feeds: Record<string, Ort.Tensor>): Promise<Record<string, Ort.Tensor>>;
  release(): Promise<void>;
}

/** An FfiSession's runner, which can also end its profile (see cpuSessionWithRowBlend's profileFilePrefix). */
export interface FfiRunner extends InferenceRunner {
  /** The profile file's name (null when not profiling). */
  endProfiling(): string | null;
}

export interface RowBlendSession {
  runner: FfiRunner;
  /** Time shifts and blends rewritten to run on blocked maps (0: the optimised graph as onnxruntime made it). */
  rewrites: number;
  /** The NCHWc block size the blends were rewritten for (0: none). */
  block: number;
}

/** Whether RowBlend exports can run here: the C API and the compiled custom-op library are available. */
export function rowBlendAvailable(): boolean {
  return loadFfiApi() !== null && nativeOpsLibrary() !== null;
}

export interface RowBlendStatus {
  available: boolean;
  /** Why not (no compiler, BLVNET_NATIVE_OPS=0, no koffi). */
  reason?: string;
  /** The NCHWc block the blends run on (probed; 0: none found, the plain graph runs); absent without a probe. */
  block?: number;
}

/** For `blvnet env`: how TAM's blends run on the CPU here (the block probed when `ort` is given). */
export async function rowBlendStatus(ort?: typeof Ort): Promise<RowBlendStatus> {
  if (!loadFfiApi()) return { available: false, reason: "onnxruntime's C API cannot be loaded (koffi)" };
  const library = nativeOpsLibrary();
  if (!library) return { available: false, reason: nativeOpsUnavailableReason() ?? "unavailable" };
  return ort ? { available: true, block: await nchwcBlock(ort, library) } : { available: true };
}

/**
 * A CPU session over `bytes` (an export with RowBlend nodes), fetching `outputs`; null when
 * RowBlend cannot run here (see rowBlendAvailable) or no NCHWc block size was found.
 */
export async function cpuSessionWithRowBlend(
  ort: typeof Ort,
  bytes: Uint8Array,
  threads: number,
  outputs: string[],
  /** Profile the session that runs (onnxruntime's JSON profile, this path prefix). */
  profileFilePrefix?: string,
): Promise<RowBlendSession | null> {
  const library = nativeOpsLibrary();
  if (!library || !loadFfiApi()) return null;
  const block = await nchwcBlock(ort, library);
  // no blocked layout found: RowBlends would sit between layout conversions, which can cost more than they save
  if (!block) return null;
  const { session, rewrites } = await openRewritten(
    bytes,
    async (model, { optimizedModelFilePath, asSaved }) =>
      FfiSession.create(ort, model, {
        threads,
        graphOptimizationLevel: asSaved ? "disabled" : "all",
        customOpsLibrary: library,
        optimizedModelFilePath,
        profileFilePrefix: optimizedModelFilePath ? undefined : profileFilePrefix,
      })!,
    (optimized) => elideNchwcReorders(optimized, { block }),
  );
  return { runner: fetching(session, outputs), rewrites, block: rewrites ? block : 0 };
}

function fetching(session: FfiSession, outputs: string[]): FfiRunner {
  return {
    run: (feeds) => session.run(feeds, Object.fromEntries(outputs.map((name) => [name, null]))),
    release: () => session.release(),
    endProfiling: () => session.endProfiling(),
  };
}

let probed: Promise<number> | undefined;

/** onnxruntime's NCHWc block size on this CPU as seen through RowBlend (0: none works), probed once. */
export function nchwcBlock(ort: typeof Ort, library: string): Promise<number> {
  probed ??= probeBlock(ort, library).catch(() => 0);
  return probed;
}

const PROBE_CHANNELS = 32;
const PROBE_FRAMES = 4;

async function probeBlock(ort: typeof Ort, library: string): Promise<number> {
  const model = probeModel();
  const input = new ort.Tensor(
    "float32",
    Float32Array.from({ length: PROBE_FRAMES * PROBE_CHANNELS * 25 }, (_, i) => Math.sin(i * 0.37)),
    [PROBE_FRAMES, PROBE_CHANNELS, 5, 5],
  );
  const dir = mkdtempSync(join(tmpdir(), "blvnet-ort-"));
  try {
    const path = join(dir, "probe.onnx");
    const plain = FfiSession.create(ort, model, {
      threads: 1,
      graphOptimizationLevel: "all",
      customOpsLibrary: library,
      optimizedModelFilePath: path,
    })!;
    const want = (await plain.run({ input }, { output: null })).output.data as Float32Array;
    await plain.release();
    const optimized = readFileSync(path);
    for (const block of [16, 8, 4]) {
      const { bytes, rewrites } = elideNchwcReorders(optimized, { block });
      if (!rewrites) return 0; // onnxruntime made no blocked maps here
      const s = FfiSession.create(ort, bytes, { threads: 1, graphOptimizationLevel: "disabled", customOpsLibrary: library })!;
      try {
        const got = (await s.run({ input }, { output: null })).output.data as Float32Array;
        if (got.length === want.length && got.every((v, i) => Object.is(v, want[i]))) return block;
      } finally {
        await s.release();
      }
    }
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** conv 3x3 -> RowBlend (previous, same and next frame, ReLU) -> conv 1x1, with per-channel weights that tell blocks apart. */
function probeModel(): Uint8Array {
  const c = PROBE_CHANNELS;
  const g = new GraphBuilder();
  const values = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.cos(i * 1.3 + seed) * 0.2);
  const conv = (x: string, k: number, name: string) =>
    g.op("Conv", [x, g.setInitializer(name, { dims: [c, c, k, k], data: values(c * c * k * k, k) })], {
      kernel_shape: onnxAttr.ints([k, k]),
      pads: onnxAttr.ints(Array(4).fill((k - 1) / 2)),
    });
  const mapped = conv("input", 3, "w3");
  const w = g.setInitializer("blend.w", { dims: [3, c], data: values(3 * c, 7) });
  const blended = "blended";
  const frames = Array.from({ length: PROBE_FRAMES }, (_, j) => j);
  const node = g.addNode(ROW_BLEND_OP, [w, mapped], [blended], {
    base_rows: onnxAttr.ints([PROBE_FRAMES]),
    term_base: onnxAttr.ints([0, 0, 0]),
    patterns: onnxAttr.ints([...frames.map((j) => j - 1), ...frames, ...frames.map((j) => (j + 1 < PROBE_FRAMES ? j + 1 : -1))]),
    relu: onnxAttr.int(1),
  });
  node.domain = ROW_BLEND_DOMAIN;
  g.addNode("Conv", [blended, g.setInitializer("w1", { dims: [c, c, 1, 1], data: values(c * c, 1) })], ["output"], {
    kernel_shape: onnxAttr.ints([1, 1]),
  });
  return g.toBytes({
    opset: 17,
    graphName: "row-blend-probe",
    inputs: [{ name: "input", dims: [PROBE_FRAMES, c, 5, 5] }],
    outputs: [{ name: "output", dims: [PROBE_FRAMES, c, 5, 5] }],
  });
}
