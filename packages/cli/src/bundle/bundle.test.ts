/**
 * `blvnet bundle`: the archive is <= 60 MiB, and unpacked in a temp folder it runs with a PATH that has
 * no node (only the few tools the sh launcher uses): `./blvnet env` and a tiny `bench speed` on the
 * onnxruntime CPU EP. Bundles the *built* CLI (the dist folders), as CI builds before testing.
 * xz level 1 keeps the test quick (-9 is what `blvnet bundle` ships; it is smaller still).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readRows } from "@blvnet/bench";
import { gitCommit } from "@blvnet/train";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BundleResult, makeBundle } from "./bundle.js";

let dir: string;
let bundle: BundleResult;
let top: string;
let pathWithoutNode: string;

function which(tool: string): string | null {
  try {
    return execFileSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim() || null;
  } catch {
    return null;
  }
}

function runBundled(args: string[], timeout = 120_000): string {
  return execFileSync(join(top, "blvnet"), args, {
    env: { PATH: pathWithoutNode, HOME: dir },
    encoding: "utf8",
    timeout,
    stdio: ["ignore", "pipe", "pipe"],
  });
}

describe("blvnet bundle", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "bundle-test-"));
    bundle = await makeBundle({ out: join(dir, "blvnet.tar.xz"), xzLevel: 1 });
    execFileSync("tar", ["-xJf", bundle.out, "-C", dir]);
    top = join(dir, bundle.topDir);
    // A PATH with the launcher's tools and nothing else (no node, no npm).
    pathWithoutNode = join(dir, "path-bin");
    mkdirSync(pathWithoutNode);
    for (const t of ["sh", "dirname", "id", "mkdir", "chmod", "ls", "grep", "cat", "sed"]) {
      const p = which(t);
      if (p) symlinkSync(p, join(pathWithoutNode, t));
    }
  }, 300_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is at most 60 MiB and holds node, the CLI and onnxruntime's linux-x64 files", () => {
    expect(bundle.bytes).toBeLessThanOrEqual(60 * 2 ** 20);
    for (const f of ["blvnet", "bin/node", "app/blvnet.mjs", "node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1"])
      expect(existsSync(join(top, f)), f).toBe(true);
    expect(existsSync(join(top, "node_modules/onnxruntime-node/bin/napi-v6/darwin"))).toBe(false);
  });

  it("runs `./blvnet env` with no node on PATH", () => {
    expect(() => execFileSync("sh", ["-c", "command -v node"], { env: { PATH: pathWithoutNode } })).toThrow();
    const out = runBundled(["env"]);
    expect(out).toMatch(/^blvnet \d+\.\d+\.\d+ {2}node v/m);
    expect(out).toMatch(/^ {2}ort +available/m);
    expect(out).toMatch(/^ {2}ort-webgpu +(available|unavailable {2}\S)/m);
  });

  it("runs a tiny `bench speed` on the onnxruntime CPU EP", () => {
    const out = runBundled([
      "--backend",
      "ort",
      "bench",
      "speed",
      "--model",
      "tsn",
      "--opt",
      "depth=18",
      "--frames",
      "2",
      "--size",
      "32",
      "--warmup",
      "1",
      "--iters",
      "2",
      "--threads",
      "1",
      "--no-train",
      "--out",
      join(dir, "speed.csv"),
    ]);
    expect(out).toMatch(/clips\/s/);
    // provenance without git: the checkout's commit at bundle time, a command naming no folder of this machine
    const [row] = readRows(join(dir, "speed.csv"));
    expect(row?.git_commit).toBe(gitCommit());
    expect(row?.command).toMatch(/ --out \.\.\.\/speed\.csv$/);
  });
});
