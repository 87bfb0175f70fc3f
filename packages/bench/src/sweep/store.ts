/**
 * A run directory's results: `results.csv` (ROW_COLUMNS), rewritten atomically after every row so a
 * killed sweep loses at most the row in flight; rows already there are skipped on resume.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { stringify } from "csv-stringify/sync";
import { UserError } from "@blvnet/core";
import { writeFileAtomic } from "@blvnet/io";
import { ROW_COLUMNS, type Row } from "./rows.js";

export const RESULTS_FILE = "results.csv";

export function readRows(file: string): Row[] {
  if (!existsSync(file)) return [];
  try {
    return parse(readFileSync(file, "utf8"), { columns: true, skip_empty_lines: true }) as Row[];
  } catch (e) {
    throw new UserError(`${file}: not a readable results CSV (${(e as Error).message})`);
  }
}

export function writeRows(file: string, rows: Row[]): void {
  writeFileAtomic(file, stringify(rows, { header: true, columns: [...ROW_COLUMNS] }));
}

export class ResultStore {
  readonly file: string;
  private rows: Row[];

  constructor(readonly dir: string) {
    this.file = join(dir, RESULTS_FILE);
    this.rows = readRows(this.file);
  }

  has(key: string): boolean {
    return this.rows.some((r) => r.key === key);
  }

  add(row: Row): void {
    this.rows = this.rows.filter((r) => r.key !== row.key).concat(row);
    writeRows(this.file, this.rows);
  }

  all(): Row[] {
    return [...this.rows];
  }
}
