/**
 * `synthesize(outDir, options)`: writes the synthetic temporal-order benchmark in the official
 * on-disk format: `frames/<split>/<id>/00001.jpg...`, list files `train.txt` / `val.txt`
 * (`<folder> <num_frames> <label>`), `labels.txt` (class names) and `dataset.json` (the settings,
 * and `flip: false`: mirroring swaps left/right and cw/ccw). Frames are rendered to raw RGB here and
 * JPEG-encoded by sharp at a fixed quality, so the bytes depend only on the settings and the seed.
 * Written to a temporary folder and renamed into place; an existing folder with the same settings is
 * reused as is.
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { deriveSeed, Rng, UserError } from "@blvnet/core";
import { writeFileAtomic } from "@blvnet/io";
import sharp from "sharp";
import { DEFAULT_TEMPLATE, frameName, parseTemplate } from "./frames.js";
import { listLine } from "./lists.js";
import { renderClip, SYNTH_CLASSES, SYNTH_LEVELS, SYNTH_MAX_LEVEL, type SynthClass } from "./render.js";

export const SYNTH_FORMAT = "blvnet-synth/1";

export interface SynthOptions {
  /** Class names (default: all 10); label = position in this list. */
  classes?: readonly string[];
  /** Training clips per class (default 48). */
  train?: number;
  /** Validation clips per class (default 12). */
  val?: number;
  /** Frames per clip (default 16). */
  frames?: number;
  /** Frame side in pixels (default 112). */
  size?: number;
  seed?: number;
  /** Difficulty level 0..SYNTH_MAX_LEVEL (SYNTH_LEVELS; default SYNTH_DEFAULT_LEVEL). */
  level?: number;
  /** JPEG quality (default 90). */
  quality?: number;
  /** Replace an existing folder made with other settings. */
  overwrite?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface SynthResult {
  dir: string;
  /** True when an existing folder with the same settings was reused. */
  reused: boolean;
  clips: number;
  frames: number;
  seconds: number;
}

interface SynthSettings {
  format: string;
  classes: string[];
  train: number;
  val: number;
  frames: number;
  size: number;
  seed: number;
  level: number;
  /** Name of the level (SYNTH_LEVELS[level]), for readers of dataset.json. */
  levelName: string;
  quality: number;
  flip: false;
}

/** The level `data synth` and the synthetic benchmark use unless told otherwise. */
export const SYNTH_DEFAULT_LEVEL = SYNTH_MAX_LEVEL;

