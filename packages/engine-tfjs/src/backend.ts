/**
 * tfjs backend selection by priority: tensorflow (tfjs-node-gpu, then tfjs-node), wasm, cpu.
 * tfjs-node(-gpu) are optional peers: absent ones are skipped silently unless asked for by name,
 * which is a one-line UserError naming the package to install.
 */
import { availableParallelism } from "node:os";
import * as tf from "@tensorflow/tfjs-core";
// tfjs-core's CommonJS build registers no gradients: grads.ts imports the @tensorflow/tfjs bundle
// (which registers them all) and then replaces the conv/gather rules with fast exact ones.
import "./grads.js";
import "@tensorflow/tfjs-backend-cpu";
import { UserError } from "@blvnet/core";
import { initWasm, setupWasm, shutdownWasm, wasmThreads } from "./wasm.js";

export const BACKEND_PRIORITY = ["tensorflow", "wasm", "cpu"] as const;
export type BackendName = (typeof BACKEND_PRIORITY)[number];

export interface BackendInfo {
  name: BackendName;
  /** Package providing it. */
  package: string;
  available: boolean;
  note?: string;
}

const NODE_PACKAGES = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"];

async function tryImport(pkg: string): Promise<boolean> {
  try {
    await import(pkg);
    return true;
  } catch {
    return false;
  }
}

let tensorflowPackage: string | null | undefined;

/** Loads tfjs-node-gpu or tfjs-node once; returns the package that registered "tensorflow". */
async function loadTensorflow(): Promise<string | null> {
  if (tensorflowPackage !== undefined) return tensorflowPackage;
  tensorflowPackage = null;
  for (const pkg of NODE_PACKAGES) {
    if (await tryImport(pkg)) {
      tensorflowPackage = pkg;
      break;
    }
  }
  return tensorflowPackage;
}

let wasmLoaded = false;
async function loadWasm(): Promise<boolean> {
  if (wasmLoaded) return true;
  wasmLoaded = await setupWasm();
  return wasmLoaded;
}

export async function listBackends(): Promise<BackendInfo[]> {
  const tfPkg = await loadTensorflow();
  return [
    {
      name: "tensorflow",
      package: tfPkg ?? NODE_PACKAGES.join(" or "),
      available: tfPkg !== null,
      note: tfPkg ? undefined : "optional: npm install @tensorflow/tfjs-node (CPU) or @tensorflow/tfjs-node-gpu (CUDA)",
    },
    { name: "wasm", package: "@tensorflow/tfjs-backend-wasm", available: await loadWasm() },
    { name: "cpu", package: "@tensorflow/tfjs-backend-cpu", available: true },
  ];
}

/** The backend asked for: explicit argument, then BLVNET_BACKEND, else null (auto). */
export function requestedBackend(explicit?: string): string | null {
  return explicit ?? process.env.BLVNET_BACKEND ?? null;
}

/** Check a backend name without initialising it (fails fast on typos and missing packages). */
export async function checkBackend(name: string): Promise<BackendName> {
  if (!(BACKEND_PRIORITY as readonly string[]).includes(name)) {
    throw new UserError(`unknown backend "${name}"; choose one of ${BACKEND_PRIORITY.join(", ")}`);
  }
  if (name === "tensorflow" && !(await loadTensorflow())) {
    throw new UserError(
      'backend "tensorflow" is not installed: run `npm install @tensorflow/tfjs-node` (CPU) or `npm install @tensorflow/tfjs-node-gpu` (CUDA GPU)',
    );
  }
  if (name === "wasm" && !(await loadWasm())) throw new UserError('backend "wasm" failed to initialise (@tensorflow/tfjs-backend-wasm)');
  return name as BackendName;
}

let active: BackendName | null = null;

export interface InitBackendOptions {
  /**
   * wasm only: worker threads for XNNPACK (default: env BLVNET_THREADS, else the number of logical
   * cores; at most 8). Fixed at the first wasm initialisation of the process (until shutdownBackend).
   */
  threads?: number;
}

/** The wasm thread count asked for: option, then BLVNET_THREADS, else all logical cores. */
export function requestedThreads(explicit?: number): number {
  if (explicit !== undefined) {
    if (!Number.isInteger(explicit) || explicit < 1) throw new UserError(`threads must be a positive integer, got ${explicit}`);
    return explicit;
  }
  const env = process.env.BLVNET_THREADS;
  if (env !== undefined && env !== "") {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new UserError(`BLVNET_THREADS must be a positive integer, got "${env}"`);
    return n;
  }
  return availableParallelism();
}

let printedNote: string | undefined;

/**
 * Select and initialise a tfjs backend (explicit name, BLVNET_BACKEND, or the best available).
 * With wasm and more than one thread, pthread workers are started; they do not keep the process
 * alive, but a CLI should still call `shutdownBackend()` (or exit explicitly) when done.
 */
export async function initBackend(explicit?: string, opts: InitBackendOptions = {}): Promise<BackendName> {
  const asked = requestedBackend(explicit);
  let chosen: BackendName;
  if (asked) chosen = await checkBackend(asked);
  else {
    const avail = await listBackends();
    chosen = avail.find((b) => b.available)!.name;
  }
  if (active === chosen && tf.getBackend() === chosen) return chosen;
  tf.env().set("PROD", true); // no debug checks, no "install tfjs-node" banner
  if (chosen === "wasm") {
    const threads = requestedThreads(opts.threads);
    try {
      const { note } = await initWasm(threads);
      if (note && note !== printedNote) console.warn((printedNote = note));
    } catch (e) {
      throw new UserError(`backend "wasm" failed to initialise: ${(e as Error).message}`);
    }
  } else if (!(await tf.setBackend(chosen))) throw new UserError(`backend "${chosen}" failed to initialise`);
  await tf.ready();
  active = chosen;
  return chosen;
}

/**
 * Threads the active backend computes with: the wasm pool size, 1 for cpu, undefined when unknown
 * (tensorflow manages its own pools).
 */
export function backendThreads(): number | undefined {
  const name = tf.getBackend();
  if (name === "wasm") return wasmThreads() ?? 1;
  if (name === "cpu") return 1;
  return undefined;
}

/**
 * Release what the backend holds outside the JS heap: terminates the wasm pthread workers and
 * disposes the wasm backend (it can be initialised again). CLIs and scripts should call this (or
 * `process.exit`) when finished; tensors of the wasm backend are invalid afterwards.
 */
export async function shutdownBackend(): Promise<void> {
  await shutdownWasm();
  active = null;
}

export function activeBackend(): BackendName | null {
  return active;
}
