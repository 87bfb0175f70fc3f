/**
 * `ortDevices()`: which onnxruntime backends work here (ort = CPU EP, ort-webgpu = WebGPU EP over
 * Vulkan/Metal/D3D12, ort-cuda = CUDA EP), the adapter or GPU name and driver, and a one-line reason when
 * one does not. For `blvnet env`.
 *
 * Availability is decided by running a one-node model (y = x + x) on the EP in a child process (a
 * failing GPU stack can abort or hang the process that tries it; the child has a time limit), after
 * cheap static checks that give a better reason (EP not in this build, no Vulkan loader, no ICD,
 * CUDA provider library missing). Names and drivers come from nvidia-smi, /proc/driver/nvidia/version,
 * `vulkaninfo --summary` where installed, and the Vulkan ICD manifests (Dawn does not report its
 * adapter through onnxruntime-node).
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { delimiter, dirname, isAbsolute, join } from "node:path";
import { promisify } from "node:util";
import { ortModulePath } from "./placement.js";
import { executionProvidersFor, type OrtDevice, prepareDeviceEnv } from "./providers.js";
import { tinyAddModel } from "./tiny-onnx.js";

const run = promisify(execFile);

export interface OrtDeviceInfo {
  backend: "ort" | "ort-webgpu" | "ort-cuda";
  device: OrtDevice;
  available: boolean;
  /** CPU model, GPU name or Vulkan adapter (best knowledge; `adapterSource` says from where). */
  adapter?: string;
  adapterSource?: "cpu" | "nvidia-smi" | "vulkaninfo" | "icd-manifest";
  driver?: string;
  /** Vulkan ICD manifests the loader will consider (webgpu on Linux). */
  vulkanIcds?: string[];
  /** One line: why it is not available. */
  reason?: string;
  /** Wall time of the probe (session creation + one run in a child process), ms. */
  probeMs?: number;
}

export interface NvidiaGpu {
  name: string;
  driver: string;
  memoryMiB: number;
}

/** `nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader,nounits` output. */
export function parseNvidiaSmiGpus(text: string): NvidiaGpu[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => l.split(",").map((s) => s.trim()))
    .filter((f) => f.length >= 3)
    .map(([name, driver, mem]) => ({ name, driver, memoryMiB: Number(mem) }));
}

export async function nvidiaGpus(): Promise<NvidiaGpu[] | null> {
  try {
    const { stdout } = await run("nvidia-smi", ["--query-gpu=name,driver_version,memory.total", "--format=csv,noheader,nounits"], {
      timeout: 15_000,
    });
    return parseNvidiaSmiGpus(stdout);
  } catch {
    // No nvidia-smi: the kernel module still says its version.
    try {
      const v = readFileSync("/proc/driver/nvidia/version", "utf8");
      const m = /Kernel Module(?: for [^ ]+)?\s+([0-9.]+)/.exec(v);
      return m ? [{ name: "NVIDIA GPU (nvidia-smi not found)", driver: m[1], memoryMiB: NaN }] : null;
    } catch {
      return null;
    }
  }
}

/** `vulkaninfo --summary` → the devices' names and drivers. */
export function parseVulkaninfoSummary(
  text: string,
): { deviceName: string; driverName?: string; driverInfo?: string; deviceType?: string }[] {
  const out: { deviceName: string; driverName?: string; driverInfo?: string; deviceType?: string }[] = [];
  let cur: (typeof out)[number] | null = null;
  for (const line of text.split("\n")) {
    const m = /^\s*(deviceName|driverName|driverInfo|deviceType)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === "deviceName") {
      cur = { deviceName: m[2].trim() };
      out.push(cur);
    } else if (cur) cur[m[1] as "driverName" | "driverInfo" | "deviceType"] = m[2].trim();
  }
  return out;
}

