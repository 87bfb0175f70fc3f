/**
 * List files of frame folders, the official on-disk index:
 *  - TSN/TSM:     `<folder> <num_frames> <label>`            (3 columns)
 *  - bLVNet-TAM:  `<folder> <start_frame> <end_frame> <label>` (4 columns; label absent in test lists)
 * Columns are split on whitespace, or on `;` when the line has one (Kinetics class names contain
 * spaces). Folders are relative to the list's root (or absolute).
 */
import { readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import type { BadSample } from "./errors.js";
import type { VideoRecord } from "./record.js";

export type ListFormat = "auto" | "tsn" | "blvnet";

export interface ParsedList {
  records: VideoRecord[];
  problems: BadSample[];
}

function splitColumns(line: string): string[] {
  return line.includes(";") ? line.split(";").map((s) => s.trim()) : line.split(/\s+/);
}

const INT = /^-?\d+$/;

/**
 * Parse a list file. A label outside [0, numClasses) (or negative, when the class count is not
 * known) is a bad line, reported with file and line; only a line without a label column (a bLVNet
 * test list) gives an unlabeled record (label -1).
 */
export function parseList(file: string, root: string, opts: { format?: ListFormat; numClasses?: number } = {}): ParsedList {
  const lines = readFileSync(file, "utf8").split(/\r?\n/);
  const rows = lines.map((l, i) => ({ line: i + 1, cols: l.trim() === "" ? [] : splitColumns(l.trim()) })).filter((r) => r.cols.length > 0);
  let format = opts.format ?? "auto";
  if (format === "auto") format = rows.some((r) => r.cols.length >= 4) ? "blvnet" : "tsn";

  const records: VideoRecord[] = [];
  const problems: BadSample[] = [];
  for (const { line, cols } of rows) {
    const bad = (reason: string) => problems.push({ file, line, id: cols[0], reason });
    const folder = cols[0]!;
    let start = 1;
    let count: number;
    let labelText: string | undefined;
    if (format === "tsn") {
      if (cols.length !== 3 && cols.length !== 2) {
        bad(`expected "<folder> <num_frames> <label>", got ${cols.length} columns`);
        continue;
      }
      if (!INT.test(cols[1]!)) {
        bad(`frame count "${cols[1]}" is not an integer`);
        continue;
      }
      count = Number(cols[1]);
      labelText = cols[2];
    } else {
      if (cols.length < 3 || cols.length > 4) {
        bad(
          `expected "<folder> <start_frame> <end_frame> <label>", got ${cols.length} columns${cols.length > 4 ? " (multi-label lines are not supported)" : ""}`,
        );
        continue;
      }
      if (!INT.test(cols[1]!) || !INT.test(cols[2]!)) {
        bad(`start/end frame "${cols[1]} ${cols[2]}" are not integers`);
        continue;
      }
      start = Number(cols[1]);
      count = Number(cols[2]) - start + 1;
      labelText = cols[3];
    }
    if (count < 1 || start < 0) {
      bad(`clip has ${count} frames (start ${start})`);
      continue;
    }
    let label = -1;
    if (labelText !== undefined) {
      if (!INT.test(labelText)) {
        bad(`unknown label "${labelText}" (labels in list files are class indices)`);
        continue;
      }
      label = Number(labelText);
      if (label < 0 || (opts.numClasses !== undefined && label >= opts.numClasses)) {
        const range = opts.numClasses !== undefined ? `[0, ${opts.numClasses})` : "[0, classes)";
        bad(`label ${label} is outside ${range}${opts.numClasses !== undefined ? ` (the dataset has ${opts.numClasses} classes)` : ""}`);
        continue;
      }
    }
    records.push({
      id: folder,
      label,
      where: { file, line },
      frames: { dir: isAbsolute(folder) ? folder : resolve(root, folder), start, count },
    });
  }
  return { records, problems };
}

/** One TSN-format list line (`;`-separated when the folder name has spaces, as Kinetics lists are). */
export function listLine(folder: string, numFrames: number, label: number): string {
  const sep = /\s/.test(folder) ? ";" : " ";
  return [folder, numFrames, label].join(sep);
}
