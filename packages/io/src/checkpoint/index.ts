export type { LoadWeightsOptions, LoadWeightsResult } from "./load.js";
export { explainMismatch, loadWeights } from "./load.js";
export type { Checkpoint, CheckpointFormat, CheckpointInfo } from "./read.js";
export { decodeCheckpoint, detectFormat, readCheckpoint, readCheckpointFile } from "./read.js";
