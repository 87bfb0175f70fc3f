/**
 * Inference with onnxruntime-node: export the model to ONNX in memory, open one session (CPU
 * execution provider; the WebGPU EP over Vulkan/Metal/D3D12, bundled with onnxruntime-node; or CUDA
 * where the user installed its binaries), run Float32Array batches.
 * onnxruntime-node is loaded lazily so commands that never touch it pay nothing for its binding.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { UserError, type VideoModel } from "@blvnet/core";
import type * as Ort from "onnxruntime-node";
import { buildOnnx, type ExportOptions, type OnnxExport } from "../onnx/export.js";
import { explainWebgpuError, vulkanStaticReason } from "./devices.js";
import { elideNchwcReorders } from "./nchwc-reorders.js";
import { webgpuUnsupportedNodes } from "./onnx-nodes.js";
import { deviceOfBackend, deviceSessionOptions, type OrtDevice } from "./providers.js";
import { openRewritten } from "./rewritten-session.js";
import { cpuSessionWithRowBlend, type InferenceRunner, rowBlendStatus } from "./row-blend-session.js";

export const ORT_BACKENDS = ["ort", "ort-webgpu", "ort-cuda"] as const;
export type OrtBackendName = (typeof ORT_BACKENDS)[number];

export function isOrtBackend(name: string | null | undefined): name is OrtBackendName {
  return (ORT_BACKENDS as readonly string[]).includes(name ?? "");
}

export interface OrtSessionOptions extends ExportOptions {
  /** "ort" = CPU execution provider (default), "ort-webgpu" = WebGPU EP (Vulkan/Metal/D3D12), "ort-cuda" = CUDA EP. */
  backend?: OrtBackendName;
  /** Intra-op threads (default: every core). */
  threads?: number;
  /** Graph optimisation level (default "all": BN/conv fusion, NCHWc layouts, ...). */
  graphOptimizationLevel?: "disabled" | "basic" | "extended" | "all";
  /** CPU, level "all": run time shifts on the blocked maps (see nchwc-reorders.ts; default true). */
  blockedShifts?: boolean;
}

export interface OrtEngineOptions extends OrtSessionOptions {
  /**
   * CPU, level "all", blocked shifts on: export each TAM blend as one RowBlend custom op and run it on
   * the blocked maps (row-blend-session.ts; default true where the custom-op library builds).
   */
  rowBlend?: boolean;
}

export interface OrtOutput {
  data: Float32Array;
  shape: number[];
}

let ortModule: typeof Ort | null = null;

/** onnxruntime-node, imported on first use so that importing this package stays cheap. */
export async function loadOrt(): Promise<typeof Ort> {
  if (!ortModule) {
    const m = (await import("onnxruntime-node")) as typeof Ort & { default?: typeof Ort };
    // CommonJS module: the namespace may only carry `default` depending on the loader.
    ortModule = m.InferenceSession ? m : (m.default as typeof Ort);
  }
  return ortModule;
}

/**
 * Whether onnxruntime-node has its CUDA execution provider: the binding must list it and the
 * provider library (downloaded at install time, not bundled in the npm tarball) must be present.
 */
export async function ortCudaStatus(): Promise<{ available: boolean; reason?: string }> {
  const ort = await loadOrt();
  const listed = ort.listSupportedBackends().some((b) => b.name === "cuda");
  if (!listed) return { available: false, reason: "this onnxruntime-node build has no CUDA execution provider" };
  const require = createRequire(import.meta.url);
  const binDir = join(dirname(require.resolve("onnxruntime-node")), "..", "bin", "napi-v6", process.platform, process.arch);
  const lib = process.platform === "win32" ? "onnxruntime_providers_cuda.dll" : "libonnxruntime_providers_cuda.so";
  if (!existsSync(join(binDir, lib))) {
    return {
      available: false,
      reason:
        `the CUDA execution provider of onnxruntime-node is not installed (${lib} missing); install it with ` +
        "`ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node` (needs CUDA 12 and cuDNN 9)",
    };
  }
  return { available: true };
}

