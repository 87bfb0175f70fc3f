/**
 * Reference figures shipped with the project (results/reference/): official params/MACs/memory
 * counts, the official code's H100 timings and the published accuracies.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "csv-parse/sync";

/** results/reference/ of this checkout. */
export const REFERENCE_DIR = new URL("../../../../results/reference/", import.meta.url).pathname;

export type CsvRecord = Record<string, string>;

export function readReference(name: string, dir = REFERENCE_DIR): CsvRecord[] {
  const file = join(dir, name);
  if (!existsSync(file)) return [];
  return parse(readFileSync(file, "utf8"), { columns: true, skip_empty_lines: true }) as CsvRecord[];
}
