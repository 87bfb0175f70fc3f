/**
 * Frame file naming inside a frame folder. Templates use Python's format (`{:05d}.jpg`, the
 * official bLVNet-TAM naming) or printf (`img_%05d.jpg`, the TSN/TSM naming); indices are 1-based.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "@blvnet/core";

export const DEFAULT_TEMPLATE = "{:05d}.jpg";
export const TSN_TEMPLATE = "img_%05d.jpg";

export interface FrameNaming {
  prefix: string;
  width: number;
  suffix: string;
}

const PY_FORMAT = /^(.*)\{:(0?)(\d*)d\}(.*)$/;
const PRINTF = /^(.*)%(0?)(\d*)d(.*)$/;

export function parseTemplate(template: string): FrameNaming {
  const m = PY_FORMAT.exec(template) ?? PRINTF.exec(template);
  if (!m) throw new UserError(`frame template "${template}" has no {:05d} or %05d placeholder`);
  return { prefix: m[1]!, width: m[3] ? Number(m[3]) : 0, suffix: m[4]! };
}

export function frameName(naming: FrameNaming, index: number): string {
  return naming.prefix + String(index).padStart(naming.width, "0") + naming.suffix;
}

/** How many files in `names` follow the naming (any index). */
export function countFrames(names: readonly string[], naming: FrameNaming): number {
  const { prefix, suffix, width } = naming;
  let n = 0;
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith(suffix)) continue;
    const digits = name.slice(prefix.length, name.length - suffix.length);
    if (digits.length >= width && digits.length > 0 && /^\d+$/.test(digits)) n++;
  }
  return n;
}

/**
 * The template used in `dir`, judged by which first frame exists: the official `00001.jpg` or
 * TSN's `img_00001.jpg`. Undefined when neither exists (the folder is missing or empty).
 */
export function detectTemplate(dir: string, start = 1): string | undefined {
  for (const t of [DEFAULT_TEMPLATE, TSN_TEMPLATE]) {
    if (existsSync(join(dir, frameName(parseTemplate(t), start)))) return t;
  }
  return undefined;
}

/** Number of frame files in `dir` that follow the naming; throws when the folder is missing. */
export function countFramesInDir(dir: string, naming: FrameNaming): number {
  return countFrames(readdirSync(dir), naming);
}

/** Why a frame folder (its file names, or null when it cannot be read) does not hold the frames a list line promises. */
export function frameFolderProblem(
  frames: { dir: string; start: number; count: number },
  names: readonly string[] | null,
  naming: FrameNaming,
): string | null {
  const { dir, start, count } = frames;
  if (names === null) return `frame folder not found: ${dir}`;
  const have = countFrames(names, naming);
  const ok = start === 1 ? have === count : have >= start + count - 1;
  return ok ? null : `the list says ${count} frames (from ${start}) but ${dir} holds ${have}`;
}
