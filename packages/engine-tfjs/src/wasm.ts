/**
 * The tfjs wasm backend: SIMD always (where the runtime has it), and multi-threaded in Node.
 *
 * tfjs-backend-wasm 4.22 disables threads under Node (WASM_HAS_MULTITHREAD_SUPPORT is hard-coded
 * false, tfjs issue 3830) and, when forced, fails with ERR_WORKER_PATH: its Emscripten pthread
 * workers are started from `blob:` URLs, which Node's Worker rejects, and the pool size comes from
 * os.cpus().length / 2. For the duration of the backend's initialisation only, we
 *   - lend the package a Worker class that starts the worker script it ships (as eval'd code)
 *     instead of the blob URL, and hands each worker the path of the shipped threaded glue script
 *     instead of a Blob of it;
 *   - report 2 x threads logical cores, so the pool gets the requested thread count;
 * then restore worker_threads.Worker and os.cpus. Nothing in node_modules is edited. The workers are
 * unref'd once started, so they do not keep the process alive; `shutdownWasm()` terminates them.
 * Guarded by the exact package version; any failure falls back to one thread with a one-line note.
 * Cost: the build always starts its pool of 8 workers (compiled in), ~0.5 s and ~80 MB per process.
 */

import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import workerThreads from "node:worker_threads";
import * as tf from "@tensorflow/tfjs-core";

const require = createRequire(import.meta.url);

/** The only tfjs-backend-wasm version whose internals the threading shim was written against. */
export const THREADED_WASM_VERSION = "4.22.0";
/** XNNPACK's pool in tfjs-backend-wasm is capped at 8 threads. */
export const MAX_WASM_THREADS = 8;
/** The priority tfjs-backend-wasm registers itself with (kept when we re-register its factory). */
const WASM_PRIORITY = 2;

interface WasmPackage {
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
  version_wasm: string;
}

let pkg: WasmPackage | null = null;

/** Registers the tfjs wasm backend (not yet initialised). */
export async function setupWasm(): Promise<boolean> {
  try {
    if (!pkg) {
      pkg = (await import("@tensorflow/tfjs-backend-wasm")) as unknown as WasmPackage;
      useSharedIdentity(true);
    }
    return tf.findBackendFactory("wasm") !== null;
  } catch {
    return false;
  }
}

let copyingIdentity: tf.KernelConfig | undefined;

/**
 * tfjs-backend-wasm 4.22's Identity kernel copies its input (one single-threaded memcpy), and
 * tfjs-core runs Identity on every tensor a kernel saves for its gradient (engine.clone), so each
 * training step copied every saved activation: time, and peak memory. The cpu and webgl backends'
 * Identity shares the data instead (one more reference on the same dataId, as Reshape does on
 * wasm); tensor data is never written in place, so sharing is exact. `true` (the default, set when
 * the package is loaded) registers that sharing kernel for wasm; `false` restores the package's own.
 */
