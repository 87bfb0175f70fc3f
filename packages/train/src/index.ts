// @blvnet/train: training and evaluation as a library (`train(config)`, `evaluate(config)`), the two
// training engines behind one interface, checkpoints, metrics and provenance.
export { train, evaluate, EVAL_ENGINES } from "./api.js";
export {
  TRAIN_DEFAULTS,
  DEFAULT_MAX_SKIPPED,
  EVAL_DEFAULTS,
  type TrainConfig,
  type EvalConfig,
  type ModelConfig,
  type DataConfig,
  type LogSink,
  type TrainSummary,
  type EvalSummary,
} from "./config.js";
export type { ConfigChange } from "./trainer.js";
export { TRAIN_STATE_FORMAT, checkpointsDir, loadLatestCheckpoint, type RunConfig, type RunRecord, type DatasetRecord, type LoopState } from "./checkpoint.js";
export { SCHEDULERS, learningRate, epochLr, lrStepsProblem, type SchedulerKind, type LrSchedule, type ScheduleConfig } from "./schedule.js";
export { ENGINES, MOMENTUM_PREFIX, NonFiniteLossError, type EngineKind, type TrainingEngine, type StepResult } from "./engine.js";
export { createTrainingEngine } from "./engines.js";
export { TfjsEngine, STEP_KEY, type TfjsEngineOptions } from "./tfjs-engine.js";
export { OrtTrainingEngine, type OrtEngineOptions } from "./engine-ort.js";
export { trainLoop, validate, type TrainLoopOptions, type LoopSummary, type ValidationResult } from "./trainer.js";
export { evaluateModel, tfjsScorer, ortScorer, writeEvalOutputs, reversePartners, type EvalEngine, type EvalReport, type Scorer, type PredictionRow } from "./evaluate.js";
export { initForTraining } from "./init.js";
export { provenance, deviceName, gitCommit, PROVENANCE_COLUMNS, type Provenance } from "./provenance.js";
export { VERSION } from "./version.js";
