/**
 * `openDataset(dir, {split})`: one entry point for every supported layout. It looks, in order, for
 *  1. a list file of frame folders for the split (`train.txt`, `training_256.txt`, `train_videofolder.txt`, ...),
 *  2. Something-Something v2 JSON annotations,
 *  3. Moments-in-Time CSVs (`trainingSet.csv`),
 *  4. a Kinetics CSV (`train.csv`, `validate.csv`, ...),
 * and resolves annotation entries to frame folders made by `extractVideos` (option `frames`) or to
 * video files found under the dataset folder. Problems (unknown labels, missing videos, malformed
 * lines) are collected with file and line; `strict` makes the first one fatal.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { UserError } from "@blvnet/core";
import {
  type Annotations,
  isKineticsCsv,
  kineticsClasses,
  readKinetics,
  readMit,
  readMitCategories,
  readSsv2,
  readSsv2Labels,
} from "./annotations.js";
import { type BadSample, DataError } from "./errors.js";
import { DEFAULT_TEMPLATE, detectTemplate, parseTemplate } from "./frames.js";
import { type ListFormat, parseList } from "./lists.js";
import type { VideoRecord } from "./record.js";
import { indexVideos } from "./videofiles.js";

export type DatasetFormat = "list" | "ssv2" | "kinetics" | "mit";

export interface OpenOptions {
  /** "train", "val" or "test" (or any name with a `<split>.txt` list). Default "train". */
  split?: string;
  /** An explicit list file (overrides the search by split). */
  list?: string;
  listFormat?: ListFormat;
  /** Frame file template (`{:05d}.jpg`, `img_%05d.jpg`); detected from the first folders when absent. */
  template?: string;
  /** For annotation datasets: a folder written by `extractVideos` (its `frames.txt` maps videos to frame folders). */
  frames?: string;
  /** For annotation datasets: where to look for the video files (default: the dataset folder). */
  videos?: string;
  /** Throw a DataError on the first problem instead of skipping the entry. */
  strict?: boolean;
}

export interface Dataset {
  root: string;
  split: string;
  format: DatasetFormat;
  records: VideoRecord[];
  /** Class names in index order (empty when the dataset ships none). */
  classes: string[];
  numClasses: number;
  /** Frame file template of frame-folder records. */
  template: string;
  /** Whether horizontal flipping keeps labels valid (false for Something-Something and the synthetic set). */
  flip: boolean;
  /** Entries that were skipped while opening, with file and line. */
  problems: BadSample[];
}

const SPLIT_ALIASES: Record<string, string[]> = {
  train: ["train", "training"],
  val: ["val", "validation", "validate"],
  test: ["test", "testing"],
};

function aliases(split: string): string[] {
  for (const names of Object.values(SPLIT_ALIASES)) if (names.includes(split)) return names;
  return [split];
}

function listCandidates(split: string): string[] {
  const out: string[] = [];
  for (const a of aliases(split)) out.push(`${a}.txt`, `${a}_256.txt`, `${a}_videofolder.txt`, `${a}list.txt`);
  return out;
}

/** Class names from `labels.txt` / `category.txt` / `classInd.txt` (one per line, or `index name`). */
function readClassFile(root: string): string[] | undefined {
  for (const name of ["labels.txt", "category.txt", "classes.txt"]) {
    const p = join(root, name);
    if (!existsSync(p)) continue;
    return readFileSync(p, "utf8")
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== "");
  }
  const ssv2 = join(root, "something-something-v2-labels.json");
  return existsSync(ssv2) ? readSsv2Labels(ssv2) : undefined;
}

/** Dataset-level flags written beside synthetic/extracted data (`dataset.json`). */
function readMeta(root: string): { flip?: boolean } {
  const p = join(root, "dataset.json");
  if (!existsSync(p)) return {};
  let meta: unknown;
  try {
    meta = JSON.parse(readFileSync(p, "utf8"));
  } catch {
    throw new UserError(`${p}: not valid JSON`);
  }
  if (typeof meta !== "object" || meta === null || Array.isArray(meta)) throw new UserError(`${p}: expected a JSON object`);
  const flip = (meta as { flip?: unknown }).flip;
  if (flip !== undefined && typeof flip !== "boolean")
    throw new UserError(`${p}: "flip" must be true or false, got ${JSON.stringify(flip)}`);
  return { flip };
}

function looksLikeSomethingSomething(root: string, classes: readonly string[]): boolean {
  return existsSync(join(root, "something-something-v2-labels.json")) || classes.some((c) => /\bsomething\b/i.test(c));
}