export function useSharedIdentity(on: boolean): void {
  copyingIdentity ??= tf.getKernel("Identity", "wasm");
  if (!copyingIdentity) return; // the package registered no Identity: leave it alone
  tf.unregisterKernel("Identity", "wasm");
  tf.registerKernel(
    on
      ? {
          kernelName: "Identity",
          backendName: "wasm",
          kernelFunc: ({ inputs, backend }) => {
            const x = inputs.x as tf.TensorInfo;
            (backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
            return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
          },
        }
      : copyingIdentity,
  );
}

export interface WasmInitResult {
  /** Threads XNNPACK actually uses. */
  threads: number;
  /** One line explaining a fallback to fewer threads than asked, if any. */
  note?: string;
}

const workers: workerThreads.Worker[] = [];
let workersDetached = false;
let initialised: WasmInitResult | null = null;

/** Thread count of the initialised wasm backend, or null before initialisation. */
export function wasmThreads(): number | null {
  return initialised?.threads ?? null;
}

/**
 * Initialise the wasm backend with `threads` threads (1 = the plain SIMD build, no workers) and
 * make it the active tfjs backend. The thread count is fixed until `shutdownWasm()`.
 */
export async function initWasm(threads: number): Promise<WasmInitResult> {
  if (!(await setupWasm()) || !pkg) throw new Error("@tensorflow/tfjs-backend-wasm is not installed");
  if (initialised) {
    if (!(await tf.setBackend("wasm"))) throw new Error("wasm backend failed to initialise");
    return initialised;
  }
  let note: string | undefined;
  const want = Math.max(1, Math.min(MAX_WASM_THREADS, Math.floor(threads)));
  if (want > 1) {
    const problem = threadingProblem();
    if (problem) note = `wasm: using 1 thread (${problem})`;
    else {
      try {
        if (await initThreaded(want)) {
          const capped =
            threads > MAX_WASM_THREADS ? `wasm: using ${MAX_WASM_THREADS} threads (the most tfjs-backend-wasm supports)` : undefined;
          return (initialised = { threads: pkg.getThreadsCount(), note: capped });
        }
        note = "wasm: using 1 thread (the threaded build failed to initialise)";
      } catch (e) {
        note = `wasm: using 1 thread (threaded start failed: ${(e as Error).message})`;
      }
      resetWasmFactory();
    }
  }
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
  pkg.setThreadsCount(1);
  if (!(await tf.setBackend("wasm"))) throw new Error("wasm backend failed to initialise");
  initialised = { threads: pkg.getThreadsCount(), note };
  return initialised;
}

interface ThreadAssets {
  workerCode: string;
  glueScript: string;
}

function threadAssets(): ThreadAssets {
  const dist = path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm"));
  const out = path.join(dist, "..", "wasm-out");
  const glueScript = path.join(out, "tfjs-backend-wasm-threaded-simd.js");
  const { wasmWorkerContents } = require(path.join(out, "tfjs-backend-wasm-threaded-simd.worker.js")) as { wasmWorkerContents: string };
  // The package escapes newlines the same way before putting this text in a Blob.
  return { workerCode: wasmWorkerContents.replace(/\n/g, "\\n"), glueScript };
}

/** Why threads cannot be used here, or null. */
function threadingProblem(): string | null {
  if (pkg?.version_wasm !== THREADED_WASM_VERSION) {
    return `threading shim is for tfjs-backend-wasm ${THREADED_WASM_VERSION}, found ${pkg?.version_wasm}`;
  }
  if (typeof SharedArrayBuffer === "undefined") return "no SharedArrayBuffer in this runtime";
  try {
    const a = threadAssets();
    if (!a.workerCode.includes("WasmBackendModuleThreadedSimd(Module)") || !fs.existsSync(a.glueScript)) {
      return "unexpected tfjs-backend-wasm file layout";
    }
  } catch (e) {
    return `tfjs-backend-wasm worker script not found (${(e as Error).message})`;
  }
  return null;
}

/** How long the pthread workers may take to start before we give up on threads. */
const THREAD_START_TIMEOUT_MS = 60_000;

async function initThreaded(threads: number): Promise<boolean> {
  const { workerCode, glueScript } = threadAssets();
  workersDetached = false; // while starting, workers must keep the event loop alive
  let starting = true;
  let failStart: (e: unknown) => void = () => {};
  const startFailed = new Promise<never>((_, reject) => (failStart = reject));
  const NodeWorker = workerThreads.Worker;
  // biome-ignore lint/suspicious/noExplicitAny: matches every overload of Worker.on
  type Listener = (...args: any[]) => void;
  class PthreadWorker extends NodeWorker {
    constructor(url: string | URL, options?: workerThreads.WorkerOptions) {
      const fromBlob = typeof url === "string" && url.startsWith("blob:");
      // execArgv: [] so flags of this process (--input-type=module, --import loaders) do not reach the
      // CommonJS worker script.
      super(fromBlob ? workerCode : url, fromBlob ? { ...options, eval: true, execArgv: [] } : options);
      workers.push(this);
    }
    override postMessage(message: unknown, transfer?: readonly workerThreads.TransferListItem[]): void {
      const m = message as { cmd?: string; urlOrBlob?: unknown } | null;
      // The worker would import the glue script from a blob: URL; give it the shipped file.
      if (m?.cmd === "load" && typeof m.urlOrBlob !== "string") message = { ...m, urlOrBlob: glueScript };
      super.postMessage(message, transfer);
    }
    override ref(): void {
      if (!workersDetached) super.ref();
    }
    // Emscripten rethrows worker errors from its "error" listener (an uncaught exception): while
    // starting, turn them into a failed start instead, so we can fall back to one thread.
    override on(event: string | symbol, listener: Listener): this {
      if (event !== "error") return super.on(event, listener);
      return super.on("error", (e: unknown) => (starting ? failStart(e) : listener(e)));
    }
  }
  const cpus = os.cpus;
  const realCpus = cpus();
  const mutableOs = os as { cpus: () => os.CpuInfo[] };
  const mutableWt = workerThreads as { Worker: typeof workerThreads.Worker };
  mutableWt.Worker = PthreadWorker;
  // The pool size is logical cores / 2 (clamped to 1..8): report 2 x threads.
  mutableOs.cpus = () => Array.from({ length: 2 * threads }, (_, i) => realCpus[i % realCpus.length]);
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
  pkg!.setThreadsCount(threads);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`pthread workers did not start within ${THREAD_START_TIMEOUT_MS / 1000} s`)),
      THREAD_START_TIMEOUT_MS,
    );
  });
  try {
    const ok = await Promise.race([tf.setBackend("wasm"), startFailed, timedOut]);
    if (ok && pkg!.getThreadsCount() !== threads) throw new Error(`asked for ${threads} threads, got ${pkg!.getThreadsCount()}`);
    return ok;
  } catch (e) {
    await stopWorkers(workers.splice(0));
    throw e;
  } finally {
    clearTimeout(timer);
    starting = false;
    mutableWt.Worker = NodeWorker;
    mutableOs.cpus = cpus;
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    // Started pthreads must not keep the event loop alive (they idle in Atomics.wait forever).
    workersDetached = true;
    for (const w of workers) w.unref();
  }
}

/** Drop the wasm backend instance (terminating its pthread workers) and register a fresh factory. */
function resetWasmFactory(): void {
  const factory = tf.findBackendFactory("wasm");
  if (!factory) return;
  tf.removeBackend("wasm"); // disposes the instance, if any: BackendWasm.dispose terminates its pthreads
  tf.registerBackend("wasm", factory, WASM_PRIORITY);
}

/** Terminate workers and wait for them to exit. */
async function stopWorkers(list: workerThreads.Worker[]): Promise<void> {
  // Unref'd workers would not keep the event loop alive while we await their exit.
  workersDetached = false;
  for (const w of list) w.ref();
  await Promise.all(list.map((w) => w.terminate().catch(() => 0)));
}

/**
 * Dispose the wasm backend and terminate its pthread workers. The backend can be initialised again
 * afterwards (with a new thread count). A no-op when wasm was never initialised.
 */
export async function shutdownWasm(): Promise<void> {
  if (!initialised) return;
  const stopping = workers.splice(0);
  resetWasmFactory();
  await stopWorkers(stopping);
  initialised = null;
}
