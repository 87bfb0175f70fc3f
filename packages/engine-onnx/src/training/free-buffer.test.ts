import { describe, expect, it } from "vitest";
import { freeArrayBuffer } from "./free-buffer.js";

describe("freeArrayBuffer", () => {
  it("detaches the buffer (its views read as empty) and leaves others alone", () => {
    const a = new Float32Array(1024).fill(1);
    const b = new Float32Array(1024).fill(2);
    expect(freeArrayBuffer(a.buffer)).toBe(true);
    expect(a.buffer.byteLength).toBe(0);
    expect(a.length).toBe(0);
    expect(b.length).toBe(1024);
    expect(b[1023]).toBe(2);
  });
});