/** Whether the Vulkan loader can be dlopen'ed: LD_LIBRARY_PATH, then the ld.so cache, then the usual folders. */
export async function findVulkanLoader(env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  const lib = "libvulkan.so.1";
  for (const d of (env.LD_LIBRARY_PATH ?? "").split(delimiter).filter(Boolean)) if (existsSync(join(d, lib))) return join(d, lib);
  try {
    const { stdout } = await run("/sbin/ldconfig", ["-p"], { timeout: 10_000 });
    const m = new RegExp(`${lib.replace(/\./g, "\\.")} \\(([^)]*)\\) => (\\S+)`).exec(stdout);
    if (m && (process.arch !== "x64" || m[1].includes("x86-64"))) return m[2];
  } catch {
    /* no ldconfig */
  }
  for (const d of ["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"])
    if (existsSync(join(d, lib))) return join(d, lib);
  return null;
}

/** The ICD manifests the Vulkan loader would read (VK_DRIVER_FILES / VK_ICD_FILENAMES override the search). */
export function vulkanIcdManifests(env: NodeJS.ProcessEnv = process.env): string[] {
  const explicit = env.VK_DRIVER_FILES ?? env.VK_ICD_FILENAMES;
  if (explicit) return explicit.split(delimiter).filter((p) => p && existsSync(p));
  const dataDirs = [
    env.XDG_DATA_HOME ?? join(env.HOME ?? "/root", ".local/share"),
    ...(env.XDG_DATA_DIRS ?? "/usr/local/share:/usr/share").split(delimiter),
  ];
  const dirs = [...new Set(["/etc/vulkan/icd.d", ...dataDirs.map((d) => join(d, "vulkan/icd.d"))])];
  const out: string[] = [];
  for (const d of dirs) {
    try {
      for (const f of readdirSync(d).sort()) if (f.endsWith(".json")) out.push(join(d, f));
    } catch {
      /* folder absent */
    }
  }
  return out;
}

/** Where NVIDIA drivers put their ICD when the loader's search path does not hold it (containers). */
export const NVIDIA_ICD_FALLBACKS = [
  "/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json",
  "/usr/share/vulkan/icd.d/nvidia_icd.json",
  "/etc/vulkan/icd.d/nvidia_icd.json",
];

function icdLibrary(manifest: string): string | null {
  try {
    const j = JSON.parse(readFileSync(manifest, "utf8")) as { ICD?: { library_path?: string } };
    return j.ICD?.library_path ?? null;
  } catch {
    return null;
  }
}

/** Usable ICDs: the manifest's library must exist (absolute path) or be a bare name (resolved by dlopen). */
function usableIcds(manifests: string[]): { manifest: string; library: string }[] {
  const out: { manifest: string; library: string }[] = [];
  for (const m of manifests) {
    const lib = icdLibrary(m);
    if (!lib) continue;
    const path = isAbsolute(lib) ? lib : lib.includes("/") ? join(dirname(m), lib) : lib;
    if (path.includes("/") && !existsSync(path)) continue;
    out.push({ manifest: m, library: path });
  }
  return out;
}

async function mesaVersion(): Promise<string | undefined> {
  try {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
    const { stdout } = await run("dpkg-query", ["-W", "-f=${Version}", "mesa-vulkan-drivers"], { timeout: 10_000 });
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

const PROBE_CHILD = `
const ort = require(process.env.BLVNET_ORT_PATH);
const opts = JSON.parse(process.env.BLVNET_PROBE_OPTS);
const bytes = Buffer.from(process.env.BLVNET_PROBE_MODEL, "base64");
(async () => {
  const s = await ort.InferenceSession.create(bytes, opts);
  const r = await s.run({ x: new ort.Tensor("float32", Float32Array.of(1, 2, 3, 4), [4]) });
  const y = Array.from(r.y.data);
  await s.release();
  if (y.join(",") !== "2,4,6,8") throw new Error("wrong result " + y.join(","));
  process.stdout.write("BLVNET_PROBE_OK\\n");
  process.exit(0);
})().catch((e) => { process.stdout.write("BLVNET_PROBE_ERROR " + String((e && e.message) || e).split("\\n")[0] + "\\n"); process.exit(3); });
`;

/** Run y = x + x on a device in a child process: ok, or the first error line (onnxruntime's or the GPU stack's). */
export async function probeDevice(
  device: OrtDevice,
  timeoutMs = 60_000,
): Promise<{ ok: boolean; error?: string; ms: number; stderr: string }> {
  if (device === "webgpu") prepareDeviceEnv();
  const opts = { executionProviders: executionProvidersFor(device), intraOpNumThreads: 1, logSeverityLevel: 3 };
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["-e", PROBE_CHILD], {
      env: {
        ...process.env,
        BLVNET_ORT_PATH: ortModulePath(),
        BLVNET_PROBE_OPTS: JSON.stringify(opts),
        BLVNET_PROBE_MODEL: Buffer.from(tinyAddModel()).toString("base64"),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err = (err + c.toString()).slice(-20_000)));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    let settled = false;
    const done = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const ms = performance.now() - t0;
      if (out.includes("BLVNET_PROBE_OK")) return resolve({ ok: true, ms, stderr: err });
      const msg = /BLVNET_PROBE_ERROR (.*)/.exec(out)?.[1];
      const errLine = err.split("\n").find((l) => /error|fail|not found|cannot|unable/i.test(l) && !/artificially reduced/.test(l));
      const error = timedOut
        ? `no answer within ${Math.round(timeoutMs / 1000)} s`
        : (msg ?? errLine ?? `probe exited with ${signal ?? `code ${code}`}`);
      resolve({ ok: false, error: error.trim().slice(0, 2000), ms, stderr: err });
    };
    child.on("error", (e) => {
      err += `${String(e)}\n`;
      done(null, null);
    });
    child.on("close", done);
  });
}

