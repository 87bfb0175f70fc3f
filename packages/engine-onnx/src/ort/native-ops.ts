/**
 * blvnet's onnxruntime custom ops (native/row-blend.c: TAM's blend in one pass), compiled on first
 * use with the machine's C compiler (`$CC`, else `cc`) for this CPU and cached by the hash of the
 * source, the compiler and the CPU, under `$BLVNET_CACHE_DIR` (default `$XDG_CACHE_HOME/blvnet` or
 * `~/.cache/blvnet`). The library is written to a temporary name and renamed, so concurrent first
 * uses never see half a file. Where there is no compiler, or `BLVNET_NATIVE_OPS=0`, there is no
 * library and sessions run the plain ONNX graph (the same values, a little slower).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const SOURCE = fileURLToPath(new URL("../../native/row-blend.c", import.meta.url));

let built: { path: string | null; reason?: string } | undefined;

/** Why there is no library (null when there is one or it was not asked for yet). */
export function nativeOpsUnavailableReason(): string | null {
  return built && !built.path ? (built.reason ?? "unavailable") : null;
}

/** The compiled custom-op library, or null (see the module comment). Compiles at most once per process. */
export function nativeOpsLibrary(): string | null {
  if (built) return built.path;
  built = { path: null };
  if (process.env.BLVNET_NATIVE_OPS === "0") return (built = { path: null, reason: "BLVNET_NATIVE_OPS=0" }).path;
  if (process.platform !== "linux" && process.platform !== "darwin")
    return (built = { path: null, reason: `not built on ${process.platform}` }).path;
  try {
    const source = readFileSync(SOURCE);
    const cc = process.env.CC || "cc";
    const version = execFileSync(cc, ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    const key = createHash("sha256").update(source).update(cc).update(version).update(cpuSignature()).digest("hex").slice(0, 16);
    const dir = join(cacheDir(), "native");
    const path = join(dir, `row-blend-${key}.${process.platform === "darwin" ? "dylib" : "so"}`);
    if (!existsSync(path)) {
      mkdirSync(dir, { recursive: true });
      const tmp = `${path}.${process.pid}.tmp`;
      try {
        execFileSync(cc, ["-O3", "-march=native", "-std=c11", "-fPIC", "-shared", "-o", tmp, SOURCE], {
          stdio: ["ignore", "ignore", "pipe"],
        });
        renameSync(tmp, path);
      } finally {
        rmSync(tmp, { force: true });
      }
    }
    built = { path };
  } catch (e) {
    built = { path: null, reason: String((e as Error).message).split("\n")[0] };
  }
  return built.path;
}

function cacheDir(): string {
  return process.env.BLVNET_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "blvnet");
}

/** What `-march=native` compiles for: the CPU's model and feature flags (a cache shared between machines stays right). */
function cpuSignature(): string {
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    return [/^model name\s*:.*$/m, /^flags\s*:.*$/m].map((re) => info.match(re)?.[0] ?? "").join("\n");
  } catch {
    return `${process.arch}`;
  }
}
