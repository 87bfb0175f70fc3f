import { zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { crc32, crc32Js, ZipArchive, ZipFormatError } from "./zip.js";

describe("zip reader", () => {
  it("computes CRC-32 (native and fallback agree with the check value)", () => {
    const check = new TextEncoder().encode("123456789");
    expect(crc32(check)).toBe(0xcbf43926);
    expect(crc32Js(check)).toBe(0xcbf43926);
    const r = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7919) & 255);
    expect(crc32Js(r)).toBe(crc32(r));
  });

  it("reads stored and deflated entries and checks them", () => {
    const a = Uint8Array.from({ length: 3000 }, (_, i) => i % 7);
    const zip = zipSync({ "d/a": [a, { level: 0 }], "d/b": [a, { level: 9 }] });
    const archive = new ZipArchive(zip);
    expect([...archive.entries.keys()]).toEqual(["d/a", "d/b"]);
    expect(archive.read("d/a")).toEqual(a);
    expect(archive.read("d/b")).toEqual(a);
    const stored = archive.entries.get("d/a")!;
    const damaged = zip.slice();
    damaged[stored.localHeaderOffset + 30 + 3 + 100] ^= 1; // a byte of d/a's data
    expect(() => new ZipArchive(damaged).read("d/a")).toThrow(/d\/a fails its CRC check/);
    expect(() => new ZipArchive(zip.subarray(0, zip.length - 30))).toThrow(ZipFormatError);
  });
});
