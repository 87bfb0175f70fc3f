export { readCheckpoint, readCheckpointFile, decodeCheckpoint, detectFormat } from "./read.js";
export type { Checkpoint, CheckpointFormat, CheckpointInfo } from "./read.js";
export { loadWeights, explainMismatch } from "./load.js";
export type { LoadWeightsOptions, LoadWeightsResult } from "./load.js";