export function openDataset(dir: string, opts: OpenOptions = {}): Dataset {
  const split = opts.split ?? "train";
  const path = resolve(dir);
  if (!existsSync(path)) throw new UserError(`dataset folder not found: ${path}`);
  const isFile = statSync(path).isFile();
  const root = isFile ? dirname(path) : path;

  let ds: Omit<Dataset, "template" | "flip" | "numClasses"> & { numClasses?: number };
  const listFile = opts.list
    ? resolve(opts.list)
    : isFile
      ? path
      : listCandidates(split)
          .map((n) => join(root, n))
          .find(existsSync);
  if (listFile) {
    if (!existsSync(listFile)) throw new UserError(`list file not found: ${listFile}`);
    const classes = readClassFile(root) ?? [];
    const parsed = parseList(listFile, root, { format: opts.listFormat, numClasses: classes.length || undefined });
    ds = { root, split, format: "list", records: parsed.records, classes, problems: parsed.problems };
  } else {
    ds = openAnnotated(root, split, opts);
  }

  const numClasses = ds.numClasses ?? (ds.classes.length || Math.max(0, ...ds.records.map((r) => r.label + 1)));
  const template = opts.template ?? detectDatasetTemplate(ds.records) ?? DEFAULT_TEMPLATE;
  parseTemplate(template); // validate early
  const meta = readMeta(root);
  const flip = meta.flip ?? !looksLikeSomethingSomething(root, ds.classes);
  if (opts.strict && ds.problems.length > 0) throw new DataError(ds.problems[0]!);
  if (ds.records.length === 0 && ds.problems.length === 0) throw new UserError(`${listFile ?? root}: no samples for split "${split}"`);
  return { ...ds, numClasses, template, flip };
}

function detectDatasetTemplate(records: readonly VideoRecord[]): string | undefined {
  for (const r of records.slice(0, 8)) {
    if (!r.frames) continue;
    const t = detectTemplate(r.frames.dir, r.frames.start);
    if (t) return t;
  }
  return undefined;
}

function openAnnotated(root: string, split: string, opts: OpenOptions): Omit<Dataset, "template" | "flip" | "numClasses"> {
  const names = aliases(split);
  const find = (cands: string[]) => cands.map((n) => join(root, n)).find(existsSync);

  let ann: Annotations | undefined;
  let classes: string[] = [];
  let format: DatasetFormat | undefined;
  const ssv2Labels = join(root, "something-something-v2-labels.json");
  const ssv2File = find(names.map((n) => `something-something-v2-${n}.json`));
  const mitFile = find(names.map((n) => `${n}Set.csv`));
  const csvFile = find(names.map((n) => `${n}.csv`));
  if (ssv2File && existsSync(ssv2Labels)) {
    classes = readSsv2Labels(ssv2Labels);
    ann = readSsv2(ssv2File, classes);
    format = "ssv2";
  } else if (mitFile) {
    const cats = join(root, "moments_categories.txt");
    classes = existsSync(cats) ? readMitCategories(cats) : [];
    ann = readMit(mitFile, classes);
    format = "mit";
  } else if (csvFile && isKineticsCsv(csvFile)) {
    const trainCsv = find(SPLIT_ALIASES.train!.map((n) => `${n}.csv`));
    classes = readClassFile(root) ?? kineticsClasses(trainCsv ?? csvFile);
    ann = readKinetics(csvFile, classes);
    format = "kinetics";
  }
  if (!ann || !format) {
    throw new UserError(
      `no data for split "${split}" in ${root}: expected a list file (${listCandidates(split).slice(0, 3).join(", ")}, ...), ` +
        `something-something-v2-${names[0]}.json, ${names[0]}Set.csv or a Kinetics ${names[0]}.csv`,
    );
  }

  const frameIndex = opts.frames ? readFrameIndex(resolve(opts.frames)) : undefined;
  const videoIndex = frameIndex ? undefined : indexVideos(opts.videos ? resolve(opts.videos) : root);
  const records: VideoRecord[] = [];
  const problems = [...ann.problems];
  for (const e of ann.entries) {
    const where = { file: ann.file, line: e.line };
    const id = e.keys[0]!;
    if (frameIndex) {
      const hit = e.keys.map((k) => frameIndex.get(k)).find((x) => x !== undefined);
      if (hit) records.push({ id, label: e.label, where, frames: { dir: hit.dir, start: 1, count: hit.count } });
      else problems.push({ ...where, id, reason: `no extracted frames for video "${id}" in ${opts.frames}` });
    } else {
      const hit = e.keys.map((k) => videoIndex!.get(k)).find((x) => x !== undefined);
      if (hit) records.push({ id, label: e.label, where, video: hit });
      else problems.push({ ...where, id, reason: `video file for "${id}" not found under ${opts.videos ?? root}` });
    }
  }
  return { root, split, format, records, classes, problems };
}

/** `frames.txt` of an extraction: key (folder and its last path component) -> frame folder and count. */
function readFrameIndex(dir: string): Map<string, { dir: string; count: number }> {
  const file = join(dir, "frames.txt");
  if (!existsSync(file)) throw new UserError(`${file} not found (make it with \`blvnet data extract\`)`);
  const out = new Map<string, { dir: string; count: number }>();
  for (const r of parseList(file, dir, { format: "tsn" }).records) {
    const hit = { dir: r.frames!.dir, count: r.frames!.count };
    out.set(r.id, hit);
    const base = r.id.split("/").pop()!;
    if (!out.has(base)) out.set(base, hit);
  }
  return out;
}
