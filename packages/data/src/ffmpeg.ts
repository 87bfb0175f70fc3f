/**
 * Video decoding through the system `ffmpeg`/`ffprobe` (Debian package `ffmpeg`), as child processes.
 * Frames are selected by index with the `select` filter; `-fps_mode passthrough` is required, else
 * ffmpeg duplicates frames to keep a constant rate. `-noautorotate` keeps frames in the stored
 * orientation so that the probed width/height hold.
 */
import { spawn } from "node:child_process";
import { UserError } from "@blvnet/core";
import { SampleError } from "./errors.js";

export interface ProcessResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

export function runProcess(cmd: string, args: string[]): Promise<ProcessResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => {
      if (err.length < 8192) err += b.toString();
    });
    child.on("error", (e: NodeJS.ErrnoException) =>
      reject(
        e.code === "ENOENT" ? new UserError(`${cmd} not found: install it (Debian: apt-get install --no-install-recommends ffmpeg)`) : e,
      ),
    );
    child.on("close", (code) => resolvePromise({ code, stdout: Buffer.concat(out), stderr: err.trim() }));
  });
}

export interface VideoInfo {
  width: number;
  height: number;
  numFrames: number;
}

function firstLine(s: string): string {
  return (
    s
      .split("\n")
      .find((l) => l.trim() !== "")
      ?.trim() ?? "no output"
  );
}

/** Width, height and frame count (packets read) of the first video stream. */
export async function probeVideo(file: string): Promise<VideoInfo> {
  const r = await runProcess("ffprobe", [
    "-v",
    "error",
    "-select_streams",
    "v:0",
    "-count_packets",
    "-show_entries",
    "stream=width,height,nb_read_packets",
    "-of",
    "json",
    file,
  ]);
  if (r.code !== 0) throw new SampleError(`ffprobe cannot read ${file}: ${firstLine(r.stderr)}`);
  const s = (JSON.parse(r.stdout.toString() || "{}") as { streams?: { width?: number; height?: number; nb_read_packets?: string }[] })
    .streams?.[0];
  const numFrames = Number(s?.nb_read_packets ?? 0);
  if (!s?.width || !s.height || !(numFrames > 0)) throw new SampleError(`ffprobe finds no video frames in ${file}`);
  return { width: s.width, height: s.height, numFrames };
}

/** The official extraction size: short side `short`, long side int(long/short_side * short + 0.5). */
export function shortSideSize(width: number, height: number, short: number): { width: number; height: number } {
  if (height < width) return { width: Math.trunc((width / height) * short + 0.5), height: short };
  return { width: short, height: Math.trunc((height / width) * short + 0.5) };
}

/**
 * Decode the frames with the given 0-based indices, scaled to `size`, as packed RGB (HWC uint8).
 * Returns one buffer per distinct index.
 */
export async function decodeVideoFrames(
  file: string,
  indices: readonly number[],
  size: { width: number; height: number },
): Promise<Map<number, Uint8Array>> {
  const wanted = [...new Set(indices)].sort((a, b) => a - b);
  const select = wanted.map((i) => `eq(n\\,${i})`).join("+");
  const r = await runProcess("ffmpeg", [
    "-v",
    "error",
    "-nostdin",
    "-noautorotate",
    "-i",
    file,
    "-vf",
    `select='${select}',scale=${size.width}:${size.height}:flags=bilinear`,
    "-fps_mode",
    "passthrough",
    "-f",
    "rawvideo",
    "-pix_fmt",
    "rgb24",
    "pipe:1",
  ]);
  if (r.code !== 0) throw new SampleError(`ffmpeg cannot decode ${file}: ${firstLine(r.stderr)}`);
  const frameBytes = size.width * size.height * 3;
  const got = Math.floor(r.stdout.length / frameBytes);
  if (got !== wanted.length) {
    throw new SampleError(`ffmpeg decoded ${got} of the ${wanted.length} wanted frames of ${file} (frame indices up to ${wanted.at(-1)})`);
  }
  const out = new Map<number, Uint8Array>();
  wanted.forEach((idx, k) => out.set(idx, new Uint8Array(r.stdout.buffer, r.stdout.byteOffset + k * frameBytes, frameBytes)));
  return out;
}

/** Write every frame of `file`, scaled to `size`, as `<outDir>/00001.jpg`, `00002.jpg`, ... */
export async function extractJpegs(file: string, outDir: string, size: { width: number; height: number }, quality = 2): Promise<void> {
  const r = await runProcess("ffmpeg", [
    "-v",
    "error",
    "-nostdin",
    "-noautorotate",
    "-i",
    file,
    "-vf",
    `scale=${size.width}:${size.height}:flags=bilinear`,
    "-fps_mode",
    "passthrough",
    "-threads",
    "1",
    "-q:v",
    String(quality),
    "-start_number",
    "1",
    `${outDir}/%05d.jpg`,
  ]);
  if (r.code !== 0) throw new SampleError(`ffmpeg cannot decode ${file}: ${firstLine(r.stderr)}`);
}
