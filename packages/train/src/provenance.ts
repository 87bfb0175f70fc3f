/**
 * Provenance columns carried by every result row: what produced the number, where and when.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism, cpus } from "node:os";
import { basename, isAbsolute, relative } from "node:path";
import { VERSION } from "./version.js";

export interface Provenance {
  git_commit: string;
  blvnet_version: string;
  node_version: string;
  tfjs_version: string;
  ort_version: string;
  backend: string;
  device: string;
  threads: number;
  seed: number | "";
  date: string;
  command: string;
}

export const PROVENANCE_COLUMNS: (keyof Provenance)[] = [
  "git_commit",
  "blvnet_version",
  "node_version",
  "tfjs_version",
  "ort_version",
  "backend",
  "device",
  "threads",
  "seed",
  "date",
  "command",
];

let commit: string | undefined;

/** HEAD commit of the checkout (with "-dirty" if the tree has changes), a bundle's (set by its launcher), or "unknown". */
export function gitCommit(): string {
  if (commit !== undefined) return commit;
  const bundled = process.env.BLVNET_BUNDLE_COMMIT;
  if (bundled) return (commit = bundled);
  try {
    const cwd = new URL("../../..", import.meta.url).pathname;
    const head = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd, stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd, stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim();
    commit = dirty ? `${head}-dirty` : head;
  } catch {
    commit = "unknown";
  }
  return commit;
}

/** A dependency's version from its package.json, without loading the package itself. */
function packageVersion(name: string): string {
  try {
    return createRequire(import.meta.url)(`${name}/package.json`).version;
  } catch {
    return "";
  }
}

let versions: { tfjs: string; ort: string } | undefined;

/**
 * CPU model, logical cores and the widest SIMD onnxruntime and PyTorch can use: the same model name
 * covers AVX2 and AVX-512 machines, and CPU timings differ by up to 2x between them.
 */
let hostSimd: string | undefined;

export function deviceName(): string {
  // read once: provenance() names the device on every result row
  hostSimd ??= simdLevel();
  const simd = hostSimd;
  return `${cpus()[0]?.model?.trim() ?? "unknown CPU"} x${availableParallelism()}${simd ? ` ${simd}` : ""}`;
}

/** "AVX-512" / "AVX2" from /proc/cpuinfo's flags (Linux x86); "" elsewhere. */
export function simdLevel(cpuinfo?: string): string {
  let text = cpuinfo;
  if (text === undefined) {
    try {
      text = readFileSync("/proc/cpuinfo", "utf8");
    } catch {
      return "";
    }
  }
  const flags = new Set(/^flags\s*:(.*)$/m.exec(text)?.[1].trim().split(/\s+/) ?? []);
  return flags.has("avx512f") ? "AVX-512" : flags.has("avx2") ? "AVX2" : "";
}

/**
 * The command line as published: absolute paths inside the working directory become relative, others keep
 * only their last part (".../name"), so no row names a folder of the machine that made it.
 */
export function portableCommand(args: string[], cwd = process.cwd()): string {
  const portable = (p: string) => {
    if (!isAbsolute(p)) return p;
    const rel = relative(cwd, p);
    return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : `.../${basename(p)}`;
  };
  return ["blvnet", ...args.map((a) => a.replace(/^(--[\w-]+=)?(\/.*)$/, (_, flag = "", p) => flag + portable(p)))].join(" ");
}

export function provenance(fields: { backend: string; threads?: number; seed?: number; device?: string }): Provenance {
  versions ??= { tfjs: packageVersion("@tensorflow/tfjs-core"), ort: packageVersion("onnxruntime-node") };
  return {
    git_commit: gitCommit(),
    blvnet_version: VERSION,
    node_version: process.version,
    tfjs_version: versions.tfjs,
    ort_version: versions.ort,
    backend: fields.backend,
    device: fields.device ?? deviceName(),
    threads: fields.threads ?? availableParallelism(),
    seed: fields.seed ?? "",
    date: new Date().toISOString(),
    command: portableCommand(process.argv.slice(2)),
  };
}
