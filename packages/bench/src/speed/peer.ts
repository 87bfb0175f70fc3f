/**
 * The PyTorch peer: runs the same configuration in the official implementation (a checkout the
 * user provides) through `peer/pytorch_peer.py --serve`, a line-JSON protocol, so its runs can be
 * interleaved with ours on a shared machine. Never vendors the official code: the adapter imports
 * it from --peer-src.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface, type Interface } from "node:readline";
import { fileURLToPath } from "node:url";
import { UserError } from "@blvnet/core";

/** Models with an official PyTorch implementation the adapter can build, and the repo that has it. */
export const PEER_MODELS: Record<string, string> = {
  "blvnet-tam": "IBM/bLVNet-TAM (core/models/blvnet_tam.py)",
  tsm: "mit-han-lab/temporal-shift-module (ops/models.py)",
  tsn: "mit-han-lab/temporal-shift-module (ops/models.py)",
};

export interface PeerConfig {
  model: string;
  /** Our registry options (depth, frames, size, numClasses, dropout, ...); the adapter maps them. */
  options: Record<string, unknown>;
  batch: number;
  threads: number;
  seed: number;
  src: string;
  /** Python interpreter; default: $BLVNET_PYTHON, else the first python3 that imports torch. */
  python?: string;
  /** Where the official model runs: cpu (default) or cuda (synchronized timing, strict fp32, cudnn.benchmark on and recorded). */
  device?: PeerDevice;
}

export const PEER_DEVICES = ["cpu", "cuda"] as const;
export type PeerDevice = (typeof PEER_DEVICES)[number];

export interface PeerInfo {
  torch_version: string;
  python_version: string;
  threads: number;
  params: number;
  output_shape: number[];
  peak_rss_bytes: number;
  /** cpu or cuda (and the GPU's name on cuda). */
  device?: string;
  gpu_name?: string;
  /** cuda: torch.cuda.max_memory_allocated() over the session (the allocator's peak; excludes the CUDA context). */
  peak_gpu_bytes?: number;
  cudnn_benchmark?: boolean;
  allow_tf32?: boolean;
}

/** The adapter script shipped next to this package (src/ and dist/ are both one level below). */
export function peerScript(): string {
  return fileURLToPath(new URL("../../peer/pytorch_peer.py", import.meta.url));
}

function importsTorch(python: string): boolean {
  return spawnSync(python, ["-c", "import torch"], { stdio: "ignore", timeout: 120_000 }).status === 0;
}

export function findPython(explicit?: string): string {
  const asked = explicit ?? process.env.BLVNET_PYTHON;
  if (asked) {
    if (!importsTorch(asked))
      throw new UserError(`${asked} cannot import torch (set --peer-python or BLVNET_PYTHON to a Python with PyTorch)`);
    return asked;
  }
  for (const p of ["python3", "/usr/bin/python3", "python"]) if (importsTorch(p)) return p;
  throw new UserError(
    "no Python with PyTorch found (tried python3, /usr/bin/python3, python); install PyTorch (Debian: apt-get install python3-torch) or pass --peer-python",
  );
}

/** A running adapter process: the official model is built once, then timed on request. */
export class PeerSession {
  private stderr = "";
  private readonly lines: AsyncIterator<string>;
  /** Versions, threads and parameter count, as the adapter reports them once the model is built. */
  info!: PeerInfo;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly rl: Interface,
    readonly python: string,
  ) {
    this.lines = rl[Symbol.asyncIterator]();
    child.stderr.on("data", (d: Buffer) => (this.stderr += d.toString()));
    child.on("error", (e) => (this.stderr += `\n${e.message}`));
  }

  static async start(cfg: PeerConfig): Promise<PeerSession> {
    if (!PEER_MODELS[cfg.model]) {
      throw new UserError(
        `--peer pytorch: no official implementation for "${cfg.model}"; peers exist for ${Object.keys(PEER_MODELS).join(", ")}`,
      );
    }
    if (!existsSync(cfg.src)) throw new UserError(`--peer-src ${cfg.src}: no such directory (a checkout of ${PEER_MODELS[cfg.model]})`);
    const python = findPython(cfg.python);
    const config = JSON.stringify({
      model: cfg.model,
      options: cfg.options,
      batch: cfg.batch,
      threads: cfg.threads,
      seed: cfg.seed,
      device: cfg.device ?? "cpu",
    });
    const child = spawn(python, [peerScript(), "--serve", "--src", cfg.src, "--config", config], { stdio: ["pipe", "pipe", "pipe"] });
    const session = new PeerSession(child, createInterface({ input: child.stdout }), python);
    const { ready: _ready, ...info } = (await session.next()) as unknown as PeerInfo & { ready: boolean };
    session.info = info;
    return session;
  }

  private async next(): Promise<Record<string, unknown>> {
    const r = await this.lines.next();
    if (r.done || !r.value.startsWith("{")) {
      const code = await new Promise<number | null>((res) =>
        this.child.exitCode !== null ? res(this.child.exitCode) : this.child.once("close", res),
      );
      const tail = this.stderr.trim().split("\n").slice(-3).join(" | ");
      throw new UserError(`PyTorch peer failed (exit ${code}): ${tail || r.value || "no output"}`);
    }
    return JSON.parse(r.value) as Record<string, unknown>;
  }

  /** Untimed warm-up runs, then `iters` timed runs; their latencies in ms. */
  async run(op: "forward" | "train", warmup: number, iters: number): Promise<number[]> {
    this.child.stdin.write(JSON.stringify({ op, warmup, iters }) + "\n");
    return (await this.next()).samples as number[];
  }

  /** Stop the adapter; returns its final info (peak RSS over the whole session). */
  async close(): Promise<PeerInfo> {
    this.child.stdin.write(JSON.stringify({ op: "quit" }) + "\n");
    const info = (await this.next()) as unknown as PeerInfo;
    this.child.stdin.end();
    this.rl.close();
    return info;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill();
  }
}
