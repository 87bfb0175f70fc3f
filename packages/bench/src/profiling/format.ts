/** Render rows of named columns as an aligned text table, CSV, Markdown or JSON. */

import { UserError } from "@blvnet/core";
import { stringify } from "csv-stringify/sync";
import { markdownTable } from "../markdown.js";

export const FORMATS = ["table", "csv", "md", "json"] as const;
export type Format = (typeof FORMATS)[number];

export type Cell = string | number;
export type Rows = Record<string, Cell>[];

export function parseFormat(v: string): Format {
  if (!(FORMATS as readonly string[]).includes(v)) throw new UserError(`--format must be one of ${FORMATS.join(", ")}, got "${v}"`);
  return v as Format;
}

/** Text formats show numbers as given (row builders round them to meaningful digits). */
function show(v: Cell): string {
  if (typeof v === "string") return v;
  return Number.isFinite(v) ? String(v) : "";
}

export function renderRows(rows: Rows, format: Format, opts: { columns?: string[] } = {}): string {
  const columns = opts.columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  switch (format) {
    case "json":
      return JSON.stringify(rows, null, 2) + "\n";
    case "csv":
      return stringify(
        rows.map((r) => columns.map((c) => r[c] ?? "")),
        { header: true, columns },
      );
    case "md":
      return markdownTable(
        columns,
        rows.map((r) => columns.map((c) => show(r[c] ?? ""))),
      );
    case "table": {
      const cells = rows.map((r) => columns.map((c) => show(r[c] ?? "")));
      const width = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
      const numeric = columns.map((c) => rows.every((r) => typeof r[c] !== "string"));
      const line = (r: string[]) =>
        r
          .map((v, i) => (numeric[i] ? v.padStart(width[i]) : v.padEnd(width[i])))
          .join("  ")
          .trimEnd();
      return [line(columns), line(width.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n") + "\n";
    }
  }
}
