/**
 * A quick check of every sample without decoding it: the frame folder exists, holds the frames its
 * list line promises, and none of them is an empty file; a video file exists and is not empty.
 * What `data info` reports, so problems show before a run rather than as skipped batches.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Dataset } from "./dataset.js";
import type { BadSample } from "./errors.js";
import { frameFolderProblem, frameName, parseTemplate } from "./frames.js";
import type { VideoRecord } from "./record.js";

function sizeOf(path: string): number | null {
  try {
    return statSync(path).size;
  } catch {
    return null;
  }
}

/** Why a record cannot be loaded, or null when it looks fine. */
export function recordProblem(rec: VideoRecord, template: string): string | null {
  if (rec.video) {
    const size = sizeOf(rec.video);
    if (size === null) return `video file not found: ${rec.video}`;
    return size === 0 ? `empty video file: ${rec.video}` : null;
  }
  if (!rec.frames) return `record "${rec.id}" has neither frames nor a video`;
  const { dir, start, count } = rec.frames;
  const naming = parseTemplate(template);
  let names: string[] | null = null;
  try {
    names = readdirSync(dir);
  } catch {}
  const listed = frameFolderProblem(rec.frames, names, naming);
  if (listed) return listed;
  for (let i = 0; i < count; i++) {
    const file = join(dir, frameName(naming, start + i));
    const size = sizeOf(file);
    if (size === null) return `frame file not found: ${file}`;
    if (size === 0) return `empty frame file: ${file}`;
  }
  return null;
}

/** The records that would be skipped while loading, with file, line and reason. */
export function checkSamples(ds: Dataset): BadSample[] {
  const bad: BadSample[] = [];
  for (const rec of ds.records) {
    const reason = recordProblem(rec, ds.template);
    if (reason) bad.push({ ...rec.where, id: rec.id, reason });
  }
  return bad;
}
