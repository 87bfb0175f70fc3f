/**
 * The full reproduction as sweep specifications: the paper's FLOPs/params table and memory
 * comparison (analytic), speed over frames (8x2..32x2) and backbones (50, 101), and accuracy on a
 * dataset (default: the synthetic temporal benchmark). `quick` keeps every part but shrinks it to
 * finish in minutes on a 2-core CPU.
 */
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

/**
 * Accuracy on equal terms: bLVNet-TAM, the same bLResNet without TAM, TSN and TSM at the same depth,
 * width, frames, input size, schedule and seeds. On a CPU the models are narrowed (width 16) and
 * trained at 64x64 so the whole comparison takes minutes; the full run uses 112x112 and more epochs.
 */
export function accuracySpec(o: ReproduceOptions): SweepSpec {
  const width = 16;
  return {
    name: "accuracy",
    kinds: ["accuracy"],
    frames: [8],
    sizes: [o.quick ? 64 : 112],
    batches: [8],
    backends: [o.trainBackend],
    datasets: [o.dataset],
    seeds: o.seeds,
    models: [
      { model: "blvnet-tam", options: { depth: 50, width } },
      // the no-TAM ablation doubles the training time: full runs only
      ...(o.quick ? [] : [{ model: "blvnet", options: { depth: 50, width } }]),
      { model: "tsm", options: { depth: 50, width } },
      { model: "tsn", options: { depth: 50, width } },
    ],
  };
}
