/**
 * Ownership of outputs shared between processes, possibly on other hosts (a shared volume):
 *  - `acquireLock(dir)`: one writer per output folder (`train --out`); a second one is refused with
 *    one line naming the owner;
 *  - `claim(dir, key)`: one worker per sweep job, so shards or repeated runs into one folder never
 *    run a job twice at the same time.
 * A lock is a file created exclusively, holding {pid, host, started}; its owner refreshes its
 * mtime every few seconds. It is stale, and may be taken over, when its owner is gone: a dead pid
 * on this host, or no refresh for STALE_MS (another host).
 */
import { createHash } from "node:crypto";
import { closeSync, openSync, readFileSync, rmSync, statSync, utimesSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { UserError } from "@blvnet/core";
import { ensureDir } from "./fsutil.js";

export interface LockOwner {
  pid: number;
  host: string;
  started: string;
  /** What the owner is doing, for messages (e.g. "train", a job key). */
  what: string;
}

const REFRESH_MS = 10_000;
export const STALE_MS = 120_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readOwner(file: string): LockOwner | null {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as LockOwner;
  } catch {
    return null; // being written, or half-written by a killed owner: judged by its age below
  }
}

/** Why the lock at `file` is still held, or null when it is free or stale. */
function heldBy(file: string): LockOwner | null {
  let mtime: number;
  try {
    mtime = statSync(file).mtimeMs;
  } catch {
    return null;
  }
  // A live owner refreshes the file; a dead one on this host is known at once (pids are reused, so
  // an old file whose pid happens to be alive again counts as stale too).
  if (Date.now() - mtime >= STALE_MS) return null;
  const owner = readOwner(file) ?? { pid: 0, host: "?", started: "?", what: "?" };
  return owner.host === hostname() && owner.pid && !alive(owner.pid) ? null : owner;
}

export interface Held {
  owner: LockOwner;
  /** Give the lock up (idempotent). */
  release(): void;
}

/** Try to take the lock file; null when another live owner holds it. */
function tryTake(file: string, what: string): Held | null {
  const owner: LockOwner = { pid: process.pid, host: hostname(), started: new Date().toISOString(), what };
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, "wx");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      if (heldBy(file)) return null;
      rmSync(file, { force: true }); // stale: its owner is gone
      continue;
    }
    writeSync(fd, JSON.stringify(owner));
    closeSync(fd);
    const timer = setInterval(() => {
      try {
        const now = new Date();
        utimesSync(file, now, now);
      } catch {}
    }, REFRESH_MS);
    timer.unref();
    let released = false;
    return {
      owner,
      release() {
        if (released) return;
        released = true;
        clearInterval(timer);
        const now = readOwner(file);
        if (now?.pid === owner.pid && now.host === owner.host && now.started === owner.started) rmSync(file, { force: true });
      },
    };
  }
  return null;
}

const describe = (o: LockOwner) => (o.pid ? `pid ${o.pid} on ${o.host} (${o.what}, since ${o.started})` : "another process");

/** The single-writer lock of an output folder: a second writer gets a one-line UserError. */
export function acquireLock(dir: string, what: string): Held {
  ensureDir(dir);
  const file = join(dir, ".lock");
  const held = tryTake(file, what);
  if (held) return held;
  const owner = heldBy(file);
  throw new UserError(
    `${dir} is being written by ${owner ? describe(owner) : "another process"}; wait for it to finish or choose another output folder`,
  );
}

/** Claim one job of a shared sweep folder; null when a live worker already runs it. */
export function claim(dir: string, key: string, what = key): Held | null {
  ensureDir(join(dir, "claims"));
  return tryTake(claimFile(dir, key), what);
}

const claimFile = (dir: string, key: string) => join(dir, "claims", `${createHash("sha256").update(key).digest("hex").slice(0, 32)}.lock`);

/** Who holds a job's claim (for messages), or null. */
export function claimOwner(dir: string, key: string): LockOwner | null {
  return heldBy(claimFile(dir, key));
}
