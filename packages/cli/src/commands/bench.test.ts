// `blvnet export` and `blvnet bench speed` end to end through the CLI on small models; the PyTorch
// peer protocol against a stand-in "official" module written here (skipped without PyTorch).
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PeerSession, type Row, validateRow } from "@blvnet/bench";
import { parse } from "csv-parse/sync";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { runCli as cli } from "../run-cli.js";

const tmp = mkdtempSync(join(tmpdir(), "blvnet-bench-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const TINY_TSN = ["--model", "tsn", "--opt", "depth=18", "--opt", "numClasses=3"];

describe("blvnet export", () => {
  it("writes an ONNX file with a symbolic batch that onnxruntime runs", async () => {
    const file = join(tmp, "tsn.onnx");
    const r = await cli(
      "export",
      ...TINY_TSN,
      "--opt",
      "frames=2",
      "--opt",
      "size=32",
      "--batch",
      "dynamic",
      "--opset",
      "13",
      "--out",
      file,
    );
    expect(r.code).toBe(0);
    expect(r.out).toContain("input [N, 6, 32, 32] -> output [N, 3]");
    expect(r.out).toContain("refgen-v1");
    const session = await ort.InferenceSession.create(readFileSync(file));
    const y = await session.run({ input: new ort.Tensor("float32", new Float32Array(3 * 6 * 32 * 32), [3, 6, 32, 32]) });
    expect(y.output.dims).toEqual([3, 3]);
    await session.release();
  });

  it("rejects bad flags with one line and exit 2", async () => {
    const out = join(tmp, "x.onnx");
    expect((await cli("export", ...TINY_TSN, "--out", out, "--opset", "9")).err).toMatch(/--opset must be an integer in 13\.\.\d+/);
    expect((await cli("export", ...TINY_TSN, "--out", out, "--batch", "many")).code).toBe(2);
    expect((await cli("export", ...TINY_TSN, "--out", join(tmp, "x.txt"))).err).toContain("expected a .onnx file name");
  });
});

describe("blvnet bench speed", () => {
  it("times onnxruntime and writes a valid results row with provenance", async () => {
    const csv = join(tmp, "speed.csv");
    const args = [
      "bench",
      "speed",
      ...TINY_TSN,
      "--frames",
      "2",
      "--size",
      "32",
      "--warmup",
      "0",
      "--iters",
      "2",
      "--threads",
      "1",
      "--out",
      csv,
    ];
    const r = await cli("--backend", "ort", ...args);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/ort \(1 thread\) +latency mean [\d.]+ ms/);
    await cli("--backend", "ort", ...args); // same key: replaced, not appended
    const rows = parse(readFileSync(csv, "utf8"), { columns: true }) as Row[];
    expect(rows).toHaveLength(1);
    expect(validateRow(rows[0], "row")).toEqual([]);
    expect(rows[0]).toMatchObject({ kind: "speed", model: "tsn", backend: "ort", threads: "1", frames: "2", size: "32", batch: "1" });
    expect(Number(rows[0].peak_rss_bytes)).toBeGreaterThan(0);
    expect(Number(rows[0].train_step_ms)).toBeGreaterThan(0); // the compiled SGD step on the CPU EP
  });

  it("rejects an unknown backend, a peer without sources and a model without a peer", async () => {
    expect((await cli("--backend", "onnx", "bench", "speed", ...TINY_TSN)).err).toMatch(
      /unknown backend "onnx"; choose one of .*ort, ort-webgpu, ort-cuda/,
    );
    expect((await cli("bench", "speed", ...TINY_TSN, "--peer", "pytorch")).err).toContain("needs --peer-src");
    expect((await cli("bench", "speed", "--model", "r3d", "--peer", "pytorch", "--peer-src", tmp)).err).toContain(
      'no official implementation for "r3d"',
    );
  });
});

const hasTorch = ["python3", "/usr/bin/python3"].some((py) => spawnSync(py, ["-c", "import torch"], { stdio: "ignore" }).status === 0);

describe.skipIf(!hasTorch)("PyTorch peer", () => {
  // A stand-in with the official constructor signature (a params dict; it prints, like the
  // original), not the official model: the protocol is under test, not PyTorch.
  const src = join(tmp, "fake-official");
  mkdirSync(join(src, "core", "models"), { recursive: true });
  writeFileSync(join(src, "core", "__init__.py"), "");
  writeFileSync(join(src, "core", "models", "__init__.py"), "");
  writeFileSync(
    join(src, "core", "models", "blvnet_tam.py"),
    [
      "import torch.nn as nn",
      "class bLVNet_TAM(nn.Module):",
      "    def __init__(self, params):",
      "        super().__init__()",
      "        print(params)",
      "        self.fc = nn.Linear(params['groups'] * 3, params['num_classes'])",
      "    def forward(self, x):",
      "        return self.fc(x.mean(dim=(2, 3)))",
    ].join("\n"),
  );

  it("builds from --peer-src once and answers timing commands", async () => {
    const options = { depth: 50, alpha: 2, beta: 4, frames: 2, blendingFrames: 3, numClasses: 5, dropout: 0, size: 8 };
    const session = await PeerSession.start({ model: "blvnet-tam", options, batch: 2, threads: 1, seed: 0, src });
    try {
      expect(session.info).toMatchObject({ threads: 1, output_shape: [2, 5], params: 6 * 5 + 5 });
      expect(await session.run("forward", 1, 3)).toHaveLength(3);
      expect(await session.run("train", 1, 2)).toHaveLength(2);
      expect((await session.close()).peak_rss_bytes).toBeGreaterThan(0);
    } finally {
      session.kill();
    }
  });

  it("bench speed --peer pytorch interleaves the runs and writes both rows with the ratio", async () => {
    const csv = join(tmp, "peer.csv");
    const r = await cli(
      "bench",
      "speed",
      "--model",
      "blvnet-tam",
      "--frames",
      "2",
      "--size",
      "32",
      "--opt",
      "numClasses=5",
      "--warmup",
      "1",
      "--iters",
      "2",
      "--threads",
      "1",
      "--peer",
      "pytorch",
      "--peer-src",
      src,
      "--out",
      csv,
    );
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/ratio \(pytorch \/ ort mean latency\): [\d.]+x/);
    const rows = parse(readFileSync(csv, "utf8"), { columns: true }) as Row[];
    expect(rows.map((x) => x.backend)).toEqual(["ort", "pytorch"]);
    for (const row of rows) expect(validateRow(row, "row")).toEqual([]);
    expect(rows[1].note).toMatch(/pytorch\/ort latency ratio=[\d.]+/);
    expect(Number(rows[1].train_step_ms)).toBeGreaterThan(0); // the peer trains too
  });
});
