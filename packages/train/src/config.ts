/**
 * The configs and summaries of `train()` and `evaluate()`. Unset fields take the defaults below,
 * which are the official bLVNet-TAM recipe (and the CLI's flag defaults).
 */
import type { ModelOptions, SgdConfig } from "@blvnet/core";
import type { OrtDevice } from "@blvnet/engine-onnx";
import type { DatasetRecord, RunConfig } from "./checkpoint.js";
import type { EngineKind } from "./engine.js";
import type { EvalEngine, EvalReport } from "./evaluate.js";
import type { LrSchedule } from "./schedule.js";
import type { ValidationResult } from "./trainer.js";

/** Which model, built how, with which weights. */
export interface ModelConfig {
  /** Registry name (see `listModels()`), e.g. "blvnet-tam". */
  name: string;
  /** Model options (depth, frames, size, dropout, ...); numClasses defaults to the dataset's. */
  options?: ModelOptions;
  /** Start weights (train) or the weights to evaluate: safetensors or PyTorch .pth/.pth.tar. */
  weights?: string;
  /** Accept weights missing from the checkpoint and re-initialise a classifier of another size (with a warning). */
  allowMissing?: boolean;
}

/**
 * The synthetic temporal-order benchmark rendered in memory (createSynthLoader): no files, and with
 * `fresh` new training clips every epoch. Split "train" and "val" only.
 */
export interface SyntheticData {
  /** Difficulty level 0..4 (SYNTH_LEVELS; default 0 = clean). */
  level?: number;
  /** Class names (default: all 10 synthetic classes). */
  classes?: readonly string[];
  /** Training clips per class (per epoch with `fresh`). */
  perClass: number;
  /** Validation clips per class (default 30). */
  valPerClass?: number;
  /** Render new training clips every epoch (default true). */
  fresh?: boolean;
  /** Seed of the clips (default: the run's seed, so each seed sees its own data). */
  seed?: number;
}

export const SYNTHETIC_DEFAULTS = { level: 0, valPerClass: 30, fresh: true } as const;

export interface DataConfig {
  /** Dataset folder: list files + frame folders, annotation files, or the synthetic benchmark. Not with `synthetic`. */
  dir?: string;
  /** Instead of a folder: the synthetic benchmark rendered in memory. */
  synthetic?: SyntheticData;
  /** Split to train on (default "train") or to evaluate (default "val"). */
  split?: string;
  /** Training only: also evaluate this split (centre crop, 1 clip) after every epoch. */
  valSplit?: string;
  /** Samples decoded at once (default: the loader's). */
  workers?: number;
  /**
   * Stop with one line once more samples than this were skipped (missing or corrupt frames, bad
   * list lines): a fraction of the split's samples (< 1) or a count. Default 1% (DEFAULT_MAX_SKIPPED).
   */
  maxSkipped?: number;
}

export const DEFAULT_MAX_SKIPPED = 0.01;

/** Where messages go (resume notes, epoch summaries, warnings); default: stderr. */
export type LogSink = (message: string) => void;

export interface TrainConfig {
  model: ModelConfig;
  data: DataConfig;
  optimizer?: SgdConfig;
  schedule?: Partial<LrSchedule>;
  epochs?: number;
  /** Clips per batch. */
  batch?: number;
  /** Seed of the initial weights, data sampling and dropout. */
  seed?: number;
  /** tfjs (TfOps + tf.variableGrads) or ort (each SGD step one ONNX graph in onnxruntime). */
  engine?: EngineKind;
  /**
   * ort engine: the execution provider of the step graph: cpu (default), webgpu (WebGPU EP over
   * Vulkan/Metal/D3D12; weights and optimizer state stay on the GPU between steps) or cuda.
   */
  device?: OrtDevice;
  /** tfjs backend of the tfjs engine (default: the best available). */
  backend?: string;
  /** Run folder (default results/runs/<model id>-<time>). */
  out?: string;
  /** Continue the run in `out` from its newest checkpoint (bit-exact). */
  resume?: boolean;
  /** Stop (checkpointed) after this many optimizer steps in all. */
  maxSteps?: number;
  /** Also checkpoint every N steps. */
  saveEvery?: number;
  /** Checkpoints kept on disk. */
  keep?: number;
  /** Progress bar on stderr (default off). */
  progress?: boolean;
  log?: LogSink;
  /** The command line that started the run, for the resume command a divergence suggests. */
  command?: string[];
}

export const TRAIN_DEFAULTS = {
  optimizer: { lr: 0.01, momentum: 0.9, weightDecay: 5e-4, nesterov: true },
  schedule: { kind: "cosine", lrSteps: [20, 40], warmupEpochs: 0 },
  epochs: 50,
  batch: 8,
  seed: 0,
  engine: "tfjs",
  keep: 2,
} as const satisfies Partial<TrainConfig>;

export interface TrainSummary {
  /** "done" after the last epoch, "stopped" at maxSteps. */
  status: "done" | "stopped";
  /** The run's config as saved in run.json (defaults applied). */
  config: RunConfig;
  dataset: DatasetRecord;
  /** Samples skipped (train and validation splits, each counted once, with its reason in the log). */
  skipped: number;
  outDir: string;
  /** The newest weights (outDir/model.safetensors) and checkpoint folder. */
  weights: string;
  checkpoint: string;
  /** Epochs and optimizer steps done in all. */
  epoch: number;
  globalStep: number;
  lastLoss: number;
  /** Validation of the last epoch trained in this call (with data.valSplit), else null. */
  validation: ValidationResult | null;
  /** Step the run resumed from, or null. */
  resumedFrom: number | null;
  /** Seconds in the training loop (this call), its clips/s, and the whole call with setup. */
  seconds: number;
  clipsPerSecond: number;
  totalSeconds: number;
}

export interface EvalConfig {
  model: ModelConfig & { weights: string };
  data: Omit<DataConfig, "valSplit">;
  /** Crops per clip: 1 (centre) or 3 (the official three-crop test). */
  crops?: 1 | 3;
  /** Clips per video (softmax averaged over clips x crops). */
  clips?: number;
  /** Videos per batch. */
  batch?: number;
  /** tfjs, or ONNX Runtime (ort = CPU, ort-webgpu, ort-cuda); default the ort name when `backend` is one, else tfjs. */
  engine?: EvalEngine;
  /** tfjs backend of the tfjs engine. */
  backend?: string;
  /** Output folder (default results/eval/<model id>-<split>). */
  out?: string;
  progress?: boolean;
  log?: LogSink;
}

export const EVAL_DEFAULTS = { split: "val", crops: 1, clips: 1, batch: 8 } as const;

export interface EvalSummary {
  model: { name: string; id: string; options: Record<string, unknown> };
  /** Absolute path of the evaluated weights and tensors loaded from them. */
  weights: string;
  tensorsLoaded: number;
  engine: EvalEngine;
  backend: string;
  /** The split's samples (evaluated + skipped). */
  dataset: { dir: string; split: string; videos: number };
  /** Samples skipped (each with its reason in the log); `report.videos` were evaluated. */
  skipped: number;
  report: EvalReport;
  outDir: string;
  files: string[];
}