/**
 * Session options for a device after its one-line checks: the CUDA EP must be installed, the Vulkan
 * stack present for WebGPU (then nodes the WebGPU EP claims but cannot run are pinned to the CPU EP).
 * Errors are UserErrors naming the backend ("backend ort-webgpu: no Vulkan loader ...").
 */
export async function deviceSession(
  device: OrtDevice,
  bytes: Uint8Array,
  opts: Parameters<typeof deviceSessionOptions>[1] = {},
): Promise<Ort.InferenceSession.SessionOptions> {
  if (device === "cuda") {
    const cuda = await ortCudaStatus();
    if (!cuda.available) throw new UserError(`backend ort-cuda: ${cuda.reason}`);
  }
  if (device === "webgpu") {
    const why = await vulkanStaticReason();
    if (why) throw new UserError(`backend ort-webgpu: ${why}`);
    const pinned = webgpuUnsupportedNodes(bytes).names;
    if (pinned.length) opts = { ...opts, forceCpuNodeNames: [...(opts.forceCpuNodeNames ?? []), ...pinned] };
  }
  return deviceSessionOptions(device, opts);
}

/**
 * Create a session on a device; a WebGPU failure (no adapter, driver too old) becomes a one-line
 * UserError. Used by inference (OrtEngine) and the compiled training step (OrtTrainer).
 */
export async function createDeviceSession(
  ort: typeof Ort,
  device: OrtDevice,
  bytes: Uint8Array,
  opts: Parameters<typeof deviceSessionOptions>[1] = {},
): Promise<Ort.InferenceSession> {
  const options = await deviceSession(device, bytes, opts);
  try {
    return await ort.InferenceSession.create(bytes, options);
  } catch (e) {
    if (device !== "webgpu") throw e;
    throw new UserError(`backend ort-webgpu: ${explainWebgpuError(String((e as Error).message).split("\n")[0])}`);
  }
}

/**
 * A CPU session whose time shifts run on onnxruntime's blocked maps (see nchwc-reorders.ts), opened as
 * rewritten-session.ts describes; `blockedShifts` counts the rewrites (0: the plain session).
 */
export async function cpuSessionWithBlockedShifts(
  ort: typeof Ort,
  bytes: Uint8Array,
  options: Ort.InferenceSession.SessionOptions,
): Promise<{ session: Ort.InferenceSession; blockedShifts: number }> {
  const { session, rewrites } = await openRewritten(
    bytes,
    (model, { optimizedModelFilePath, asSaved }) =>
      ort.InferenceSession.create(
        model,
        optimizedModelFilePath
          ? // errors only: saving an NCHWc-optimised model always warns that it is hardware specific (it is used here, at once)
            { ...options, optimizedModelFilePath, logSeverityLevel: 3 }
          : asSaved
            ? { ...options, graphOptimizationLevel: "disabled" }
            : options,
      ),
    (optimized) => elideNchwcReorders(optimized),
  );
  return { session, blockedShifts: rewrites };
}

export function defaultThreads(): number {
  return availableParallelism();
}

const warned = new Set<string>();
function warnOnce(message: string): void {
  if (!warned.has(message)) console.error(message);
  warned.add(message);
}

function checkThreads(threads: number): number {
  if (!Number.isInteger(threads) || threads < 1) throw new UserError(`--threads must be a positive integer, got ${threads}`);
  return threads;
}

/** One onnxruntime session over an exported model. */
export class OrtEngine {
  private constructor(
    private readonly ort: typeof Ort,
    private readonly session: InferenceRunner,
    /** The export's metadata (names, shapes, opset); its bytes are dropped once the session holds the model. */
    readonly exported: Omit<OnnxExport, "bytes">,
    readonly backend: OrtBackendName,
    readonly threads: number,
    /** Time shifts (and TAM blends) the session runs on blocked maps (0: none, or the rewrite did not apply). */
    readonly blockedShifts: number,
    /** Whether TAM blends run as RowBlend custom ops (OrtEngineOptions.rowBlend). */
    readonly rowBlend = false,
  ) {}

