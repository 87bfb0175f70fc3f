// The real torch 1.13 checkpoints of fixtures/golden/checkpoints (zip, legacy, float16 zip) and a light
// fuzz of readCheckpoint: damaged files must give a one-line UserError naming the file, never a crash.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { refgenTensor, UserError } from "@blvnet/core";
import { afterAll, describe, expect, it } from "vitest";
import { encodeSafetensors } from "../safetensors.js";
import { readCheckpoint, readCheckpointFile } from "./read.js";

const FIXTURES = join(import.meta.dirname, "../../../../fixtures/golden/checkpoints");
const fixture = (variant: string) => join(FIXTURES, `small-blvnet-layer0-${variant}.pth.tar`);
const tmp = mkdtempSync(join(tmpdir(), "blvnet-ckpt-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const HALF_REL = 2 ** -11;
const HALF_ABS = 6e-8; // half-precision subnormal spacing

describe("readCheckpoint on the torch fixtures", () => {
  for (const variant of ["zip", "legacy", "fp16-zip"]) {
    it(`loads ${variant} with refgen-v1 values and keys without module.`, () => {
      const { tensors, info } = readCheckpointFile(fixture(variant));
      expect(info).toMatchObject({
        format: variant === "legacy" ? "pytorch-legacy" : "pytorch-zip",
        container: "state_dict",
        strippedPrefix: 39,
        extras: { epoch: "50", arch: "small-blvnet-tam-50-f4x2-64", best_top1: "46.4" },
        skipped: [],
      });
      expect(tensors.size).toBe(39);
      expect(tensors.get("baseline_model.conv1.weight")?.shape).toEqual([64, 3, 7, 7]);
      expect(tensors.get("baseline_model.tam.curr.weight")?.shape).toEqual([64, 1, 1, 1]);
      let floats = 0;
      for (const [key, t] of tensors) {
        expect(key.startsWith("module.")).toBe(false);
        if (key.endsWith("num_batches_tracked")) {
          expect(t).toEqual({ shape: [], data: BigInt64Array.from([1234n]) });
          continue;
        }
        expect(t.data).toBeInstanceOf(Float32Array);
        const want = refgenTensor(key, t.shape);
        const got = t.data as Float32Array;
        expect(got.length).toBe(want.length);
        if (variant === "fp16-zip") {
          let worst = 0;
          for (let i = 0; i < want.length; i++)
            worst = Math.max(worst, Math.abs(got[i] - want[i]) - (HALF_REL * Math.abs(want[i]) + HALF_ABS));
          expect(worst, key).toBeLessThanOrEqual(0);
        } else {
          expect(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(want.buffer)), key).toBe(true);
        }
        floats++;
      }
      expect(floats).toBe(33);
    });
  }

  it("reads safetensors by content, whatever the extension", () => {
    const path = join(tmp, "weights.pth");
    const src = readCheckpoint(fixture("zip"));
    writeFileSync(path, encodeSafetensors(src, { note: "x" }));
    const cp = readCheckpointFile(path);
    expect(cp.info).toMatchObject({ format: "safetensors", extras: { note: "x" } });
    expect(cp.tensors).toEqual(src);
  });

  it("does not take a safetensors header length starting with byte 0x80 for a pickle", () => {
    const src = readCheckpoint(fixture("legacy"));
    let bytes = encodeSafetensors(src);
    for (let pad = ""; bytes[0] !== 0x80; pad += "x") bytes = encodeSafetensors(src, { pad });
    const path = join(tmp, "0x80.safetensors");
    writeFileSync(path, bytes);
    expect(readCheckpointFile(path).info.format).toBe("safetensors");
    writeFileSync(path, bytes.subarray(0, 1000));
    expect(outcome(path)).toMatch(/bad safetensors file \(header runs past the end of the file: truncated\?\)/);
  });
});

/** Returns the message of the UserError, or null when the file loaded. Anything else fails the test. */
function outcome(path: string): string | null {
  try {
    readCheckpoint(path);
    return null;
  } catch (e) {
    if (!(e instanceof UserError)) throw new Error(`${path}: expected a UserError, got ${String(e)}`);
    expect(e.message.startsWith(`${path}: `)).toBe(true);
    expect(e.message).not.toMatch(/\n/);
    expect(e.message.length).toBeLessThan(400);
    return e.message;
  }
}

/** Deterministic xorshift32 stream for reproducible fuzz positions. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

describe("readCheckpoint on damaged files", () => {
  it("refuses missing and empty files", () => {
    expect(outcome(join(tmp, "nope.pth"))).toContain("cannot read checkpoint (no such file)");
    const empty = join(tmp, "empty.pth");
    writeFileSync(empty, "");
    expect(outcome(empty)).toContain("empty file");
  });

  for (const variant of ["zip", "legacy"]) {
    const whole = readFileSync(fixture(variant));

    it(`refuses every truncation of the ${variant} fixture`, () => {
      const cuts = [1, 2, 15, 22, 100, 1000, 5000, whole.length >> 1, whole.length - 100, whole.length - 22, whole.length - 1];
      for (const cut of cuts) {
        const path = join(tmp, `${variant}-cut${cut}.pth`);
        writeFileSync(path, whole.subarray(0, cut));
        expect(outcome(path), `cut at ${cut}`).not.toBeNull();
      }
    });

    it(`flipped bytes in the ${variant} fixture load or fail cleanly`, () => {
      const next = rng(variant === "zip" ? 7 : 11);
      let refused = 0;
      for (let i = 0; i < 24; i++) {
        const bytes = Buffer.from(whole);
        // half the flips in the header/pickle region, half anywhere
        const pos = Math.floor(next() * (i % 2 ? bytes.length : 5000));
        bytes[pos] ^= 1 + Math.floor(next() * 255);
        const path = join(tmp, `${variant}-flip${i}.pth`);
        writeFileSync(path, bytes);
        if (outcome(path) !== null) refused++;
      }
      expect(refused).toBeGreaterThan(0);
    });
  }

  it("a flipped storage byte in a zip checkpoint fails its CRC", () => {
    const bytes = Buffer.from(readFileSync(fixture("zip")));
    bytes[20000] ^= 0x40; // inside data/0 (conv1.weight)
    const path = join(tmp, "crc.pth");
    writeFileSync(path, bytes);
    expect(outcome(path)).toMatch(/fails its CRC check/);
  });

  it("random bytes and other file types are named as such", () => {
    const next = rng(3);
    for (const size of [1, 7, 64, 4096]) {
      const path = join(tmp, `random${size}.bin`);
      writeFileSync(
        path,
        Uint8Array.from({ length: size }, () => Math.floor(next() * 256)),
      );
      expect(outcome(path)).not.toBeNull();
    }
    const cases: [string, string | Uint8Array, RegExp][] = [
      ["page.pth", "<!DOCTYPE html><html>...</html>", /an HTML page/],
      ["lfs.pth", "version https://git-lfs.github.com/spec/v1\noid sha256:abc\n", /Git LFS pointer/],
      ["text.pth", "hello world, not a checkpoint", /unrecognised header bytes 68 65 6c 6c/],
      ["pickle.pth", Uint8Array.from([0x80, 0x02, 0x4b, 0x01, 0x2e]), /no torch magic number/],
      ["emptyzip.pth", Uint8Array.from([0x50, 0x4b, 0x05, 0x06, ...new Array(18).fill(0)]), /no data\.pkl/],
    ];
    for (const [name, content, want] of cases) {
      const path = join(tmp, name);
      writeFileSync(path, content);
      expect(outcome(path)).toMatch(want);
    }
  });
});
