/**
 * Readers for the annotation files that ship with the datasets, giving (video key, label, line)
 * entries that `dataset.ts` then resolves to extracted frame folders or video files:
 *  - Something-Something v2: `something-something-v2-{train,validation,test}.json`
 *    (`[{id, template: "Pushing [something] from left to right", label, placeholders}]`) and
 *    `something-something-v2-labels.json` (`{"Pushing something from left to right": "93", ...}`).
 *  - Kinetics: `<split>.csv` with header `label,youtube_id,time_start,time_end,split`; videos are
 *    named `<youtube_id>_<start:06d>_<end:06d>.mp4` (the downloader's naming) or `<youtube_id>.mp4`.
 *  - Moments in Time: `trainingSet.csv` / `validationSet.csv`, rows `path,label[,...]` without a header,
 *    classes in `moments_categories.txt` (`name,index` rows).
 */
import { readFileSync } from "node:fs";
import type { BadSample } from "./errors.js";

export interface AnnotationEntry {
  /** Candidate keys of the video, most specific first (relative path or id, without extension). */
  keys: string[];
  label: number;
  line: number;
}

export interface Annotations {
  file: string;
  entries: AnnotationEntry[];
  problems: BadSample[];
}

/** The SSv2 class list (index order) from the labels json. */
export function readSsv2Labels(file: string): string[] {
  const map = JSON.parse(readFileSync(file, "utf8")) as Record<string, string | number>;
  const classes: string[] = [];
  for (const [name, idx] of Object.entries(map)) classes[Number(idx)] = name;
  return classes;
}

/** 1-based line of each `"id": "<value>"` in a JSON text, so problems can point at a line. */
function idLines(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const re = /"id"\s*:\s*"?([^",}\s]+)"?/g;
  let line = 1;
  let pos = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    for (let i = pos; i < m.index; i++) if (text.charCodeAt(i) === 10) line++;
    pos = m.index;
    if (!out.has(m[1]!)) out.set(m[1]!, line);
  }
  return out;
}

export function readSsv2(file: string, classes: readonly string[]): Annotations {
  const text = readFileSync(file, "utf8");
  const items = JSON.parse(text) as { id: string | number; template?: string; label?: string }[];
  const lines = idLines(text);
  const index = new Map(classes.map((c, i) => [c, i]));
  const entries: AnnotationEntry[] = [];
  const problems: BadSample[] = [];
  for (const item of items) {
    const id = String(item.id);
    const line = lines.get(id) ?? 1;
    let label = -1;
    if (item.template !== undefined) {
      const name = item.template.replace(/[[\]]/g, "");
      const found = index.get(name);
      if (found === undefined) {
        problems.push({ file, line, id, reason: `unknown label "${name}" (not in the labels json)` });
        continue;
      }
      label = found;
    }
    entries.push({ keys: [id], label, line });
  }
  return { file, entries, problems };
}

/** Split one CSV line (RFC 4180 quoting, no embedded newlines). */
export function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

function csvRows(file: string): { line: number; cols: string[] }[] {
  return readFileSync(file, "utf8")
    .split(/\r?\n/)
    .map((l, i) => ({ line: i + 1, text: l }))
    .filter((r) => r.text.trim() !== "")
    .map((r) => ({ line: r.line, cols: splitCsvLine(r.text).map((c) => c.trim()) }));
}

/** True when the CSV's header names a `youtube_id` column (the Kinetics layout). */
export function isKineticsCsv(file: string): boolean {
  const first = readFileSync(file, "utf8").split(/\r?\n/, 1)[0] ?? "";
  return splitCsvLine(first)
    .map((c) => c.trim())
    .includes("youtube_id");
}

/** Class names of a Kinetics CSV, sorted (the Kinetics convention for class indices). */
export function kineticsClasses(file: string): string[] {
  const [header, ...rows] = csvRows(file);
  const col = header?.cols.indexOf("label") ?? -1;
  if (col < 0) return [];
  return [...new Set(rows.map((r) => r.cols[col]!).filter((s) => s !== undefined && s !== ""))].sort();
}

export function readKinetics(file: string, classes: readonly string[]): Annotations {
  const [header, ...rows] = csvRows(file);
  const cols = header?.cols ?? [];
  const at = (name: string) => cols.indexOf(name);
  const [cLabel, cId, cStart, cEnd] = [at("label"), at("youtube_id"), at("time_start"), at("time_end")];
  const index = new Map(classes.map((c, i) => [c, i]));
  const entries: AnnotationEntry[] = [];
  const problems: BadSample[] = [];
  for (const { line, cols: row } of rows) {
    const id = row[cId] ?? "";
    if (!id) {
      problems.push({ file, line, reason: "row has no youtube_id" });
      continue;
    }
    const keys: string[] = [];
    if (cStart >= 0 && cEnd >= 0 && row[cStart] && row[cEnd]) {
      const pad = (s: string) => String(Math.trunc(Number(s))).padStart(6, "0");
      keys.push(`${id}_${pad(row[cStart]!)}_${pad(row[cEnd]!)}`);
    }
    keys.push(id);
    let label = -1;
    if (cLabel >= 0) {
      const found = index.get(row[cLabel]!);
      if (found === undefined) {
        problems.push({ file, line, id, reason: `unknown label "${row[cLabel]}"` });
        continue;
      }
      label = found;
    }
    entries.push({ keys, label, line });
  }
  return { file, entries, problems };
}

/** MiT categories: `name,index` rows (or one name per line, index = line order). */
export function readMitCategories(file: string): string[] {
  const classes: string[] = [];
  for (const { cols } of csvRows(file)) {
    if (cols.length >= 2 && /^\d+$/.test(cols[1]!)) classes[Number(cols[1])] = cols[0]!;
    else classes.push(cols[0]!);
  }
  return classes;
}

export function readMit(file: string, classes: readonly string[]): Annotations {
  const index = new Map(classes.map((c, i) => [c, i]));
  const entries: AnnotationEntry[] = [];
  const problems: BadSample[] = [];
  for (const { line, cols } of csvRows(file)) {
    const path = cols[0]!;
    if (line === 1 && path === "path") continue; // optional header
    const stem = path.replace(/\.[^./]+$/, "");
    const keys = [stem, stem.split("/").pop()!];
    let label = -1;
    if (cols[1] !== undefined && cols[1] !== "") {
      const found = /^\d+$/.test(cols[1]) && !index.has(cols[1]) ? Number(cols[1]) : index.get(cols[1]);
      if (found === undefined || found >= classes.length) {
        problems.push({ file, line, id: path, reason: `unknown label "${cols[1]}"` });
        continue;
      }
      label = found;
    }
    entries.push({ keys, label, line });
  }
  return { file, entries, problems };
}