function checkInt(name: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) throw new UserError(`synth: ${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

function checkLevel(v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > SYNTH_MAX_LEVEL) {
    throw new UserError(
      `synth: level must be an integer in 0..${SYNTH_MAX_LEVEL} (${SYNTH_LEVELS.map((n, i) => `${i} ${n}`).join(", ")}), got ${v}`,
    );
  }
  return v;
}

export function resolveSynthClasses(names: readonly string[] | undefined): SynthClass[] {
  if (!names) return [...SYNTH_CLASSES];
  const out: SynthClass[] = [];
  for (const n of names) {
    if (!(SYNTH_CLASSES as readonly string[]).includes(n))
      throw new UserError(`synth: unknown class "${n}"; classes: ${SYNTH_CLASSES.join(", ")}`);
    if (out.includes(n as SynthClass)) throw new UserError(`synth: class "${n}" given twice`);
    out.push(n as SynthClass);
  }
  if (out.length < 2) throw new UserError("synth: need at least 2 classes");
  return out;
}

/** Whether `dir` carries the synthetic marker: a dataset.json whose format is ours. */
function isSyntheticFolder(dir: string): boolean {
  try {
    return JSON.parse(readFileSync(join(dir, "dataset.json"), "utf8"))?.format === SYNTH_FORMAT;
  } catch {
    return false;
  }
}

function sameSettings(dir: string, s: SynthSettings): boolean {
  const p = join(dir, "dataset.json");
  if (!existsSync(p)) return false;
  try {
    return JSON.stringify(JSON.parse(readFileSync(p, "utf8"))) === JSON.stringify(s);
  } catch {
    return false;
  }
}

export async function synthesize(outDir: string, opts: SynthOptions = {}): Promise<SynthResult> {
  const t0 = performance.now();
  const classes = resolveSynthClasses(opts.classes);
  const settings: SynthSettings = {
    format: SYNTH_FORMAT,
    classes,
    train: checkInt("train", opts.train ?? 48, 0),
    val: checkInt("val", opts.val ?? 12, 0),
    frames: checkInt("frames", opts.frames ?? 16, 1),
    size: checkInt("size", opts.size ?? 112, 8),
    seed: checkInt("seed", opts.seed ?? 0, 0),
    level: checkLevel(opts.level ?? SYNTH_DEFAULT_LEVEL),
    levelName: "",
    quality: checkInt("quality", opts.quality ?? 90, 1),
    flip: false,
  };
  settings.levelName = SYNTH_LEVELS[settings.level]!;
  const dir = resolve(outDir);
  const splits = [
    { name: "train", perClass: settings.train, key: 1 },
    { name: "val", perClass: settings.val, key: 2 },
  ];
  const total = splits.reduce((s, sp) => s + sp.perClass * classes.length, 0);
  const result = (reused: boolean): SynthResult => ({
    dir,
    reused,
    clips: total,
    frames: total * settings.frames,
    seconds: (performance.now() - t0) / 1000,
  });

  if (existsSync(dir)) {
    if (sameSettings(dir, settings)) return result(true);
    // Only a folder this command made (its marker: dataset.json of our format) may be replaced.
    if (!isSyntheticFolder(dir) && readdirSync(dir).length > 0) {
      throw new UserError(
        `synth: ${dir} exists and is not a synthetic dataset (no dataset.json of format ${SYNTH_FORMAT}); it is left alone: choose another folder`,
      );
    }
    if (!opts.overwrite && isSyntheticFolder(dir))
      throw new UserError(`synth: ${dir} holds a synthetic dataset made with other settings; replace it with --force`);
  }
  const tmp = join(dirname(dir), `.${basename(dir)}.partial-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  const naming = parseTemplate(DEFAULT_TEMPLATE);
  const raw = { width: settings.size, height: settings.size, channels: 3 as const };

  let done = 0;
  const inflight = new Set<Promise<void>>();
  for (const split of splits) {
    const lines: string[] = [];
    const count = split.perClass * classes.length;
    for (let k = 0; k < count; k++) {
      const label = k % classes.length;
      const folder = `frames/${split.name}/${String(k).padStart(6, "0")}`;
      lines.push(listLine(folder, settings.frames, label));
      const frames = renderClip(
        classes[label]!,
        settings.frames,
        settings.size,
        new Rng(deriveSeed(settings.seed, split.key, k)),
        settings.level,
      );
      const clipDir = join(tmp, folder);
      const job = mkdir(clipDir, { recursive: true })
        .then(() =>
          Promise.all(
            frames.map(async (f, t) => {
              const jpg = await sharp(Buffer.from(f.buffer, f.byteOffset, f.byteLength), { raw })
                .jpeg({ quality: settings.quality })
                .toBuffer();
              await writeFile(join(clipDir, frameName(naming, t + 1)), jpg);
            }),
          ),
        )
        .then(() => {
          inflight.delete(job);
          opts.onProgress?.(++done, total);
        });
      inflight.add(job);
      // Keep a few clips encoding on sharp's threads while the next one renders here.
      if (inflight.size >= 8) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    writeFileAtomic(join(tmp, `${split.name}.txt`), lines.join("\n") + (lines.length ? "\n" : ""));
  }
  writeFileAtomic(join(tmp, "labels.txt"), classes.join("\n") + "\n");
  writeFileAtomic(join(tmp, "dataset.json"), JSON.stringify(settings, null, 2) + "\n");
  // Swap the new folder in, then delete the old one (a synthetic folder or an empty one: checked above).
  const old = join(dirname(dir), `.${basename(dir)}.old-${process.pid}`);
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
  return result(false);
}
