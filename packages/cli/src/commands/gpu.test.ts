// The onnxruntime GPU backends through the CLI: `env` lists ort / ort-webgpu / ort-cuda, a missing
// Vulkan driver or CUDA EP is a one-line error, and `--backend ort-webgpu bench speed` writes a row
// whose note says where the nodes ran. The ort-webgpu run needs a WebGPU adapter (lavapipe in CI:
// .ci/install-vulkan); with CI=true a missing adapter fails, elsewhere that test is skipped. So does
// `train --engine ort --device webgpu`: one step equal to `--device cpu` (<= 1e-4 per tensor).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { synthesize } from "@blvnet/data";
import { ortDevices } from "@blvnet/engine-onnx";
import { decodeSafetensors } from "@blvnet/io";
import { parse } from "csv-parse/sync";
import { afterAll, describe, expect, it } from "vitest";
import { runCli as cli } from "../run-cli.js";

const tmp = mkdtempSync(join(tmpdir(), "blvnet-gpu-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const TINY = [
  "--model",
  "tsn",
  "--opt",
  "depth=18",
  "--opt",
  "width=16",
  "--opt",
  "numClasses=3",
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
];

const required = process.env.CI === "true" || process.env.BLVNET_WEBGPU_TESTS === "require";
const webgpu = (await ortDevices({ probe: true })).find((d) => d.backend === "ort-webgpu")!;

async function withEnv<T>(name: string, value: string, fn: () => Promise<T>): Promise<T> {
  const saved = process.env[name];
  process.env[name] = value;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env[name];
    else process.env[name] = saved;
  }
}

describe("onnxruntime GPU backends in the CLI", () => {
  it("env lists ort, ort-webgpu and ort-cuda with availability and a reason", async () => {
    const { code, out } = await cli("env", "--json", "--no-probe");
    expect(code).toBe(0);
    const ort = JSON.parse(out).ort as { backend: string; available: boolean; reason?: string }[];
    expect(ort.map((d) => d.backend)).toEqual(["ort", "ort-webgpu", "ort-cuda"]);
    for (const d of ort) if (!d.available) expect(d.reason).toMatch(/\S/);
    const tamBlend = JSON.parse(out).tamBlend as { available: boolean; reason?: string };
    expect(tamBlend.available || /\S/.test(tamBlend.reason ?? "")).toBe(true);
    const text = await cli("env", "--no-probe");
    expect(text.out).toMatch(/ort-webgpu\s+(available|unavailable)/);
    expect(text.out).toMatch(/^TAM blend on the CPU \(ort\): (RowBlend custom op|plain ONNX graph \(.+\))$/m);
  });

  it("a missing Vulkan driver or CUDA EP is a one-line error", async () => {
    const r = await withEnv("VK_DRIVER_FILES", join(tmp, "none.json"), () => cli("--backend", "ort-webgpu", "bench", "speed", ...TINY));
    expect(r.code).toBe(2);
    expect(r.err.split("\n")).toHaveLength(1);
    expect(r.err).toMatch(/^blvnet: backend ort-webgpu: no Vulkan (driver|loader)/);
    const cuda = (await ortDevices({ probe: false })).find((d) => d.backend === "ort-cuda")!;
    if (cuda.available) return;
    const c = await cli("--backend", "ort-cuda", "bench", "speed", ...TINY);
    expect(c.code).toBe(2);
    expect(c.err.split("\n")).toHaveLength(1);
    expect(c.err).toMatch(/^blvnet: backend ort-cuda: /);
  });

  it.skipIf(!webgpu.available && !required)(
    "bench speed --backend ort-webgpu: a row with the node placement",
    async () => {
      if (!webgpu.available) throw new Error(`ort-webgpu unavailable: ${webgpu.reason} (run .ci/install-vulkan)`);
      const file = join(tmp, "speed.csv");
      const r = await cli("--backend", "ort-webgpu", "bench", "speed", ...TINY, "--out", file);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/nodes: (all \d+ nodes on WebGpuExecutionProvider|\d+\/\d+ nodes on CPU)/);
      const rows = parse(readFileSync(file, "utf8"), { columns: true }) as Record<string, string>[];
      expect(rows).toHaveLength(1);
      expect(rows[0].backend).toBe("ort-webgpu");
      expect(rows[0].note).toMatch(/nodes: /);
      expect(rows[0].note).toMatch(/gpu peak MiB=/);
      expect(Number(rows[0].clips_per_s)).toBeGreaterThan(0);
    },
    300_000,
  );

  it("train --device needs --engine ort", async () => {
    const r = await cli(
      "train",
      "--model",
      "tsn",
      "--data",
      tmp,
      "--engine",
      "tfjs",
      "--device",
      "webgpu",
      "--no-progress",
      "--out",
      join(tmp, "x"),
    );
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--device webgpu needs --engine ort/);
  });

  it.skipIf(!webgpu.available && !required)(
    "train --engine ort --device webgpu: one step equal to --device cpu",
    async () => {
      if (!webgpu.available) throw new Error(`ort-webgpu unavailable: ${webgpu.reason} (run .ci/install-vulkan)`);
      const data = (
        await synthesize(join(tmp, "synth"), { classes: ["move-left", "move-right"], train: 2, val: 1, frames: 4, size: 32, seed: 1 })
      ).dir;
      const run = async (device: string) => {
        const out = join(tmp, `run-${device}`);
        const r = await cli(
          "--backend",
          "cpu",
          "train",
          "--model",
          "tsn",
          "--opt",
          "depth=18",
          "--opt",
          "width=16",
          "--opt",
          "frames=2",
          "--opt",
          "size=32",
          "--opt",
          "dropout=0",
          "--data",
          data,
          "--epochs",
          "1",
          "--batch",
          "2",
          "--lr",
          "0.01",
          "--max-steps",
          "1",
          "--engine",
          "ort",
          "--device",
          device,
          "--workers",
          "1",
          "--no-progress",
          "--out",
          out,
        );
        expect(r.code, r.err).toBe(0);
        return { log: `${r.out}\n${r.err}`, weights: decodeSafetensors(readFileSync(join(out, "model.safetensors"))).tensors };
      };
      const cpu = await run("cpu");
      const gpu = await run("webgpu");
      expect(gpu.log).toMatch(/backend ort-webgpu/);
      let n = 0;
      for (const [k, t] of cpu.weights) {
        if (!(t.data instanceof Float32Array)) continue;
        const g = gpu.weights.get(k)!.data as Float32Array;
        let num = 0;
        let den = 1e-30;
        for (let i = 0; i < g.length; i++) {
          num = Math.max(num, Math.abs(g[i]! - t.data[i]!));
          den = Math.max(den, Math.abs(t.data[i]!));
        }
        expect(num / den, k).toBeLessThanOrEqual(1e-4);
        n++;
      }
      expect(n).toBeGreaterThan(50);
    },
    600_000,
  );
});
