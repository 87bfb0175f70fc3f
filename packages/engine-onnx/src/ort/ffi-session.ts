/**
 * A CPU session driven through onnxruntime's C API (the library onnxruntime-node ships, called with
 * the koffi FFI) instead of onnxruntime-node's binding, for two reasons. First, the binding (1.30, 1.31)
 * copies every output into a new ArrayBuffer after the run, even outputs the run wrote into buffers
 * the caller passed. The compiled SGD step fetches all weights and momentum buffers every step
 * (~200 MiB on bLVNet-TAM-50), and those copies took ~100 ms of a ~700 ms step. Here a fetch given
 * as a tensor is written in place and handed back as the same object; a fetch given as null is
 * allocated by onnxruntime and copied once into a new tensor (small outputs: loss, logits).
 *
 * Second, the binding cannot register custom ops (blvnet's RowBlend, native-ops.ts).
 *
 * Only what the step and inference need: CPU execution provider, float/int tensors, sequential
 * execution. Where koffi or the library cannot be loaded (a platform without koffi's prebuilt binary), `loadFfiApi`
 * returns null and callers use the binding.
 */
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type * as Ort from "onnxruntime-node";

type Pointer = unknown;
type Fn = (...args: unknown[]) => unknown;

/**
 * OrtApi members used here, by index in the function table. onnxruntime only ever appends members
 * (its ABI rule), so these indices, all from API version 1, hold for every release.
 */
const ORT_API_INDEX = {
  GetErrorMessage: [2, "const char *GetErrorMessage(void *status)"],
  CreateEnv: [3, "void *CreateEnv(int level, const char *logid, _Out_ void **out)"],
  CreateSessionFromArray: [8, "void *CreateSessionFromArray(void *env, const void *data, size_t len, void *opts, _Out_ void **out)"],
  Run: [
    9,
    "void *Run(void *session, void *runOptions, const char **inNames, void **inputs, size_t nIn, const char **outNames, size_t nOut, _Inout_ void **outputs)",
  ],
  CreateSessionOptions: [10, "void *CreateSessionOptions(_Out_ void **out)"],
  SetOptimizedModelFilePath: [11, "void *SetOptimizedModelFilePath(void *opts, const char *path)"],
  EnableProfiling: [14, "void *EnableProfiling(void *opts, const char *prefix)"],
  EnableMemPattern: [16, "void *EnableMemPattern(void *opts)"],
  DisableMemPattern: [17, "void *DisableMemPattern(void *opts)"],
  EnableCpuMemArena: [18, "void *EnableCpuMemArena(void *opts)"],
  DisableCpuMemArena: [19, "void *DisableCpuMemArena(void *opts)"],
  SetSessionLogSeverityLevel: [22, "void *SetSessionLogSeverityLevel(void *opts, int level)"],
  SetSessionGraphOptimizationLevel: [23, "void *SetSessionGraphOptimizationLevel(void *opts, int level)"],
  SetIntraOpNumThreads: [24, "void *SetIntraOpNumThreads(void *opts, int n)"],
  SetInterOpNumThreads: [25, "void *SetInterOpNumThreads(void *opts, int n)"],
  CreateTensorWithDataAsOrtValue: [
    49,
    "void *CreateTensorWithDataAsOrtValue(void *info, void *data, size_t len, const int64_t *shape, size_t rank, int type, _Out_ void **out)",
  ],
  GetTensorMutableData: [51, "void *GetTensorMutableData(void *value, _Out_ void **out)"],
  GetTensorElementType: [60, "void *GetTensorElementType(void *info, _Out_ int *out)"],
  GetDimensionsCount: [61, "void *GetDimensionsCount(void *info, _Out_ size_t *out)"],
  GetDimensions: [62, "void *GetDimensions(void *info, int64_t *dims, size_t n)"],
  GetTensorTypeAndShape: [65, "void *GetTensorTypeAndShape(void *value, _Out_ void **out)"],
  CreateCpuMemoryInfo: [69, "void *CreateCpuMemoryInfo(int allocator, int memType, _Out_ void **out)"],
  AllocatorFree: [76, "void *AllocatorFree(void *allocator, void *p)"],
  GetAllocatorWithDefaultOptions: [78, "void *GetAllocatorWithDefaultOptions(_Out_ void **out)"],
  ReleaseStatus: [93, "void ReleaseStatus(void *p)"],
  ReleaseMemoryInfo: [94, "void ReleaseMemoryInfo(void *p)"],
  ReleaseSession: [95, "void ReleaseSession(void *p)"],
  ReleaseValue: [96, "void ReleaseValue(void *p)"],
  ReleaseTensorTypeAndShapeInfo: [99, "void ReleaseTensorTypeAndShapeInfo(void *p)"],
  ReleaseSessionOptions: [100, "void ReleaseSessionOptions(void *p)"],
  SessionEndProfiling: [110, "void *SessionEndProfiling(void *session, void *allocator, _Out_ void **out)"],
  // since onnxruntime 1.14
  RegisterCustomOpsLibrary_V2: [228, "void *RegisterCustomOpsLibrary_V2(void *opts, const char *path)"],
} as const;
type ApiName = keyof typeof ORT_API_INDEX;
const TABLE_SIZE = 229;
/** Any version from 1 to the library's gives the same table; 1 is what every release accepts. */
const API_VERSION = 1;

