/** Finding video files on disk. */
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";

export const VIDEO_EXTENSIONS = new Set([".mp4", ".webm", ".mkv", ".avi", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".3gp", ".ogv"]);

function extOf(name: string): string {
  const i = name.lastIndexOf(".");
  return i <= 0 ? "" : name.slice(i).toLowerCase();
}

/** Every video file under `dir` (recursive, hidden entries skipped), sorted by relative path. */
export function findVideos(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name.startsWith(".")) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && VIDEO_EXTENSIONS.has(extOf(e.name))) out.push(p);
    }
  };
  walk(dir);
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Path relative to `root` without the extension, with `/` separators: the video's key. */
export function videoKey(root: string, file: string): string {
  return relative(root, file)
    .split("\\")
    .join("/")
    .replace(/\.[^./]+$/, "");
}

/** Map from key (relative path without extension, and bare file name without extension) to file. */
export function indexVideos(root: string): Map<string, string> {
  const index = new Map<string, string>();
  for (const f of findVideos(root)) {
    const key = videoKey(root, f);
    index.set(key, f);
    const base = key.split("/").pop()!;
    if (!index.has(base)) index.set(base, f);
  }
  return index;
}
