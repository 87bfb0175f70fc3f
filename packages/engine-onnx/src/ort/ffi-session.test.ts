import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { GraphBuilder, onnxAttr } from "../onnx/graph.js";
import { FfiSession, loadFfiApi } from "./ffi-session.js";

/** y = a + b and m = the row maxima of a. */
function addModel(): Uint8Array {
  const g = new GraphBuilder();
  g.addNode("Add", ["a", "b"], ["y"]);
  g.addNode("ReduceMax", ["a"], ["m"], { axes: onnxAttr.ints([1]), keepdims: onnxAttr.int(0) });
  return g.toBytes({
    opset: 17,
    graphName: "add",
    inputs: [
      { name: "a", dims: [2, 3] },
      { name: "b", dims: [2, 3] },
    ],
    outputs: [
      { name: "y", dims: [2, 3] },
      { name: "m", dims: [2] },
    ],
  });
}

const f32 = (v: number[], dims: number[]) => new ort.Tensor("float32", Float32Array.from(v), dims);

describe("FfiSession (onnxruntime's C API through koffi)", () => {
  it("is available on this platform (linux x64 in CI)", () => {
    expect(loadFfiApi()).not.toBeNull();
  });

  it("writes a given fetch in place and returns that same tensor; allocates and copies a null fetch", async () => {
    const s = FfiSession.create(ort, addModel(), { threads: 1 })!;
    try {
      const y = f32([0, 0, 0, 0, 0, 0], [2, 3]);
      const a = f32([1, 2, 3, 4, 5, 6], [2, 3]);
      const out = await s.run({ a, b: f32([10, 20, 30, 40, 50, 60], [2, 3]) }, { y, m: null });
      expect(out.y).toBe(y);
      expect([...(y.data as Float32Array)]).toEqual([11, 22, 33, 44, 55, 66]);
      expect(out.m.type).toBe("float32");
      expect(out.m.dims).toEqual([2]);
      expect([...(out.m.data as Float32Array)]).toEqual([3, 6]);
      // in place: an output may be the buffer of an input
      const again = await s.run({ a, b: f32([1, 1, 1, 1, 1, 1], [2, 3]) }, { y: a });
      expect(again.y).toBe(a);
      expect([...(a.data as Float32Array)]).toEqual([2, 3, 4, 5, 6, 7]);
    } finally {
      await s.release();
    }
  });

  it("reports onnxruntime's error message and refuses a released session", async () => {
    const s = FfiSession.create(ort, addModel(), { threads: 1 })!;
    await expect(s.run({ a: f32([1, 2, 3, 4, 5, 6], [2, 3]) }, { y: null })).rejects.toThrow(/^onnxruntime: .*b/);
    await s.release();
    await expect(s.run({}, { y: null })).rejects.toThrow(/released/);
  });

  it("profiles when asked: endProfiling names the file onnxruntime wrote", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ffi-prof-"));
    try {
      const s = FfiSession.create(ort, addModel(), { threads: 1, profileFilePrefix: join(dir, "p") })!;
      await s.run({ a: f32([1, 2, 3, 4, 5, 6], [2, 3]), b: f32([1, 1, 1, 1, 1, 1], [2, 3]) }, { y: null });
      const file = s.endProfiling();
      await s.release();
      expect(file).toMatch(/p_.*\.json$/);
      const events = JSON.parse(readFileSync(file!.startsWith("/") ? file! : join(process.cwd(), file!), "utf8")) as { name: string }[];
      expect(events.some((e) => e.name === "model_run")).toBe(true);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
