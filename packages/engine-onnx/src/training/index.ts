export { OnnxTrainOps, type DropoutMask, type RunningStatsUpdate, type TrainLowering } from "./trainops.js";
export type { InputGradLowering } from "./conv-grad.js";
export { buildStepGraph, buildForwardGraph, STEP_IO, type StepGraph, type ForwardGraph, type StepGraphOptions, type ParamSlot, type MomentumSlot, type ForwardModel } from "./step-graph.js";
export { OrtTrainer, createOrtTrainer, type OrtTrainerOptions, type OrtStepResult, type StepOptions, type TrainableForwardModel } from "./trainer.js";
export { findProfileFile, summarizeProfile, type ProfileRow, type ProfileNodeRow } from "./profile.js";
