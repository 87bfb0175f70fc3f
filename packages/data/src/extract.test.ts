// Needs the system ffmpeg/ffprobe (Debian: apt-get install --no-install-recommends ffmpeg).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IMAGENET_MEAN, IMAGENET_STD } from "@blvnet/core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Batch, createLoader, type Dataset, extractVideos, formatBadSample, type LoaderOptions, openDataset } from "./index.js";

const root = mkdtempSync(join(tmpdir(), "blvnet-extract-"));
const videos = join(root, "videos");
const out = join(root, "frames");
afterAll(() => rmSync(root, { recursive: true, force: true }));

function testVideo(file: string, source: string) {
  mkdirSync(join(file, ".."), { recursive: true });
  execFileSync("ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", source, "-pix_fmt", "yuv420p", "-c:v", "libx264", file]);
}

async function first(ds: Dataset, opts: LoaderOptions): Promise<Batch> {
  const it = createLoader(ds, opts).epoch(0);
  const b = (await it.next()).value as Batch;
  await it.return(undefined);
  return b;
}

function meanAbsDiff(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

beforeAll(() => {
  testVideo(join(videos, "classA", "v1.mp4"), "testsrc=size=320x240:rate=25:duration=2"); // 50 frames
  // 25 flat frames whose red level ramps by ~10 per frame, so decoded values identify the frame index.
  testVideo(join(videos, "classB", "v2.mp4"), "color=size=320x240:rate=25:duration=1,format=rgb24,geq=r='10*N':g='128':b='250-10*N'");
  writeFileSync(join(videos, "classB", "broken.mp4"), "not a video at all");
});

describe("extractVideos", () => {
  it("writes frame folders at the short side, a list file and class names; reports undecodable videos", async () => {
    const progress: number[] = [];
    const r = await extractVideos(videos, out, { shortSide: 64, jobs: 2, onProgress: (d) => progress.push(d) });
    expect([r.total, r.extracted, r.skipped]).toEqual([3, 2, 0]);
    expect(r.failed.map((f) => f.file)).toEqual([join(videos, "classB", "broken.mp4")]);
    expect(r.failed[0]!.reason).toMatch(/ffprobe cannot read .*broken\.mp4/);
    expect(progress).toEqual([1, 2, 3]);
    expect(readFileSync(join(out, "frames.txt"), "utf8")).toBe("classA/v1 50 0\nclassB/v2 25 1\n");
    expect(readFileSync(join(out, "labels.txt"), "utf8")).toBe("classA\nclassB\n");
    const names = readdirSync(join(out, "classA", "v1")).sort();
    expect(names).toHaveLength(50);
    expect([names[0], names[49]]).toEqual(["00001.jpg", "00050.jpg"]);
    // 320x240 at short side 64: int(320/240 * 64 + 0.5) = 85
    const meta = await sharp(join(out, "classA", "v1", "00001.jpg")).metadata();
    expect([meta.width, meta.height]).toEqual([85, 64]);
    expect(readdirSync(join(out, "classB"))).toEqual(["v2"]);
  });

  it("resumes: finished folders are skipped, half-written ones are redone", async () => {
    rmSync(join(out, "classB", "v2"), { recursive: true });
    mkdirSync(join(out, "classB", ".v2.partial"));
    writeFileSync(join(out, "classB", ".v2.partial", "00001.jpg"), "stale");
    const r = await extractVideos(videos, out, { shortSide: 64, jobs: 2 });
    expect([r.extracted, r.skipped, r.failed.length]).toEqual([1, 1, 1]);
    expect(readdirSync(join(out, "classB"))).toEqual(["v2"]);
    expect(readdirSync(join(out, "classB", "v2"))).toHaveLength(25);
    expect(readFileSync(join(out, "frames.txt"), "utf8")).toBe("classA/v1 50 0\nclassB/v2 25 1\n");
  });

  it("a missing ffmpeg is a setup error, not a list of failed videos", async () => {
    const path = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      await expect(extractVideos(videos, join(root, "no-ffmpeg"), { jobs: 1 })).rejects.toThrow(/ffprobe not found: install it/);
    } finally {
      process.env.PATH = path;
    }
  });

  it("the extracted list loads", async () => {
    const ds = openDataset(join(out, "frames.txt"));
    expect(ds.classes).toEqual(["classA", "classB"]);
    const b = await first(ds, { batch: 2, frames: 4, size: 32, train: true, seed: 1 });
    expect(b.shape).toEqual([2, 12, 32, 32]);
  });
});

