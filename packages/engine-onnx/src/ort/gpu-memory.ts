/**
 * Peak GPU memory of a measurement, by sampling nvidia-smi in its own loop mode (one long-lived
 * `nvidia-smi ... -lms N` process, so sampling costs no process start per sample):
 *
 *   const s = await GpuMemorySampler.start({ pids: [process.pid] });
 *   ... run the measurement ...
 *   const peak = await s.stop();   // { processPeakMiB, devicePeakMiB, deviceBaselineMiB, ... } | null
 *
 * Two figures, because neither is always there: the summed used memory of the given processes
 * (`--query-compute-apps`; empty inside some containers, where PIDs are namespaced or hidden, and for
 * Vulkan/graphics contexts that nvidia-smi does not list as compute apps) and the device's used memory
 * minus its value when sampling started (`--query-gpu=memory.used`; exact only on a GPU nobody else
 * uses, which is the case on a lent machine). `formatPeak` prints "n/a" where nvidia-smi is absent.
 * Granularity: the poll interval (default 50 ms) - a shorter spike can be missed. Self-contained.
 */
import { type ChildProcess, spawn } from "node:child_process";

export interface GpuMemoryPeak {
  /** Max over samples of the summed used memory of the watched PIDs; null when nvidia-smi never listed them. */
  processPeakMiB: number | null;
  /** Max over samples of the device's used memory minus the baseline. */
  devicePeakMiB: number | null;
  deviceBaselineMiB: number | null;
  samples: number;
  intervalMs: number;
  gpuIndex: number;
}

/** Parse `nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits` lines. */
export function parseComputeApps(text: string): { pid: number; usedMiB: number }[] {
  const out: { pid: number; usedMiB: number }[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(line);
    if (m) out.push({ pid: Number(m[1]), usedMiB: Number(m[2]) });
  }
  return out;
}

/** Parse one `--query-gpu=index,memory.used --format=csv,noheader,nounits` line. */
export function parseGpuUsed(line: string): { index: number; usedMiB: number } | null {
  const m = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(line);
  return m ? { index: Number(m[1]), usedMiB: Number(m[2]) } : null;
}

function lines(child: ChildProcess, onLine: (l: string) => void): void {
  let pending = "";
  child.stdout!.on("data", (c: Buffer) => {
    pending += c.toString();
    const parts = pending.split("\n");
    pending = parts.pop() ?? "";
    for (const p of parts) onLine(p);
  });
}

export class GpuMemorySampler {
  private processPeak: number | null = null;
  private devicePeak: number | null = null;
  private baseline: number | null = null;
  private samples = 0;
  /** Compute-app lines arrive as one block per poll; sum per block. */
  private block = new Map<number, number>();

  private constructor(
    private readonly gpuChild: ChildProcess,
    private readonly appsChild: ChildProcess,
    private readonly pids: Set<number>,
    readonly intervalMs: number,
    readonly gpuIndex: number,
  ) {
    // Orphaned nvidia-smi loops would run forever: end them with this process.
    const kill = () => {
      gpuChild.kill();
      appsChild.kill();
    };
    process.once("exit", kill);
    gpuChild.once("exit", () => process.removeListener("exit", kill));
    lines(gpuChild, (l) => {
      const g = parseGpuUsed(l);
      if (!g || g.index !== gpuIndex) return;
      this.samples++;
      if (this.baseline === null) this.baseline = g.usedMiB;
      this.devicePeak = Math.max(this.devicePeak ?? 0, g.usedMiB - this.baseline);
    });
    lines(appsChild, (l) => {
      for (const a of parseComputeApps(l)) {
        if (!this.pids.has(a.pid)) continue;
        this.block.set(a.pid, a.usedMiB);
        const sum = [...this.block.values()].reduce((s, v) => s + v, 0);
        this.processPeak = Math.max(this.processPeak ?? 0, sum);
      }
    });
  }

  /**
   * Start sampling; null where nvidia-smi is absent or lists no GPU (no NVIDIA GPU here).
   * `pids`: processes whose memory to add up (default: this one; add a Python peer's PID).
   */
  static async start(opts: { pids?: number[]; intervalMs?: number; gpuIndex?: number } = {}): Promise<GpuMemorySampler | null> {
    const intervalMs = Math.max(10, Math.round(opts.intervalMs ?? 50));
    const gpuIndex = opts.gpuIndex ?? 0;
    const spawnSmi = (args: string[]) => {
      const c = spawn("nvidia-smi", [...args, "--format=csv,noheader,nounits", `--loop-ms=${intervalMs}`], {
        stdio: ["ignore", "pipe", "ignore"],
      });
      // A sampler never keeps the process alive (a measurement that throws before stop() still exits).
      c.unref();
      (c.stdout as unknown as { unref?: () => void }).unref?.();
      return c;
    };
    const gpu = spawnSmi(["--query-gpu=index,memory.used", `--id=${gpuIndex}`]);
    const apps = spawnSmi(["--query-compute-apps=pid,used_memory", `--id=${gpuIndex}`]);
    apps.on("error", () => {});
    // Parsers are attached now, so the first sample (the baseline) is not lost.
    const s = new GpuMemorySampler(gpu, apps, new Set(opts.pids ?? [process.pid]), intervalMs, gpuIndex);
    const ok = await new Promise<boolean>((resolve) => {
      let poll: ReturnType<typeof setInterval> | undefined;
      const finish = (v: boolean) => {
        clearTimeout(timer);
        clearInterval(poll);
        resolve(v);
      };
      const timer = setTimeout(() => finish(false), 10_000);
      gpu.once("error", () => finish(false));
      gpu.once("exit", () => finish(s.samples > 0));
      poll = setInterval(() => s.samples > 0 && finish(true), 5);
    });
    if (!ok) {
      gpu.kill();
      apps.kill();
      return null;
    }
    return s;
  }

  /** Watch another process too (e.g. a Python peer started after the sampler). */
  watch(pid: number): void {
    this.pids.add(pid);
  }

  /** Current peaks without stopping. */
  peek(): GpuMemoryPeak {
    return {
      processPeakMiB: this.processPeak,
      devicePeakMiB: this.devicePeak,
      deviceBaselineMiB: this.baseline,
      samples: this.samples,
      intervalMs: this.intervalMs,
      gpuIndex: this.gpuIndex,
    };
  }

  /** Take one last interval of samples, stop both nvidia-smi loops and return the peaks. */
  async stop(): Promise<GpuMemoryPeak> {
    await new Promise((r) => setTimeout(r, this.intervalMs * 2));
    for (const c of [this.gpuChild, this.appsChild]) c.kill();
    return this.peek();
  }
}

/** The CSV cell: process peak where known, else the device delta (marked "dev"), else "n/a". */
export function formatPeak(p: GpuMemoryPeak | null): string {
  if (!p) return "n/a";
  if (p.processPeakMiB !== null) return `${p.processPeakMiB}`;
  if (p.devicePeakMiB !== null) return `${p.devicePeakMiB} (device delta)`;
  return "n/a";
}