/** ONNX element types <-> typed arrays (the ones the step feeds and fetches). */
const ELEMENT_TYPES: Record<string, [number, new (n: number) => ArrayBufferView]> = {
  float32: [1, Float32Array],
  uint8: [2, Uint8Array],
  int8: [3, Int8Array],
  int32: [6, Int32Array],
  int64: [7, BigInt64Array],
  bool: [9, Uint8Array],
  float64: [11, Float64Array],
};
const TYPE_NAMES = new Map(Object.entries(ELEMENT_TYPES).map(([name, [id]]) => [id, name]));

const GRAPH_LEVELS = { disabled: 0, basic: 1, extended: 2, all: 99 } as const;

export interface FfiSessionOptions {
  threads: number;
  graphOptimizationLevel?: keyof typeof GRAPH_LEVELS;
  enableCpuMemArena?: boolean;
  enableMemPattern?: boolean;
  /** Write onnxruntime's profile (JSON) with this path prefix; `endProfiling` returns the file. */
  profileFilePrefix?: string;
  /** Save the optimised model here (as onnxruntime-node's `optimizedModelFilePath`). */
  optimizedModelFilePath?: string;
  /** A custom-op library to register (see native-ops.ts). */
  customOpsLibrary?: string;
}

/** A tensor's OrtValue and the memory it was made over. */
interface WrappedValue {
  value: Pointer;
  buffer: ArrayBufferLike;
  bytes: number;
}

class FfiApi {
  private env: Pointer = null;
  private cpu: Pointer = null;
  private readonly values = new WeakMap<Ort.Tensor, WrappedValue>();
  private readonly collected = new FinalizationRegistry<WrappedValue>((entry) => this.release("ReleaseValue", entry.value));

  constructor(
    readonly koffi: typeof import("koffi"),
    private readonly fns: Record<ApiName, Fn>,
  ) {}

  call(name: ApiName, ...args: unknown[]): void {
    this.check(this.fns[name](...args));
  }

  release(name: ApiName, p: Pointer): void {
    if (p) this.fns[name](p);
  }

  /** Call a function whose last parameter is an `_Out_` pointer; returns what it wrote. */
  out<T = Pointer>(name: ApiName, ...args: unknown[]): T {
    const box: unknown[] = [null];
    this.call(name, ...args, box);
    return box[0] as T;
  }

  private check(status: unknown): void {
    if (!status) return;
    const message = this.fns.GetErrorMessage(status) as string;
    this.fns.ReleaseStatus(status);
    throw new Error(`onnxruntime: ${message}`);
  }