describe("annotation datasets", () => {
  const kin = join(root, "kinetics");
  beforeAll(() => {
    mkdirSync(kin, { recursive: true });
    const header = "label,youtube_id,time_start,time_end,split";
    writeFileSync(
      join(kin, "train.csv"),
      [header, "classA,v1,0,2,train", "classB,v2,0,1,train", "classB,broken,0,1,train", "classA,nothere,3,5,train", ""].join("\n"),
    );
    writeFileSync(join(kin, "validate.csv"), [header, "classC,v1,0,2,val", "classA,v1,0,2,val", ""].join("\n"));
  });

  it("Kinetics CSV: sorted classes, videos found by id, problems with file and line", () => {
    const ds = openDataset(kin, { split: "train", videos });
    expect(ds.format).toBe("kinetics");
    expect(ds.classes).toEqual(["classA", "classB"]);
    expect(ds.records.map((r) => [r.id, r.label, r.video])).toEqual([
      ["v1_000000_000002", 0, join(videos, "classA", "v1.mp4")],
      ["v2_000000_000001", 1, join(videos, "classB", "v2.mp4")],
      ["broken_000000_000001", 1, join(videos, "classB", "broken.mp4")],
    ]);
    expect(ds.problems.map(formatBadSample)).toEqual([
      `${join(kin, "train.csv")}:5: video file for "nothere_000003_000005" not found under ${videos}`,
    ]);
    const val = openDataset(kin, { split: "val", videos });
    expect(val.problems.map(formatBadSample)).toEqual([`${join(kin, "validate.csv")}:2: unknown label "classC"`]);
  });

  it("decodes videos through ffmpeg, matching the extracted frames; an undecodable video is skipped with its line", async () => {
    const ds = openDataset(kin, { split: "train", videos });
    const loader = createLoader(ds, { batch: 3, frames: 4, size: 32, train: false, videoShortSide: 64 });
    const batches: Batch[] = [];
    for await (const b of loader) batches.push(b);
    expect(batches.map((b) => b.shape)).toEqual([[2, 12, 32, 32]]);
    expect(loader.stats.skipped).toBe(2);
    expect(formatBadSample(loader.stats.bad[1]!)).toMatch(new RegExp(`^${join(kin, "train.csv")}:4: ffprobe cannot read .*broken\\.mp4`));

    // Both paths must pick the same frames: test-mode centres of 25 frames in 4 segments are 3, 9, 15, 21.
    const fromFrames = (await first(openDataset(join(out, "frames.txt")), { batch: 2, frames: 4, size: 32, train: false })).input;
    const plane = 32 * 32;
    const redLevel = (x: Float32Array, row: number, t: number) => {
      const p = x.subarray((row * 12 + t * 3) * plane, (row * 12 + t * 3 + 1) * plane);
      return ((p.reduce((a, v) => a + v, 0) / plane) * IMAGENET_STD[0] + IMAGENET_MEAN[0]) * 255;
    };
    const video = [0, 1, 2, 3].map((t) => redLevel(batches[0]!.input, 1, t));
    const frames = [0, 1, 2, 3].map((t) => redLevel(fromFrames, 1, t));
    for (let t = 0; t < 4; t++) {
      expect(Math.abs(video[t]! - 10 * [3, 9, 15, 21][t]!)).toBeLessThan(15);
      // Neighbouring frames differ by ~10 levels, so 3 levels of agreement pins the same index.
      expect(Math.abs(video[t]! - frames[t]!)).toBeLessThan(3);
    }
    // The busy testsrc clip agrees too, up to JPEG chroma loss.
    expect(meanAbsDiff(batches[0]!.input.subarray(0, 12 * plane), fromFrames.subarray(0, 12 * plane))).toBeLessThan(0.3);
  });

  it("a missing ffmpeg stops the loader with a setup error", async () => {
    const ds = openDataset(kin, { split: "val", videos });
    const path = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      await expect(first(ds, { batch: 1, frames: 2, size: 16, train: false })).rejects.toThrow(/(ffprobe|ffmpeg) not found: install it/);
    } finally {
      process.env.PATH = path;
    }
  });

  it("annotation entries resolve to extracted frames with `frames`", () => {
    const ds = openDataset(kin, { split: "train", frames: out });
    expect(ds.records.map((r) => r.frames)).toEqual([
      { dir: join(out, "classA", "v1"), start: 1, count: 50 },
      { dir: join(out, "classB", "v2"), start: 1, count: 25 },
    ]);
    expect(ds.problems.map((p) => p.line)).toEqual([4, 5]);
  });

  it("Something-Something v2 JSON: template -> class, unknown template reported at its line, no flipping", () => {
    const dir = join(root, "ssv2");
    mkdirSync(join(dir, "20bn-something-something-v2"), { recursive: true });
    for (const id of ["11", "12"]) writeFileSync(join(dir, "20bn-something-something-v2", `${id}.webm`), "");
    writeFileSync(
      join(dir, "something-something-v2-labels.json"),
      JSON.stringify({ "Pushing something from left to right": "0", "Moving something up": "1" }, null, 2),
    );
    const items = [
      { id: "11", label: "pushing a cup from left to right", template: "Pushing [something] from left to right", placeholders: ["a cup"] },
      { id: "12", label: "moving a pen up", template: "Moving [something] up", placeholders: ["a pen"] },
      { id: "13", label: "dancing", template: "Dancing [something]", placeholders: ["x"] },
    ];
    writeFileSync(join(dir, "something-something-v2-validation.json"), JSON.stringify(items, null, 1));
    const ds = openDataset(dir, { split: "val" });
    expect(ds.format).toBe("ssv2");
    expect(ds.flip).toBe(false);
    expect(ds.records.map((r) => [r.id, r.label])).toEqual([
      ["11", 0],
      ["12", 1],
    ]);
    const file = join(dir, "something-something-v2-validation.json");
    const line =
      readFileSync(file, "utf8")
        .split("\n")
        .findIndex((l) => l.includes('"13"')) + 1;
    expect(ds.problems.map(formatBadSample)).toEqual([`${file}:${line}: unknown label "Dancing something" (not in the labels json)`]);
  });

  it("Moments in Time CSV: path,label rows and moments_categories.txt", () => {
    const dir = join(root, "mit");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "moments_categories.txt"), "classA,0\nclassB,1\n");
    writeFileSync(join(dir, "trainingSet.csv"), "classA/v1.mp4,classA\nclassB/v2.mp4,classB\nclassB/v9.mp4,classB\n");
    const ds = openDataset(dir, { split: "train", videos });
    expect(ds.format).toBe("mit");
    expect(ds.records.map((r) => [r.id, r.label])).toEqual([
      ["classA/v1", 0],
      ["classB/v2", 1],
    ]);
    expect(ds.problems.map((p) => p.line)).toEqual([3]);
    expect(existsSync(join(dir, "frames.txt"))).toBe(false);
  });
});
