// @blvnet/bench: sweeps and their result rows, the jobs built on them (compare, reproduce), publishing
// (tables, plots, report), speed and memory measurement, the profile tables, and golden verification.

// jobs
export { compare, compareTable, COMPARE_DEFAULTS, TEMPORAL_MODULES, type CompareConfig, type CompareSummary } from "./jobs/compare.js";
export { reproduce, REPRODUCE_PARTS, type ReproduceConfig, type ReproducePart, type ReproduceSummary } from "./jobs/reproduce.js";

// sweeps: specs -> jobs -> runners -> rows
export { runSweep, type Runner, type RunnerResult, type SweepOptions, type SweepSummary } from "./sweep/run.js";
export { expandSweep, jobKey, loadSweepFile, parseShard, shardJobs, type Job, type ModelVariant, type SweepSpec } from "./sweep/spec.js";
export { accuracySpec, profileSpec, speedSpec, type ReproduceOptions } from "./sweep/reproduce.js";
export { JOB_KINDS, ROW_COLUMNS, validateRow, type Column, type JobKind, type Row } from "./sweep/rows.js";
export { readRows, RESULTS_FILE, ResultStore, writeRows } from "./sweep/store.js";
export { accuracyRunner, type AccuracySettings } from "./runners/accuracy.js";
export { runProfile } from "./runners/profile.js";
export { speedRunner, type SpeedSettings } from "./runners/speed.js";

// publishing
export { mergeRuns, publish, type PublishOptions, type PublishResult } from "./publish/publish.js";
export { toHtml, toMarkdown, type Table } from "./publish/table.js";
export { chart, type ChartOptions, type Series } from "./publish/svg.js";
export { markdownTable } from "./markdown.js";
export { defaultCountsFile, readReference, REFERENCE_DIR } from "./reference.js";

// speed
export {
  checkSpeedBackend,
  defaultThreads,
  latencyStats,
  measureSpeed,
  SPEED_BACKENDS,
  trainSteps,
  type LatencyStats,
  type SpeedBackend,
  type SpeedConfig,
  type SpeedPhase,
  type SpeedResult,
} from "./speed/measure.js";
export { PEER_MODELS, PeerSession, type PeerConfig, type PeerInfo } from "./speed/peer.js";
export { appendRows, peerRow, speedRow, type PeerMeasurement, type SpeedRowContext } from "./speed/rows.js";
export { runSpeed, type SpeedRunConfig, type SpeedRunResult } from "./speed/session.js";

// profiling
export { FORMATS, parseFormat, renderRows, type Format, type Rows } from "./profiling/format.js";
export { measureMemory, type MeasuredMemory } from "./profiling/measure.js";
export { checkReferenceConfigs, readCounts, TOLERANCE, type ReferenceCheck, type ReferenceCount } from "./profiling/reference.js";
export { measuredRows, moduleRows, referenceRows, summaryRows } from "./profiling/rows.js";
export { writeProfileTables } from "./profiling/tables.js";
export { buildTarget, profileTarget, resolveTarget } from "./profiling/target.js";
export { configName, parseConfigName, type ConfigTarget } from "./profiling/configs.js";

// golden verification
export { formatResult, formatStages, goldenFilesIn, verifyFiles, verifyGolden, type VerifyOptions, type VerifyResult } from "./verify.js";
export { GOLDEN_FORMAT, loadGolden, type Golden } from "./golden.js";
