// @blvnet/train: training and evaluation as a library (`train(config)`, `evaluate(config)`), the two
// training engines behind one interface, checkpoints, metrics and provenance.
export { EVAL_ENGINES, evaluate, syntheticName, train } from "./api.js";
export {
  checkpointsDir,
  type DatasetRecord,
  type LoopState,
  loadLatestCheckpoint,
  type RunConfig,
  type RunRecord,
  TRAIN_STATE_FORMAT,
} from "./checkpoint.js";
export {
  type DataConfig,
  DEFAULT_MAX_SKIPPED,
  EVAL_DEFAULTS,
  type EvalConfig,
  type EvalSummary,
  type LogSink,
  type ModelConfig,
  SYNTHETIC_DEFAULTS,
  type SyntheticData,
  TRAIN_DEFAULTS,
  type TrainConfig,
  type TrainSummary,
} from "./config.js";
export { ENGINES, type EngineKind, MOMENTUM_PREFIX, NonFiniteLossError, type StepResult, type TrainingEngine } from "./engine.js";
export { type OrtEngineOptions, OrtTrainingEngine } from "./engine-ort.js";
export { createTrainingEngine } from "./engines.js";
export {
  type EvalEngine,
  type EvalReport,
  evaluateModel,
  ortScorer,
  type PredictionRow,
  reversePartners,
  type Scorer,
  tfjsScorer,
  writeEvalOutputs,
} from "./evaluate.js";
export { initForTraining } from "./init.js";
export { deviceName, gitCommit, PROVENANCE_COLUMNS, type Provenance, provenance } from "./provenance.js";
export { epochLr, type LrSchedule, learningRate, lrStepsProblem, SCHEDULERS, type ScheduleConfig, type SchedulerKind } from "./schedule.js";
export { STEP_KEY, TfjsEngine, type TfjsEngineOptions } from "./tfjs-engine.js";
export type { ConfigChange } from "./trainer.js";
export { type LoopSummary, type TrainLoopOptions, trainLoop, type ValidationResult, validate } from "./trainer.js";
export { VERSION } from "./version.js";
