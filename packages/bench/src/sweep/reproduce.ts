/**
 * The full reproduction as sweep specifications: the paper's FLOPs/params table and memory
 * comparison (analytic), speed over frames (8x2..32x2) and backbones (50, 101), and accuracy on a
 * dataset (default: the synthetic temporal benchmark). `quick` keeps every part but shrinks it to
 * finish in minutes on a 2-core CPU.
 */

import { CPU_RECIPE } from "../recipe/cpu-recipe.js";
import type { SweepSpec } from "./spec.js";

export interface ReproduceOptions {
  quick: boolean;
  /** Dataset name recorded in the rows (e.g. "synthetic" or the --data folder name). */
  dataset: string;
  /** Backend of the speed sweep (ort, ort-webgpu, ort-cuda, wasm, cpu, tensorflow). */
  speedBackend: string;
  /** Backend of the accuracy runs (a tfjs backend). */
  trainBackend: string;
  seeds: number[];
}

const BLV_FRAMES = [16, 32, 48, 64]; // f8x2, f16x2, f24x2, f32x2

export function profileSpec(): SweepSpec {
  return {
    name: "profile",
    kinds: ["profile"],
    frames: [],
    sizes: [224],
    batches: [1],
    backends: ["analytic"],
    models: [
      { model: "blvnet-tam", options: { depth: 50 }, frames: [8, ...BLV_FRAMES] },
      { model: "blvnet-tam", options: { depth: 101 }, frames: BLV_FRAMES },
      { model: "blvnet", options: { depth: 50 }, frames: BLV_FRAMES },
      { model: "blvnet", options: { depth: 101 }, frames: BLV_FRAMES },
      { model: "tsn", options: { depth: 50 }, frames: [8, 16, 32, 48, 64] },
      { model: "tsm", options: { depth: 50 }, frames: [8, 16, 32, 48, 64] },
      { model: "tam-resnet", options: { depth: 50 }, frames: [8, 16] },
      { model: "tsn", options: { depth: 101 }, frames: [8, 16] },
      { model: "r2plus1d", frames: [16], sizes: [112] },
      { model: "r3d", frames: [16], sizes: [112] },
      { model: "mc3", frames: [16], sizes: [112] },
      { model: "i3d", frames: [8, 32], sizes: [224] },
    ],
  };
}

export function speedSpec(o: ReproduceOptions): SweepSpec {
  const tfjs = !o.speedBackend.startsWith("ort");
  // tfjs backends are ~5-10x slower than onnxruntime here: the quick sweep keeps the smaller configs
  const frames = o.quick && tfjs ? [16, 32] : BLV_FRAMES;
  return {
    name: "speed",
    kinds: ["speed"],
    frames,
    sizes: [224],
    batches: [1],
    backends: [o.speedBackend],
    models: [
      { model: "blvnet-tam", options: { depth: 50 } },
      ...(o.quick && tfjs ? [] : [{ model: "blvnet-tam", options: { depth: 101 } }]),
      { model: "tsm", options: { depth: 50 }, frames: [8, 16] },
      { model: "tsn", options: { depth: 50 }, frames: [8, 16] },
    ],
    settings: { warmup: 1, iters: o.quick ? 3 : 10 },
  };
}

/** Sweep settings of an accuracy spec trained on the in-memory synthetic benchmark with the CPU recipe. */
export function recipeSettings(level = CPU_RECIPE.level): Record<string, number | string | boolean> {
  return {
    synthetic: true,
    level,
    classes: CPU_RECIPE.classes.join(","),
    perClass: CPU_RECIPE.perClass,
    valPerClass: CPU_RECIPE.valPerClass,
    epochs: CPU_RECIPE.epochs,
    lr: CPU_RECIPE.lr,
    warmup: CPU_RECIPE.warmupEpochs,
    dropout: CPU_RECIPE.dropout,
  };
}

/** The dataset column of rows trained on the in-memory synthetic benchmark (level, class count). */
export function syntheticDataset(level: number, classes: number): string {
  return `synthetic-l${level}-c${classes}`;
}

/**
 * Accuracy on equal terms with the CPU recipe (recipe/cpu-recipe.ts): bLVNet-TAM (bLResNet-50), TSM and
 * TSN (ResNet-18), all at width 8, 8 frames, 32x32, on the synthetic benchmark rendered in memory
 * (level 0, 8 classes, new clips every epoch, each seed its own clips). The full run adds the same
 * bLResNet without TAM (the paper's ablation; it doubles the time); quick keeps one seed by default.
 */
export function accuracySpec(o: ReproduceOptions): SweepSpec {
  const width = CPU_RECIPE.width;
  const r = { width };
  return {
    name: "accuracy",
    kinds: ["accuracy"],
    frames: [CPU_RECIPE.frames],
    sizes: [CPU_RECIPE.size],
    batches: [CPU_RECIPE.batch],
    backends: [o.trainBackend],
    datasets: [syntheticDataset(CPU_RECIPE.level, CPU_RECIPE.classes.length)],
    seeds: o.seeds,
    models: [
      { model: "blvnet-tam", options: { depth: CPU_RECIPE.blvnetDepth, ...r } },
      ...(o.quick ? [] : [{ model: "blvnet", options: { depth: CPU_RECIPE.blvnetDepth, ...r } }]),
      { model: "tsm", options: { depth: CPU_RECIPE.depth, ...r } },
      { model: "tsn", options: { depth: CPU_RECIPE.depth, ...r } },
    ],
    settings: recipeSettings(),
  };
}

/**
 * The hardest synthetic level (4: every nuisance, free colours) from JPEG folders at 112x112 and the
 * official depth 50, width 16: a GPU-scale run (full reproduction only; hours on a CPU, where it
 * stays at chance at the CPU budget).
 */
export function hardAccuracySpec(o: ReproduceOptions): SweepSpec {
  const width = 16;
  return {
    name: "accuracy-hard",
    kinds: ["accuracy"],
    frames: [8],
    sizes: [112],
    batches: [8],
    backends: [o.trainBackend],
    datasets: [o.dataset],
    seeds: o.seeds,
    models: [
      { model: "blvnet-tam", options: { depth: 50, width } },
      { model: "blvnet", options: { depth: 50, width } },
      { model: "tsm", options: { depth: 50, width } },
      { model: "tsn", options: { depth: 50, width } },
    ],
  };
}
