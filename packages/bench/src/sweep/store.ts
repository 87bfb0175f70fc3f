/**
 * A run directory's results, safe with several writers (shards, or reruns, in one shared folder):
 * each writer appends its rows to a file of its own (`rows/<host>-<pid>-<time>.jsonl`), and readers
 * merge every writer's file, the newest row of a key winning. `results.csv` is a view of that merge,
 * rewritten atomically after each row; run directories from before the row files (results.csv
 * alone) are read as they are. A row line cut short by a kill is skipped and counted.
 */
import { appendFileSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { UserError } from "@blvnet/core";
import { ensureDir, writeError, writeFileAtomic } from "@blvnet/io";
import { parse } from "csv-parse/sync";
import { stringify } from "csv-stringify/sync";
import { ROW_COLUMNS, type Row } from "./rows.js";

export const RESULTS_FILE = "results.csv";
const ROWS_DIR = "rows";

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

export interface StoredRows {
  rows: Row[];
  /** Where each row came from (file:line), by key. */
  source: Map<string, string>;
  /** Lines of the row files that could not be read (a writer killed mid-line), as file:line. */
  unreadable: string[];
}

/** Every writer's rows of a run directory, merged by key (the latest `date` wins). */
export function readStore(dir: string): StoredRows {
  const byKey = new Map<string, { row: Row; from: string }>();
  const unreadable: string[] = [];
  const put = (row: Row, from: string) => {
    const key = String(row.key);
    const prev = byKey.get(key);
    if (!prev || String(prev.row.date ?? "") <= String(row.date ?? "")) byKey.set(key, { row, from });
  };
  const rowsDir = join(dir, ROWS_DIR);
  if (existsSync(rowsDir)) {
    for (const name of readdirSync(rowsDir)
      .filter((n) => n.endsWith(".jsonl"))
      .sort()) {
      const file = join(rowsDir, name);
      readFileSync(file, "utf8")
        .split("\n")
        .forEach((line, i) => {
          if (line.trim() === "") return;
          try {
            put(JSON.parse(line) as Row, `${file}:${i + 1}`);
          } catch {
            unreadable.push(`${file}:${i + 1}`);
          }
        });
    }
  } else {
    readRows(join(dir, RESULTS_FILE)).forEach((row, i) => put(row, `${join(dir, RESULTS_FILE)}:${i + 2}`));
  }
  const entries = [...byKey.values()].sort((a, b) => String(a.row.key).localeCompare(String(b.row.key)));
  return { rows: entries.map((e) => e.row), source: new Map(entries.map((e) => [String(e.row.key), e.from])), unreadable };
}

/** Whether `dir` holds results (row files or a results.csv). */
export function isRunDir(dir: string): boolean {
  return existsSync(join(dir, ROWS_DIR)) || existsSync(join(dir, RESULTS_FILE));
}

let writers = 0;

export class ResultStore {
  readonly file: string;
  /** This writer's own row file. */
  readonly own: string;
  private merged: StoredRows;

  constructor(readonly dir: string) {
    this.file = join(dir, RESULTS_FILE);
    this.own = join(dir, ROWS_DIR, `${hostname()}-${process.pid}-${Date.now()}-${++writers}.jsonl`);
    // Rows of a run directory from before the row files become this writer's first rows.
    const legacy = !existsSync(join(dir, ROWS_DIR)) ? readRows(this.file) : [];
    ensureDir(join(dir, ROWS_DIR));
    if (legacy.length) this.append(legacy.map((r) => `${JSON.stringify(r)}\n`).join(""));
    this.merged = readStore(dir);
  }

  /** Re-read every writer's rows (another writer may have added some). */
  refresh(): void {
    this.merged = readStore(this.dir);
  }

  has(key: string): boolean {
    return this.merged.source.has(key);
  }

  private append(lines: string): void {
    try {
      appendFileSync(this.own, lines);
    } catch (e) {
      throw writeError(e, this.own, lines.length);
    }
  }

  add(row: Row): void {
    this.append(`${JSON.stringify(row)}\n`);
    this.refresh();
    writeRows(this.file, this.merged.rows);
  }

  all(): Row[] {
    return [...this.merged.rows];
  }
}
