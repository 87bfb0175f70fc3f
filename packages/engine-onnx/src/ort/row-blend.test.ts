/**
 * The RowBlend custom op (native/row-blend.c): built where there is a C compiler, its values against a
 * direct reference (gathered and shifted rows, zero rows, two bases, ReLU on and off, several clips),
 * and the NCHWc block probe (x64: onnxruntime's blocked layout is an x64 CPU feature).
 */
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { GraphBuilder, onnxAttr } from "../onnx/graph.js";
import { ROW_BLEND_DOMAIN, ROW_BLEND_OP } from "../onnx/onnxops.js";
import { FfiSession, loadFfiApi } from "./ffi-session.js";
import { nativeOpsLibrary, nativeOpsUnavailableReason } from "./native-ops.js";
import { nchwcBlock } from "./row-blend-session.js";
import { loadOrt } from "./session.js";

const hasCompiler = (() => {
  try {
    execFileSync(process.env.CC || "cc", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

const C = 3;
const H = 2;
const W = 2;
const FRAME = C * H * W;
/** Bases: a has 4 rows per clip, b has 2; output: 3 rows per clip. */
const BASE_ROWS = [4, 2];
const TERMS = [
  { base: 0, pattern: [-1, 0, 1] }, // shift
  { base: 0, pattern: [1, 3, -1] }, // gather then shift
  { base: 1, pattern: [0, 1, 1] }, // a second base, a row read twice
];
const WEIGHTS = Float32Array.from({ length: TERMS.length * C }, (_, i) => ((i % 5) - 2) * 0.37);

function model(relu: boolean): Uint8Array {
  const g = new GraphBuilder();
  const w = g.setInitializer("w", { dims: [TERMS.length, C], data: WEIGHTS });
  const node = g.addNode(ROW_BLEND_OP, [w, "a", "b"], ["out"], {
    base_rows: onnxAttr.ints(BASE_ROWS),
    term_base: onnxAttr.ints(TERMS.map((t) => t.base)),
    patterns: onnxAttr.ints(TERMS.flatMap((t) => t.pattern)),
    relu: onnxAttr.int(relu ? 1 : 0),
  });
  node.domain = ROW_BLEND_DOMAIN;
  return g.toBytes({
    opset: 17,
    graphName: "row-blend",
    inputs: [
      { name: "a", dims: ["A", C, H, W] },
      { name: "b", dims: ["B", C, H, W] },
    ],
    outputs: [{ name: "out", dims: [null, C, H, W] }],
  });
}

function reference(bases: Float32Array[], clips: number, relu: boolean): Float32Array {
  const rows = TERMS[0].pattern.length;
  const out = new Float32Array(clips * rows * FRAME);
  for (let n = 0; n < clips; n++)
    for (let j = 0; j < rows; j++)
      for (let e = 0; e < FRAME; e++) {
        let acc = 0;
        TERMS.forEach((t, k) => {
          const r = t.pattern[j];
          if (r >= 0)
            acc = Math.fround(
              acc + Math.fround(WEIGHTS[k * C + Math.floor(e / (H * W))] * bases[t.base][(n * BASE_ROWS[t.base] + r) * FRAME + e]),
            );
        });
        out[(n * rows + j) * FRAME + e] = relu && acc < 0 ? 0 : acc;
      }
  return out;
}

describe.runIf(hasCompiler && loadFfiApi() !== null)("RowBlend custom op", () => {
  it("builds with the machine's C compiler", () => {
    expect(nativeOpsLibrary(), nativeOpsUnavailableReason() ?? "").not.toBeNull();
  });

  it.each([false, true])("relu %s: the blend of gathered, shifted and zero rows of two bases, per clip", async (relu) => {
    const ort = await loadOrt();
    const clips = 2;
    const bases = BASE_ROWS.map((rows, b) =>
      Float32Array.from({ length: clips * rows * FRAME }, (_, i) => Math.sin(i * 0.91 + b * 2.3) * (i % 3 === 0 ? -1 : 1)),
    );
    const session = FfiSession.create(ort, model(relu), { threads: 2, customOpsLibrary: nativeOpsLibrary()! })!;
    try {
      const feeds = {
        a: new ort.Tensor("float32", bases[0], [clips * BASE_ROWS[0], C, H, W]),
        b: new ort.Tensor("float32", bases[1], [clips * BASE_ROWS[1], C, H, W]),
      };
      const { out } = await session.run(feeds, { out: null });
      expect(out.dims).toEqual([clips * TERMS[0].pattern.length, C, H, W]);
      const want = reference(bases, clips, relu);
      expect(Array.from(out.data as Float32Array)).toEqual(Array.from(want));
      if (relu) expect(want.some((v) => v === 0)).toBe(true);
      else expect(want.some((v) => v < 0)).toBe(true);
    } finally {
      await session.release();
    }
  });

  it.runIf(process.arch === "x64")("finds onnxruntime's NCHWc block size on this CPU (8 or 16)", async () => {
    expect([8, 16]).toContain(await nchwcBlock(await loadOrt(), nativeOpsLibrary()!));
  });
});
