/**
 * Reference figures shipped with the project (results/reference/ of this checkout): the official
 * params/MACs/memory counts, the official code's H100 timings and the published accuracies.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "@blvnet/core";
import { parse } from "csv-parse/sync";

/** results/reference/ of this checkout (this file is packages/bench/{src,dist}/reference.*). */
export const REFERENCE_DIR = new URL("../../../results/reference/", import.meta.url).pathname;

export type CsvRecord = Record<string, string>;

/** The rows of a reference CSV (header row = keys); [] when the file does not exist. */
export function readReference(name: string, dir = REFERENCE_DIR): CsvRecord[] {
  return readCsv(join(dir, name));
}

export function readCsv(file: string): CsvRecord[] {
  if (!existsSync(file)) return [];
  return parse(readFileSync(file, "utf8"), { columns: true, skip_empty_lines: true }) as CsvRecord[];
}

/**
 * The official counts to check against: $BLVNET_COUNTS, else the reference data shared beside the
 * checkout (`../shared/reference/counts.csv`, the newest official figures where a team keeps them),
 * else the copy shipped in results/reference/ (of the current directory or of this CLI's checkout).
 */
export function defaultCountsFile(): string {
  if (process.env.BLVNET_COUNTS) return process.env.BLVNET_COUNTS;
  const rels = ["../shared/reference/counts.csv", "results/reference/counts.csv"];
  const roots = [resolve(".")];
  for (let dir = dirname(fileURLToPath(import.meta.url)); dirname(dir) !== dir; dir = dirname(dir)) {
    if (existsSync(join(dir, "turbo.json"))) roots.push(dir); // the monorepo root
  }
  for (const rel of rels) {
    const found = roots.map((r) => join(r, rel)).find((f) => existsSync(f));
    if (found) return found;
  }
  throw new UserError(`no counts file found (${rels.join(", ")}); pass --counts FILE`);
}
