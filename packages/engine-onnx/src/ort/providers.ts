/**
 * Execution-provider selection for onnxruntime-node 1.30: one `OrtDevice` ("cpu" | "webgpu" | "cuda")
 * per session, mapped to the `executionProviders` list and the few session options each EP needs.
 *
 * - "webgpu": the WebGPU EP that onnxruntime-node 1.30 bundles on Linux x64 / macOS / Windows (Dawn,
 *   statically linked into libonnxruntime.so.1). On Linux it needs a Vulkan loader (libvulkan.so.1) and
 *   an ICD: the NVIDIA driver's, Mesa's radv/anv, or Mesa >= 23 lavapipe (software). The loader wants
 *   XDG_RUNTIME_DIR: `prepareDeviceEnv()` sets it to a private temp folder when unset.
 * - "cuda": the CUDA EP; its provider library is not in the npm tarball (install script downloads it).
 *
 * Nodes an EP has no kernel for run on the CPU EP (onnxruntime appends it implicitly): see placement.ts.
 * Imports nothing from the rest of the project.
 */
import { mkdirSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import type * as Ort from "onnxruntime-node";

export const ORT_DEVICES = ["cpu", "webgpu", "cuda"] as const;
export type OrtDevice = (typeof ORT_DEVICES)[number];

/** Backend names of the CLI (`--backend`) and the device each one runs on. */
export const ORT_BACKEND_DEVICES = { ort: "cpu", "ort-webgpu": "webgpu", "ort-cuda": "cuda" } as const satisfies Record<string, OrtDevice>;
export type OrtGpuBackendName = keyof typeof ORT_BACKEND_DEVICES;

export function isOrtDevice(s: string | null | undefined): s is OrtDevice {
  return (ORT_DEVICES as readonly string[]).includes(s ?? "");
}

export function deviceOfBackend(backend: string): OrtDevice | null {
  return (ORT_BACKEND_DEVICES as Record<string, OrtDevice>)[backend] ?? null;
}

export interface DeviceSessionOptions {
  /** Intra-op threads of the CPU EP (the whole session on "cpu"; fallback nodes on a GPU). */
  threads?: number;
  graphOptimizationLevel?: "disabled" | "basic" | "extended" | "all";
  /** WebGPU: where outputs stay ("gpu-buffer" = on the device; per output name allowed). Default: cpu. */
  preferredOutputLocation?: Ort.InferenceSession.SessionOptions["preferredOutputLocation"];
  /** WebGPU: Dawn validation ('basic' by default; 'disabled' is faster but a device error can crash the process). */
  validationMode?: "disabled" | "wgpuOnly" | "basic" | "full";
  /** WebGPU: node names to run on the CPU EP (see onnx-nodes.ts `webgpuUnsupportedNodes`). */
  forceCpuNodeNames?: string[];
  /** CUDA: device ordinal. */
  deviceId?: number;
  enableProfiling?: boolean;
  profileFilePrefix?: string;
  /** CPU memory arena and memory pattern of the session (onnxruntime's defaults: both on). */
  enableCpuMemArena?: boolean;
  enableMemPattern?: boolean;
}

/**
 * Make the process ready for the Vulkan loader: XDG_RUNTIME_DIR set to a private writable folder when
 * unset (the loader prints an error and some ICDs fail without it). Idempotent; returns the folder.
 */
export function prepareDeviceEnv(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_RUNTIME_DIR) return env.XDG_RUNTIME_DIR;
  let user = "user";
  try {
    user = userInfo().username || String(process.getuid?.() ?? "user");
  } catch {
    /* no passwd entry (containers): keep "user" */
  }
  const dir = join(tmpdir(), `blvnet-xdg-${user}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  env.XDG_RUNTIME_DIR = dir;
  return dir;
}

/** The `executionProviders` entry for a device (CPU fallback is implicit). */
export function executionProvidersFor(device: OrtDevice, opts: DeviceSessionOptions = {}): Ort.InferenceSession.ExecutionProviderConfig[] {
  switch (device) {
    case "cpu":
      return ["cpu"];
    case "webgpu":
      return [
        {
          name: "webgpu",
          ...(opts.validationMode ? { validationMode: opts.validationMode } : {}),
          ...(opts.forceCpuNodeNames?.length ? { forceCpuNodeNames: opts.forceCpuNodeNames } : {}),
        },
      ];
    case "cuda":
      return [{ name: "cuda", deviceId: opts.deviceId ?? 0 }];
  }
}

/** Complete session options for a device (sequential execution, one inter-op thread, as the CPU path uses). */
export function deviceSessionOptions(device: OrtDevice, opts: DeviceSessionOptions = {}): Ort.InferenceSession.SessionOptions {
  if (device === "webgpu") prepareDeviceEnv();
  const o: Ort.InferenceSession.SessionOptions = {
    executionProviders: executionProvidersFor(device, opts),
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: opts.graphOptimizationLevel ?? "all",
  };
  if (opts.threads !== undefined) o.intraOpNumThreads = opts.threads;
  if (opts.enableCpuMemArena !== undefined) o.enableCpuMemArena = opts.enableCpuMemArena;
  if (opts.enableMemPattern !== undefined) o.enableMemPattern = opts.enableMemPattern;
  if (opts.preferredOutputLocation !== undefined) {
    if (device !== "webgpu")
      throw new Error(`preferredOutputLocation is supported by the webgpu device only in onnxruntime-node (got ${device})`);
    o.preferredOutputLocation = opts.preferredOutputLocation;
  }
  if (opts.enableProfiling) {
    o.enableProfiling = true;
    if (opts.profileFilePrefix) o.profileFilePrefix = opts.profileFilePrefix;
  }
  return o;
}