/** One-line reasons for the usual webgpu failures, from onnxruntime / Dawn messages. */
export function explainWebgpuError(error: string): string {
  // onnxruntime prefixes "/onnxruntime_src/...cc:136 fn(...) <condition> was false. " to the message.
  error = error.replace(/^.*? was false\.\s*/, "").replace(/^\/onnxruntime_src\/\S+ /, "");
  if (error.length > 240) error = `${error.slice(0, 240)}...`;
  if (/shaderUniform.*ArrayDynamicIndexing|ArrayDynamicIndexing/i.test(error))
    return `the Vulkan driver is too old for Dawn (Mesa lavapipe < 23?): ${error}`;
  if (/Failed to get a WebGPU (adapter|device)|No.*adapter/i.test(error)) return `no WebGPU adapter (no usable Vulkan device): ${error}`;
  return error;
}

/** Why the Vulkan stack cannot work here (Linux), from files alone; null when a loader and an ICD are present. */
export async function vulkanStaticReason(): Promise<string | null> {
  if (process.platform !== "linux") return null;
  if (!(await findVulkanLoader()))
    return "no Vulkan loader (libvulkan.so.1): install libvulkan1, or use a bundle made with --with-vulkan-loader";
  if (usableIcds(vulkanIcdManifests()).length === 0) {
    const nvIcd = NVIDIA_ICD_FALLBACKS.find((p) => existsSync(p));
    return nvIcd
      ? `no Vulkan driver on the loader's search path; the NVIDIA one is at ${nvIcd}: export VK_DRIVER_FILES=${nvIcd}`
      : "no Vulkan driver (ICD): install the GPU driver's Vulkan ICD, or mesa-vulkan-drivers >= 23 (lavapipe) for a software device";
  }
  return null;
}