  static async create(model: VideoModel, opts: OrtEngineOptions = {}): Promise<OrtEngine> {
    const threads = checkThreads(opts.threads ?? defaultThreads());
    const cpuAll = (opts.backend ?? "ort") === "ort" && (opts.graphOptimizationLevel ?? "all") === "all" && opts.blockedShifts !== false;
    // RowBlend only where it runs on blocked maps (the probe found a block): the export is made once
    const ort = cpuAll && opts.rowBlend !== false ? await loadOrt() : null;
    if (ort && (await rowBlendStatus(ort)).block) {
      const exported = buildOnnx(model, { ...opts, rowBlend: true });
      if (!exported.rowBlends) return OrtEngine.fromExport(exported, opts); // no TAM: the plain graph
      const { bytes, ...meta } = exported;
      const outputs = [meta.outputName, ...meta.taps.map((t) => t.output)];
      // any failure of the custom-op path (library, probe, session) leaves the plain graph, which always runs
      const fused = await cpuSessionWithRowBlend(ort, bytes, threads, outputs).catch((e: Error) => {
        warnOnce(`blvnet: TAM's RowBlend op failed (${String(e.message).split("\n")[0]}); running the plain graph`);
        return null;
      });
      if (fused) return new OrtEngine(ort, fused.runner, meta, "ort", threads, fused.rewrites, true);
    }
    return OrtEngine.fromExport(buildOnnx(model, opts), opts);
  }

  /** A session over ONNX bytes made by `buildOnnx` (or read back from a file with its metadata). */
  static async fromExport(exported: OnnxExport, opts: OrtSessionOptions = {}): Promise<OrtEngine> {
    if (exported.rowBlends) throw new Error("OrtEngine.fromExport: an export with RowBlend custom ops needs OrtEngine.create");
    const ort = await loadOrt();
    const backend = opts.backend ?? "ort";
    const threads = checkThreads(opts.threads ?? defaultThreads());
    const device = deviceOfBackend(backend) ?? "cpu";
    const sessionOpts = { threads, graphOptimizationLevel: opts.graphOptimizationLevel ?? "all" } as const;
    const { session, blockedShifts } =
      device === "cpu" && sessionOpts.graphOptimizationLevel === "all" && opts.blockedShifts !== false
        ? await cpuSessionWithBlockedShifts(ort, exported.bytes, deviceSessionOptions("cpu", sessionOpts))
        : { session: await createDeviceSession(ort, device, exported.bytes, sessionOpts), blockedShifts: 0 };
    const { bytes: _bytes, ...meta } = exported;
    return new OrtEngine(ort, session as InferenceRunner, meta, backend, threads, blockedShifts);
  }

  /** Logits (or the model's output) for one batch in the model's input layout. */
  async run(input: Float32Array, shape: number[]): Promise<OrtOutput> {
    const result = await this.runAll(input, shape);
    return result.get(this.exported.outputName)!;
  }

  /** Every graph output (the model's output and, for a `taps` export, `tap/<stage>`) by name. */
  async runAll(input: Float32Array, shape: number[]): Promise<Map<string, OrtOutput>> {
    const want = this.exported.inputShape;
    const ok = shape.length === want.length && shape.every((d, i) => want[i] === null || want[i] === d);
    if (!ok) {
      throw new Error(
        `ORT input shape [${shape}] does not match the exported [${want.map((d) => d ?? "N")}]` +
          (want[0] !== null ? " (export with a dynamic batch to vary dim 0)" : ""),
      );
    }
    const feeds = { [this.exported.inputName]: new this.ort.Tensor("float32", input, shape) };
    const result = await this.session.run(feeds);
    return new Map(Object.entries(result).map(([name, t]) => [name, { data: t.data as Float32Array, shape: t.dims.map(Number) }]));
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Export `model` (eval mode, current weights) and open an onnxruntime session over it. */
export function createOrtSession(model: VideoModel, opts: OrtEngineOptions = {}): Promise<OrtEngine> {
  return OrtEngine.create(model, opts);
}
