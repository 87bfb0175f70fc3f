// @blvnet/bench: sweeps and their result rows, the jobs built on them (compare, reproduce), publishing
// (tables, plots, report), speed and memory measurement, the profile tables, and golden verification.

export { GOLDEN_FORMAT, type Golden, loadGolden } from "./golden.js";
// jobs
export {
  COMPARE_DEFAULTS,
  type CompareConfig,
  type CompareSummary,
  compare,
  compareLevels,
  compareTable,
  type LevelSweepSummary,
  TEMPORAL_MODULES,
} from "./jobs/compare.js";
export { REPRODUCE_PARTS, type ReproduceConfig, type ReproducePart, type ReproduceSummary, reproduce } from "./jobs/reproduce.js";
export { markdownTable } from "./markdown.js";
export { type ConfigTarget, configName, parseConfigName } from "./profiling/configs.js";
// profiling
export { FORMATS, type Format, parseFormat, type Rows, renderRows } from "./profiling/format.js";
export { type MeasuredMemory, measureMemory } from "./profiling/measure.js";
export { checkReferenceConfigs, type ReferenceCheck, type ReferenceCount, readCounts, TOLERANCE } from "./profiling/reference.js";
export { measuredRows, moduleRows, referenceRows, summaryRows } from "./profiling/rows.js";
export { writeProfileTables } from "./profiling/tables.js";
export { buildTarget, profileTarget, resolveTarget } from "./profiling/target.js";
// publishing
export { mergeRuns, type PublishOptions, type PublishResult, publish } from "./publish/publish.js";
export { pairedDifference, type Summary, summarize, tQuantile975 } from "./publish/stats.js";
export { type ChartOptions, chart, type Series } from "./publish/svg.js";
export { type Table, toHtml, toMarkdown } from "./publish/table.js";
export { CPU_RECIPE, CPU_SYNTH_CLASSES } from "./recipe/cpu-recipe.js";
export { defaultCountsFile, REFERENCE_DIR, readReference } from "./reference.js";
export { type AccuracySettings, accuracyRunner } from "./runners/accuracy.js";
export { runProfile } from "./runners/profile.js";
export { isPeerBackend, PEER_BACKENDS, peerSourceFor, type SpeedSettings, speedRunner } from "./runners/speed.js";
// speed
export {
  checkSpeedBackend,
  defaultThreads,
  type LatencyStats,
  latencyStats,
  measureSpeed,
  SPEED_BACKENDS,
  type SpeedBackend,
  type SpeedConfig,
  type SpeedPhase,
  type SpeedResult,
  trainSteps,
} from "./speed/measure.js";
export { PEER_DEVICES, PEER_MODELS, type PeerConfig, type PeerDevice, type PeerInfo, PeerSession } from "./speed/peer.js";
export { appendRows, type PeerMeasurement, peerRow, type SpeedRowContext, speedRow } from "./speed/rows.js";
export { runSpeed, type SpeedRunConfig, type SpeedRunResult } from "./speed/session.js";
export {
  estimateGpuSweepSeconds,
  GPU_BASELINE_FRAMES,
  GPU_BLV_FRAMES,
  GPU_BUDGET_S,
  type GpuBudgetInput,
  gpuSpeedSpec,
} from "./sweep/gpu-spec.js";
export { accuracySpec, profileSpec, type ReproduceOptions, speedSpec } from "./sweep/reproduce.js";
export { type Column, JOB_KINDS, type JobKind, ROW_COLUMNS, type Row, validateRow } from "./sweep/rows.js";
// sweeps: specs -> jobs -> runners -> rows
export { type Runner, type RunnerResult, runSweep, type SweepOptions, type SweepSummary } from "./sweep/run.js";
export { expandSweep, type Job, jobKey, loadSweepFile, type ModelVariant, parseShard, type SweepSpec, shardJobs } from "./sweep/spec.js";
export { RESULTS_FILE, ResultStore, readRows, writeRows } from "./sweep/store.js";
// golden verification
export { formatResult, formatStages, goldenFilesIn, type VerifyOptions, type VerifyResult, verifyFiles, verifyGolden } from "./verify.js";