/** The three onnxruntime backends as `blvnet env` lists them. */
export async function ortDevices(opts: { probe?: boolean; timeoutMs?: number } = {}): Promise<OrtDeviceInfo[]> {
  const probe = opts.probe ?? true;
  let bundled: { name: string; bundled: boolean }[] = [];
  let loadError: string | null = null;
  try {
    const m = (await import("onnxruntime-node")) as unknown as {
      listSupportedBackends?: () => { name: string; bundled: boolean }[];
      default?: { listSupportedBackends: () => { name: string; bundled: boolean }[] };
    };
    bundled = (m.listSupportedBackends ?? m.default!.listSupportedBackends)();
  } catch (e) {
    loadError = `onnxruntime-node does not load: ${String((e as Error).message).split("\n")[0]}`;
  }
  const cpuName = cpus()[0]?.model ?? "unknown CPU";
  const nv = await nvidiaGpus();
  const out: OrtDeviceInfo[] = [];

  // CPU EP
  out.push(
    loadError
      ? { backend: "ort", device: "cpu", available: false, reason: loadError }
      : { backend: "ort", device: "cpu", available: true, adapter: cpuName, adapterSource: "cpu" },
  );

  // WebGPU EP
  const web: OrtDeviceInfo = { backend: "ort-webgpu", device: "webgpu", available: false };
  out.push(web);
  if (loadError) web.reason = loadError;
  else if (!bundled.some((b) => b.name === "webgpu"))
    web.reason = `this onnxruntime-node build has no WebGPU execution provider (${process.platform}-${process.arch})`;
  else if (process.platform === "linux") {
    const icds = usableIcds(vulkanIcdManifests());
    web.vulkanIcds = icds.map((i) => i.manifest);
    const why = await vulkanStaticReason();
    if (why) web.reason = why;
    // Name: vulkaninfo if installed, else NVIDIA's, else the ICD library.
    try {
      const { stdout } = await run("vulkaninfo", ["--summary"], { timeout: 20_000 });
      const d = parseVulkaninfoSummary(stdout)[0];
      if (d)
        Object.assign(web, {
          adapter: d.deviceName,
          adapterSource: "vulkaninfo",
          driver: [d.driverName, d.driverInfo].filter(Boolean).join(" ") || undefined,
        });
    } catch {
      /* vulkaninfo absent */
    }
    if (!web.adapter) {
      const libs = icds.map((i) => i.library);
      if (nv && libs.some((l) => /nvidia/i.test(l)))
        Object.assign(web, { adapter: nv[0].name, adapterSource: "nvidia-smi", driver: `NVIDIA ${nv[0].driver}` });
      else if (libs.some((l) => /lvp/.test(l))) {
        const v = await mesaVersion();
        Object.assign(web, {
          adapter: "llvmpipe (Mesa lavapipe, software Vulkan)",
          adapterSource: "icd-manifest",
          driver: v ? `Mesa ${v}` : "Mesa",
        });
      } else if (libs.length) Object.assign(web, { adapter: `Vulkan ICD ${libs.join(", ")}`, adapterSource: "icd-manifest" });
    }
  }
  if (!web.reason && probe) {
    const p = await probeDevice("webgpu", opts.timeoutMs);
    web.probeMs = Math.round(p.ms);
    if (p.ok) web.available = true;
    else web.reason = explainWebgpuError(p.error ?? "failed");
  } else if (!web.reason) web.available = true; // static checks only

  // CUDA EP
  const cuda: OrtDeviceInfo = { backend: "ort-cuda", device: "cuda", available: false };
  out.push(cuda);
  if (nv) Object.assign(cuda, { adapter: nv[0].name, adapterSource: "nvidia-smi", driver: `NVIDIA ${nv[0].driver}` });
  const binDir = loadError ? null : join(dirname(ortModulePath()), "..", "bin", "napi-v6", process.platform, process.arch);
  if (loadError) cuda.reason = loadError;
  else if (!bundled.some((b) => b.name === "cuda"))
    cuda.reason = `this onnxruntime-node build has no CUDA execution provider (${process.platform}-${process.arch})`;
  else if (!existsSync(join(binDir!, "libonnxruntime_providers_cuda.so")))
    cuda.reason =
      "CUDA EP not installed (libonnxruntime_providers_cuda.so missing): `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node` needs network, CUDA 12 and cuDNN 9";
  else if (!nv) cuda.reason = "no NVIDIA GPU or driver (nvidia-smi and /proc/driver/nvidia/version absent)";
  else if (probe) {
    const p = await probeDevice("cuda", opts.timeoutMs);
    cuda.probeMs = Math.round(p.ms);
    if (p.ok) cuda.available = true;
    else cuda.reason = p.error;
  } else cuda.available = true;
  return out;
}

/** Lines for `blvnet env`. */
export function formatOrtDevices(list: OrtDeviceInfo[]): string[] {
  return list.map((d) => {
    const what = [d.adapter, d.driver && `driver ${d.driver}`].filter(Boolean).join(", ");
    return `  ${d.backend.padEnd(11)} ${d.available ? "available    " : "unavailable  "}${what}${d.reason ? `${what ? "; " : ""}${d.reason}` : ""}`;
  });
}