  /**
   * The OrtValue over a CPU tensor's memory (no copy), made once per tensor: a trainer feeds the same
   * weight and momentum tensors every step (~700 values a step otherwise). Released after the tensor
   * is collected; it only points at the tensor's memory, which lives as long as the tensor.
   */
  valueOf(t: Ort.Tensor): Pointer {
    const data = stableData(t);
    const known = this.values.get(t);
    if (known && known.buffer === data.buffer && data.byteLength === known.bytes) return known.value;
    const type = ELEMENT_TYPES[t.type];
    if (!type || t.location !== "cpu") throw new Error(`FfiSession: unsupported tensor (${t.type} on ${t.location})`);
    if (t.size > 0 && data.byteLength === 0) throw new Error("FfiSession: the tensor's memory was detached");
    const value = this.out(
      "CreateTensorWithDataAsOrtValue",
      this.shared().cpu,
      data,
      data.byteLength,
      BigInt64Array.from(t.dims, BigInt),
      t.dims.length,
      type[0],
    );
    if (known) {
      this.release("ReleaseValue", known.value);
      Object.assign(known, { value, buffer: data.buffer, bytes: data.byteLength });
    } else {
      const entry = { value, buffer: data.buffer, bytes: data.byteLength };
      this.values.set(t, entry);
      this.collected.register(t, entry);
    }
    return value;
  }

  /** One environment and one CPU memory description for every session (onnxruntime's env is a process singleton). */
  shared(): { env: Pointer; cpu: Pointer } {
    this.env ??= this.out("CreateEnv", 3, "blvnet"); // 3 = ORT_LOGGING_LEVEL_ERROR
    this.cpu ??= this.out("CreateCpuMemoryInfo", 0, 0); // OrtDeviceAllocator, OrtMemTypeDefault
    return { env: this.env, cpu: this.cpu };
  }
}

let api: FfiApi | null | undefined;

/** The shared library inside onnxruntime-node's package for this platform, if there is one. */
function libraryPath(require: NodeJS.Require): string | null {
  const dir = join(dirname(require.resolve("onnxruntime-node/package.json")), "bin", "napi-v6", process.platform, process.arch);
  const name = readdirSync(dir).find((f) => /^libonnxruntime\.(so\.\d+|\d+(\.\d+)*\.dylib)$/.test(f));
  return name ? join(dir, name) : null;
}

/** The C API through koffi, or null where koffi or the library cannot be loaded (then use the binding). */
export function loadFfiApi(): FfiApi | null {
  if (api !== undefined) return api;
  api = null;
  try {
    const require = createRequire(import.meta.url);
    // The binding first: loaded after koffi has loaded the library, it crashes the process on its
    // first session after ours (seen with onnxruntime-node 1.30 under vitest's forks).
    require("onnxruntime-node");
    const koffi = require("koffi") as typeof import("koffi");
    const path = libraryPath(require);
    if (!path) return api;
    const lib = koffi.load(path);
    const base = lib.func("void *OrtGetApiBase()")() as Pointer;
    const [getApiPtr] = koffi.decode(base, koffi.array("void *", 2)) as Pointer[];
    const getApi = koffi.decode(getApiPtr, koffi.proto("void *OrtGetApi(uint32_t version)")) as Fn;
    const table = koffi.decode(getApi(API_VERSION), koffi.array("void *", TABLE_SIZE)) as Pointer[];
    const fns = {} as Record<ApiName, Fn>;
    for (const [name, [index, signature]] of Object.entries(ORT_API_INDEX))
      fns[name as ApiName] = koffi.decode(table[index], koffi.proto(signature)) as Fn;
    api = new FfiApi(koffi, fns);
  } catch {
    api = null;
  }
  return api;
}

/** The tensor's memory made stable for the run: a small typed array may live on the JS heap, which moves; `.buffer` moves it off. */
function stableData(t: Ort.Tensor): ArrayBufferView {
  const data = t.data as ArrayBufferView;
  void data.buffer;
  return data;
}

export class FfiSession {
  private constructor(
    private readonly api: FfiApi,
    private readonly ort: typeof Ort,
    private handle: Pointer,
  ) {}

