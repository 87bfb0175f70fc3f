import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { UserError } from "@blvnet/core";

const WHY: Record<string, string> = {
  ENOSPC: "no space left on the device",
  EDQUOT: "the disk quota is used up",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EROFS: "the file system is read-only",
  ENOTDIR: "a part of the path is a file, not a folder",
  EISDIR: "it is a folder",
  EEXIST: "a file is in the way",
  ENAMETOOLONG: "the name is too long",
};

/** The output could not be written (full disk, no permission): stop, the next write would fail too. */
export class WriteError extends UserError {}

/**
 * A failed write as a one-line input error naming the path, the reason and what was needed; errors
 * that are not about the file system pass through unchanged.
 */
export function writeError(e: unknown, path: string, bytes?: number): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (e instanceof UserError || !code || !(code in WHY)) return e;
  const need = bytes !== undefined ? ` (writing ${bytes} bytes)` : "";
  return new WriteError(`cannot write ${path}: ${WHY[code]}${need}`);
}

/**
 * Write to a temp file beside the target, then rename: readers never see a half-written file, a
 * failure (full disk, no permission) leaves the earlier file untouched and no temp file behind.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw writeError(e, path, typeof data === "string" ? Buffer.byteLength(data) : data.byteLength);
  }
}

/** mkdir -p, failing with one line (an existing file in the way, no permission, a full disk). */
export function ensureDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw writeError(e, dir);
  }
}
