import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeSafetensors } from "@blvnet/io";
import { describe, expect, it } from "vitest";
import { type LoopState, loadLatestCheckpoint, saveCheckpoint, TRAIN_STATE_FORMAT } from "./checkpoint.js";

const config: LoopState["config"] = {
  model: { name: "tsn", id: "tsn-r50-f8", options: { depth: 50 }, weights: null },
  data: { dir: "/data", split: "train" },
  frames: 8,
  size: 64,
  optimizer: { lr: 0.01, momentum: 0.9, weightDecay: 5e-4, nesterov: true, clipGradNorm: null },
  schedule: { kind: "cosine", lrSteps: [20, 40], warmupEpochs: 0 },
  epochs: 3,
  batch: 8,
  seed: 1,
  engine: "tfjs",
  backend: "cpu",
};
const state: LoopState = {
  format: TRAIN_STATE_FORMAT,
  epoch: 1,
  stepInEpoch: 2,
  globalStep: 7,
  stepsPerEpoch: 5,
  samplesSeen: 56,
  lr: 0.009,
  lastLoss: 0.5,
  config,
};
const tensors = () =>
  new Map([
    ["w", { shape: [2], data: Float32Array.of(1, 2) }],
    ["optimizer.momentum_buffer.w", { shape: [2], data: Float32Array.of(3, 4) }],
  ]);

describe("train-state checkpoints", () => {
  it("round-trip the loop state and tensors", () => {
    const run = mkdtempSync(join(tmpdir(), "blvnet-ckpt-"));
    saveCheckpoint(run, tensors(), state);
    const ck = loadLatestCheckpoint(run)!;
    expect(ck.state).toEqual(state);
    expect([...ck.tensors.keys()].sort()).toEqual(["optimizer.momentum_buffer.w", "w"]);
  });

  it("read the first format (flat settings) as the current one", () => {
    const run = mkdtempSync(join(tmpdir(), "blvnet-ckpt-v1-"));
    const dir = join(run, "checkpoints", "step-00000007");
    const v1 = {
      format: "blvnet-train-state/1",
      epoch: 1,
      stepInEpoch: 2,
      globalStep: 7,
      samplesSeen: 56,
      dataSeed: 1,
      dropoutSeed: 1,
      lr: 0.009,
      lastLoss: 0.5,
      schedule: { kind: "cosine", baseLr: 0.01, epochs: 3, lrSteps: [20, 40], warmupEpochs: 0, stepsPerEpoch: 5 },
      model: { name: "tsn", id: "tsn-r50-f8", options: { depth: 50 } },
      settings: {
        data: "/data",
        split: "train",
        batch: 8,
        frames: 8,
        size: 64,
        lr: 0.01,
        lrScheduler: "cosine",
        lrSteps: [20, 40],
        warmupEpochs: 0,
        momentum: 0.9,
        weightDecay: 5e-4,
        nesterov: true,
        clipGrad: null,
        epochs: 3,
        seed: 1,
        engine: "tfjs",
        backend: "cpu",
        weights: null,
      },
    };
    writeSafetensors(join(dir, "model.safetensors"), new Map([["w", tensors().get("w")!]]), {});
    writeSafetensors(
      join(dir, "train-state.safetensors"),
      new Map([["optimizer.momentum_buffer.w", tensors().get("optimizer.momentum_buffer.w")!]]),
      { loop_state: JSON.stringify(v1) },
    );
    writeFileSync(join(run, "checkpoints", "latest.json"), JSON.stringify({ dir: "step-00000007" }));
    expect(loadLatestCheckpoint(run)!.state).toEqual(state);
  });
});