  /** A CPU session over ONNX bytes; null when the C API is not available here (use the binding). */
  static create(ort: typeof Ort, bytes: Uint8Array, opts: FfiSessionOptions): FfiSession | null {
    const api = loadFfiApi();
    if (!api) return null;
    const { env } = api.shared();
    const so = api.out("CreateSessionOptions");
    try {
      // errors only: the env may be onnxruntime-node's (a process singleton) at its warning level, and
      // saving an NCHWc-optimised model always warns that it is hardware specific (it is used at once)
      api.call("SetSessionLogSeverityLevel", so, 3);
      api.call("SetIntraOpNumThreads", so, opts.threads);
      api.call("SetInterOpNumThreads", so, 1);
      api.call("SetSessionGraphOptimizationLevel", so, GRAPH_LEVELS[opts.graphOptimizationLevel ?? "all"]);
      api.call(opts.enableCpuMemArena === false ? "DisableCpuMemArena" : "EnableCpuMemArena", so);
      api.call(opts.enableMemPattern === false ? "DisableMemPattern" : "EnableMemPattern", so);
      if (opts.profileFilePrefix) api.call("EnableProfiling", so, opts.profileFilePrefix);
      if (opts.optimizedModelFilePath) api.call("SetOptimizedModelFilePath", so, opts.optimizedModelFilePath);
      if (opts.customOpsLibrary) api.call("RegisterCustomOpsLibrary_V2", so, opts.customOpsLibrary);
      return new FfiSession(api, ort, api.out("CreateSessionFromArray", env, bytes, bytes.byteLength, so));
    } finally {
      api.release("ReleaseSessionOptions", so);
    }
  }

  /**
   * Run with onnxruntime-node's calling convention. A fetch given as a tensor is written in place
   * and returned as that same tensor (no copy); a null fetch is allocated by onnxruntime and copied
   * once into a new tensor.
   */
  async run(feeds: Record<string, Ort.Tensor>, fetches: Record<string, Ort.Tensor | null>): Promise<Record<string, Ort.Tensor>> {
    if (!this.handle) throw new Error("FfiSession.run: the session was released");
    const created: Pointer[] = [];
    try {
      const inNames = Object.keys(feeds);
      const inputs = inNames.map((n) => this.api.valueOf(feeds[n]));
      const outNames = Object.keys(fetches);
      const outputs = outNames.map((n) => (fetches[n] ? this.api.valueOf(fetches[n]!) : null));
      this.api.call("Run", this.handle, null, inNames, inputs, inNames.length, outNames, outNames.length, outputs);
      const result: Record<string, Ort.Tensor> = {};
      outNames.forEach((n, i) => {
        const given = fetches[n];
        if (given) result[n] = given;
        else {
          created.push(outputs[i]);
          result[n] = this.copyOut(outputs[i]);
        }
      });
      return result;
    } finally {
      for (const v of created) this.api.release("ReleaseValue", v);
    }
  }

  /** A new tensor holding a copy of an onnxruntime-allocated output. */
  private copyOut(value: Pointer): Ort.Tensor {
    const { api } = this;
    const info = api.out("GetTensorTypeAndShape", value);
    try {
      const typeId = api.out<number>("GetTensorElementType", info);
      const rank = Number(api.out<number | bigint>("GetDimensionsCount", info));
      const dims = new BigInt64Array(rank);
      api.call("GetDimensions", info, dims, rank);
      const shape = Array.from(dims, Number);
      const name = TYPE_NAMES.get(typeId);
      if (!name) throw new Error(`FfiSession: unsupported output element type ${typeId}`);
      const [, Ctor] = ELEMENT_TYPES[name];
      const count = shape.reduce((a, b) => a * b, 1);
      const data = new Ctor(count);
      if (count) {
        const src = api.koffi.view(api.out("GetTensorMutableData", value), data.byteLength);
        new Uint8Array(data.buffer).set(new Uint8Array(src));
      }
      return new this.ort.Tensor(name as "float32", data as Float32Array, shape);
    } finally {
      api.release("ReleaseTensorTypeAndShapeInfo", info);
    }
  }

  /** Stop profiling; returns the profile file's name (null when the session was not profiling or is released). */
  endProfiling(): string | null {
    if (!this.handle) return null;
    const { api } = this;
    const allocator = api.out("GetAllocatorWithDefaultOptions");
    const name = api.out("SessionEndProfiling", this.handle, allocator);
    if (!name) return null;
    try {
      return (api.koffi.decode(name, "char", -1) as string) || null;
    } finally {
      api.call("AllocatorFree", allocator, name);
    }
  }

  async release(): Promise<void> {
    this.api.release("ReleaseSession", this.handle);
    this.handle = null;
  }
}
