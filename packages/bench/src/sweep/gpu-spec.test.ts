// The GPU reproduction's sweep (reproduce --gpu): its jobs, the time budget of the speed runner, the
// choices it refuses, and the published speed table (GPU rows beside CPU rows, peak GPU column).
// No GPU needed: nothing here measures.
import { describe, expect, it } from "vitest";
import { reproduce } from "../jobs/reproduce.js";
import { buildTables } from "../publish/tables.js";
import { speedRunner } from "../runners/speed.js";
import { estimateGpuSweepSeconds, gpuSpeedSpec } from "./gpu-spec.js";
import type { Row } from "./rows.js";
import { expandSweep } from "./spec.js";

describe("reproduce --gpu", () => {
  it("sweeps bLVNet-TAM-50/101 f8x2..f32x2 and TSM/TSN-R50 8..64 frames at batch 1 and 8, training step included", () => {
    const jobs = expandSweep(gpuSpeedSpec());
    expect(jobs).toHaveLength(32);
    expect(new Set(jobs.map((j) => j.backend))).toEqual(new Set(["ort-webgpu"]));
    expect(new Set(jobs.map((j) => j.batch))).toEqual(new Set([1, 8]));
    expect(jobs.filter((j) => j.model === "blvnet-tam").map((j) => j.frames)).toEqual([
      16, 16, 16, 16, 32, 32, 32, 32, 48, 48, 48, 48, 64, 64, 64, 64,
    ]);
    // smallest configurations of all four models first (a sweep cut by its budget still compares them)
    expect(jobs.slice(0, 8).map((j) => `${j.model}${j.options.depth}/${j.frames}/b${j.batch}`)).toEqual([
      "blvnet-tam50/16/b1",
      "blvnet-tam50/16/b8",
      "tsm50/8/b1",
      "tsm50/8/b8",
      "tsn50/8/b1",
      "tsn50/8/b8",
      "blvnet-tam101/16/b1",
      "blvnet-tam101/16/b8",
    ]);
    expect(jobs.filter((j) => j.model === "tsm").map((j) => j.frames)).toEqual([8, 8, 16, 16, 32, 32, 64, 64]);
    expect(gpuSpeedSpec().settings).toMatchObject({ warmup: 3, iters: 10, train: true });
    const withPeer = expandSweep(gpuSpeedSpec({ backend: "ort-cuda", peer: true }));
    expect(withPeer).toHaveLength(64);
    expect(new Set(withPeer.map((j) => j.backend))).toEqual(new Set(["ort-cuda", "pytorch-cuda"]));
    expect(estimateGpuSweepSeconds({ setupS: 2, inferS: 0.05, trainS: 0.2, peerS: 2 })).toBeCloseTo(32 * (4 + 13 * 0.05 + 6 * 0.2 + 2), 6);
  });

  it("starts no job after the time budget", async () => {
    const run = speedRunner({ warmup: 0, iters: 1, train: false, deadline: Date.now() - 1 });
    const [job] = expandSweep(gpuSpeedSpec());
    await expect(run(job!)).rejects.toThrow(/over the time budget/);
  });

  it("refuses a CPU backend, --quick, and peer jobs without sources", async () => {
    await expect(reproduce({ gpu: true, speedBackend: "ort", publish: false, out: "/nonexistent/x" })).rejects.toThrow(/not a GPU backend/);
    await expect(reproduce({ gpu: true, quick: true, publish: false, out: "/nonexistent/x" })).rejects.toThrow(/do not combine/);
    const spec = { ...gpuSpeedSpec({ peer: true }), name: "p" };
    await expect(reproduce({ specs: [spec], parts: ["speed"], publish: false, out: "/nonexistent/x" })).rejects.toThrow(/need --peer-src/);
  });

  it("publishes GPU rows beside the CPU rows of the same configuration, with peak GPU memory", () => {
    const row = (backend: string, batch: number, gpu: number | "" = ""): Row => ({
      kind: "speed",
      model: "tsm",
      model_id: "tsm-r50-f8",
      depth: 50,
      frames: 8,
      size: 224,
      batch,
      backend,
      latency_ms: 10,
      clips_per_s: 100,
      peak_gpu_bytes: gpu,
    });
    const rows = [row("ort", 1), row("ort", 8), row("ort-webgpu", 1, 512 * 2 ** 20), row("pytorch-cuda", 1, 256 * 2 ** 20)];
    const speed = buildTables(rows).find((t) => t.title.startsWith("Speed"))!;
    const gpuCol = speed.headers.indexOf("peak GPU (MiB)");
    expect(gpuCol).toBeGreaterThan(0);
    expect(speed.rows.map((r) => `${r[4]}/b${r[3]}`)).toEqual(["ort/b1", "ort-webgpu/b1", "pytorch-cuda/b1", "ort/b8"]);
    expect(speed.rows.map((r) => r[gpuCol])).toEqual(["", 512, 256, ""]);
  });
});
