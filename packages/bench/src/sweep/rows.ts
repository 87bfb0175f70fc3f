/**
 * The results row schema shared by every sweep runner, `publish` and the report: one row per
 * (job: kind x model x frames x size x batch x backend x dataset x seed), with provenance.
 */
import { PROVENANCE_COLUMNS } from "@blvnet/train";

export const JOB_KINDS = ["profile", "speed", "accuracy"] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/** Columns that identify a job (its key) and describe the model and data (level: of the synthetic benchmark, 0..4; blank otherwise). */
export const ID_COLUMNS = [
  "kind",
  "key",
  "model",
  "model_id",
  "depth",
  "temporal",
  "frames",
  "size",
  "batch",
  "backend",
  "dataset",
  "level",
  "seed",
] as const;

/** Measured columns, blank where a kind does not measure them. */
export const METRIC_COLUMNS = [
  // profile (analytic, shape-only interpreter)
  "params",
  "macs",
  "other_flops",
  "saved_activation_bytes",
  "peak_forward_bytes",
  // speed
  "latency_ms",
  "clips_per_s",
  "train_step_ms",
  "peak_tensor_bytes",
  "peak_rss_bytes",
  /** GPU backends: peak device memory of the measurement (nvidia-smi: the process' memory, else the device's used memory above its baseline; torch.cuda.max_memory_allocated for the PyTorch peer) */
  "peak_gpu_bytes",
  // accuracy
  "top1",
  "top5",
  /** synthetic benchmark: share of videos whose class outscores its time-reversed partner (chance 50%) */
  "pair_accuracy",
  "epochs",
  "train_clips",
  "val_clips",
  "train_seconds",
  /** samples skipped while training and evaluating (missing or corrupt frames, bad list lines), each with its reason in the log */
  "skipped_samples",
] as const;

export const ROW_COLUMNS = [
  ...ID_COLUMNS,
  ...METRIC_COLUMNS,
  "note",
  ...PROVENANCE_COLUMNS.filter((c) => c !== "seed" && c !== "backend"),
] as const;
export type Column = (typeof ROW_COLUMNS)[number];
export type Row = Partial<Record<Column, string | number>>;

/** Columns every valid row must fill. */
export const REQUIRED_COLUMNS: Column[] = [
  "kind",
  "key",
  "model",
  "model_id",
  "frames",
  "size",
  "batch",
  "backend",
  "git_commit",
  "device",
  "date",
  "node_version",
];

/** The metrics each kind must report. */
export const REQUIRED_METRICS: Record<JobKind, Column[]> = {
  profile: ["params", "macs", "saved_activation_bytes"],
  speed: ["latency_ms", "clips_per_s"],
  accuracy: ["top1"],
};

export function validateRow(row: Row, where: string): string[] {
  const errs: string[] = [];
  for (const c of Object.keys(row)) if (!(ROW_COLUMNS as readonly string[]).includes(c)) errs.push(`${where}: unknown column "${c}"`);
  for (const c of REQUIRED_COLUMNS) if (row[c] === undefined || row[c] === "") errs.push(`${where}: missing ${c}`);
  const kind = row.kind as JobKind;
  if (!JOB_KINDS.includes(kind)) errs.push(`${where}: unknown kind "${String(row.kind)}"`);
  else
    for (const c of REQUIRED_METRICS[kind])
      if (row[c] === undefined || row[c] === "" || !Number.isFinite(Number(row[c])))
        errs.push(`${where}: ${kind} row without a numeric ${c}`);
  return errs;
}
