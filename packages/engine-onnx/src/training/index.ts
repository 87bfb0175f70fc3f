export type { FlipWeight, InputGradLowering } from "./conv-grad.js";
export { findProfileFile, type ProfileNodeRow, type ProfileRow, summarizeProfile } from "./profile.js";
export {
  buildForwardGraph,
  buildStepGraph,
  type ForwardGraph,
  type ForwardModel,
  type MomentumSlot,
  type ParamSlot,
  STEP_IO,
  type StepGraph,
  type StepGraphOptions,
} from "./step-graph.js";
export {
  createOrtTrainer,
  type OrtStepResult,
  OrtTrainer,
  type OrtTrainerOptions,
  type StepOptions,
  type TrainableForwardModel,
} from "./trainer.js";
export { type DropoutMask, OnnxTrainOps, PACK_UPDATES_BELOW, type RunningStatsUpdate, type TrainLowering } from "./trainops.js";
