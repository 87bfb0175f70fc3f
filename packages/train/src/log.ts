/**
 * The per-step training log, twice: `steps.csv` (for tables and plots) and `steps.jsonl` (one JSON
 * object a line, for tools). Rows are appended as steps finish; on resume, rows past the
 * checkpoint's step are dropped first, so the log of a resumed run reads like an uninterrupted one.
 */
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "@blvnet/io";
import { parse } from "csv-parse/sync";
import { stringify } from "csv-stringify/sync";

export const STEP_COLUMNS = [
  "epoch",
  "step",
  "step_in_epoch",
  "lr",
  "loss",
  "acc",
  "grad_norm",
  "clips",
  "seconds",
  "clips_per_s",
] as const;
export type StepRow = Record<(typeof STEP_COLUMNS)[number], number>;

export const EPOCH_COLUMNS = ["epoch", "step", "lr", "train_loss", "train_acc", "val_top1", "val_top5", "val_loss", "seconds"] as const;
export type EpochRow = Record<(typeof EPOCH_COLUMNS)[number], number | "">;

/** An append-only CSV + JSON-lines pair. */
export class CsvJsonLog<Row extends Record<string, number | string>> {
  readonly csvPath: string;
  readonly jsonlPath: string;

  constructor(
    dir: string,
    name: string,
    private readonly columns: readonly string[],
  ) {
    this.csvPath = join(dir, `${name}.csv`);
    this.jsonlPath = join(dir, `${name}.jsonl`);
  }

  /** Start afresh (new run) or keep rows whose `step` is <= `upToStep` (resume). */
  open(upToStep: number | null): void {
    if (upToStep === null || !existsSync(this.csvPath)) {
      writeFileAtomic(this.csvPath, stringify([], { header: true, columns: [...this.columns] }));
      writeFileAtomic(this.jsonlPath, "");
      return;
    }
    const rows = (parse(readFileSync(this.csvPath, "utf8"), { columns: true, cast: true }) as Row[]).filter(
      (r) => Number(r.step) <= upToStep,
    );
    writeFileAtomic(this.csvPath, stringify(rows, { header: true, columns: [...this.columns] }));
    const lines = existsSync(this.jsonlPath)
      ? readFileSync(this.jsonlPath, "utf8")
          .split("\n")
          .filter((l) => l.trim() !== "" && Number((JSON.parse(l) as Row).step) <= upToStep)
      : [];
    writeFileAtomic(this.jsonlPath, lines.map((l) => l + "\n").join(""));
  }

  append(row: Row): void {
    appendFileSync(this.csvPath, stringify([row], { columns: [...this.columns] }));
    appendFileSync(this.jsonlPath, JSON.stringify(row) + "\n");
  }
}
