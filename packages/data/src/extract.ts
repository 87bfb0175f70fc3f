/**
 * `extractVideos(videoDir, outDir)`: every video under `videoDir` becomes a folder of JPEG frames
 * (`<outDir>/<relative path without extension>/00001.jpg...`, short side `shortSide`, as the official
 * tools do), plus the list file `frames.txt` (`<folder> <num_frames> <label>`). When all videos sit
 * in class subfolders (`<class>/<video>`, the Kinetics layout) the label is the class index (classes
 * sorted, written to `labels.txt`); otherwise -1 (unlabeled; annotation files give the labels).
 * Resumable: finished folders are skipped; each video is written to a hidden temporary folder and
 * renamed when complete, so an interrupted run never leaves a half-written folder behind.
 */
import { existsSync, readdirSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { UserError } from "@blvnet/core";
import { writeFileAtomic } from "@blvnet/io";
import { extractJpegs, probeVideo, shortSideSize } from "./ffmpeg.js";
import { countFrames, DEFAULT_TEMPLATE, parseTemplate } from "./frames.js";
import { listLine } from "./lists.js";
import { findVideos, videoKey } from "./videofiles.js";

export interface ExtractOptions {
  /** Short side of the written frames (default 256). */
  shortSide?: number;
  /** Videos converted at once (default: CPU cores). */
  jobs?: number;
  /** ffmpeg JPEG quality, 2 (best) .. 31 (default 2). */
  quality?: number;
  onProgress?: (done: number, total: number, video: string) => void;
}

export interface ExtractResult {
  total: number;
  extracted: number;
  /** Already done by an earlier run. */
  skipped: number;
  failed: { file: string; reason: string }[];
  listFile: string;
  classes: string[];
}

const NAMING = parseTemplate(DEFAULT_TEMPLATE);

function framesIn(dir: string): number {
  return countFrames(readdirSync(dir), NAMING);
}

export async function extractVideos(videoDir: string, outDir: string, opts: ExtractOptions = {}): Promise<ExtractResult> {
  const src = resolve(videoDir);
  const out = resolve(outDir);
  if (!existsSync(src)) throw new UserError(`video folder not found: ${src}`);
  const shortSide = opts.shortSide ?? 256;
  if (!Number.isInteger(shortSide) || shortSide < 2) throw new UserError(`--short-side must be an integer >= 2, got ${shortSide}`);
  const jobs = Math.max(1, Math.floor(opts.jobs ?? availableParallelism()));
  const videos = findVideos(src);
  if (videos.length === 0) throw new UserError(`no video files under ${src}`);

  const keys = videos.map((v) => videoKey(src, v));
  const byClass = keys.every((k) => k.split("/").length === 2);
  const classes = byClass ? [...new Set(keys.map((k) => k.split("/")[0]!))].sort() : [];
  const classIndex = new Map(classes.map((c, i) => [c, i]));

  const result: ExtractResult = { total: videos.length, extracted: 0, skipped: 0, failed: [], listFile: join(out, "frames.txt"), classes };
  const counts = new Map<string, number>();
  let done = 0;
  let next = 0;

  async function one(i: number): Promise<void> {
    const file = videos[i]!;
    const key = keys[i]!;
    const target = join(out, key);
    if (existsSync(target)) {
      counts.set(key, framesIn(target));
      result.skipped++;
      return;
    }
    const tmp = join(dirname(target), `.${basename(target)}.partial`);
    try {
      await rm(tmp, { recursive: true, force: true });
      await mkdir(tmp, { recursive: true });
      const info = await probeVideo(file);
      await extractJpegs(file, tmp, shortSideSize(info.width, info.height, shortSide), opts.quality ?? 2);
      const n = framesIn(tmp);
      if (n === 0) throw new Error(`ffmpeg wrote no frames for ${file}`);
      await rename(tmp, target);
      counts.set(key, n);
      result.extracted++;
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      if (e instanceof UserError) throw e; // ffmpeg missing: a setup problem, not a bad video
      result.failed.push({ file, reason: (e as Error).message });
    }
  }

  async function worker(): Promise<void> {
    while (next < videos.length) {
      const i = next++;
      await one(i);
      opts.onProgress?.(++done, videos.length, videos[i]!);
    }
  }
  await mkdir(out, { recursive: true });
  await Promise.all(Array.from({ length: Math.min(jobs, videos.length) }, worker));

  const lines = keys.filter((k) => counts.has(k)).map((k) => listLine(k, counts.get(k)!, byClass ? classIndex.get(k.split("/")[0]!)! : -1));
  writeFileAtomic(result.listFile, lines.join("\n") + (lines.length ? "\n" : ""));
  if (byClass) writeFileAtomic(join(out, "labels.txt"), classes.join("\n") + "\n");
  return result;
}
