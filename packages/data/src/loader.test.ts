import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IMAGENET_MEAN, IMAGENET_STD } from "@blvnet/core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Batch, checkSamples, createLoader, DataError, formatBadSample, openDataset } from "./index.js";

const root = mkdtempSync(join(tmpdir(), "blvnet-loader-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Frame t of a test folder is one flat colour, so decoded values tell which frame was read. */
const colour = (t: number): [number, number, number] => [20 * t + 10, 100, 200 - 20 * t];

async function makeFolder(name: string, frames: number, template = (i: number) => `${String(i).padStart(5, "0")}.jpg`) {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (let t = 0; t < frames; t++) {
    const [r, g, b] = colour(t);
    await sharp({ create: { width: 20, height: 16, channels: 3, background: { r, g, b } } })
      .jpeg({ quality: 95 })
      .toFile(join(dir, template(t + 1)));
  }
}

async function drain(it: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

beforeAll(async () => {
  await makeFolder("good1", 6);
  await makeFolder("good2", 6);
  await makeFolder("short", 4);
  await makeFolder("corrupt", 6);
  writeFileSync(join(root, "corrupt", "00003.jpg"), "this is not a jpeg");
  await makeFolder("tsn/v1", 6, (i) => `img_${String(i).padStart(5, "0")}.jpg`);
  writeFileSync(join(root, "labels.txt"), "a\nb\nc\n");
  writeFileSync(
    join(root, "train.txt"),
    ["good1 6 0", "missing 6 1", "short 6 1", "corrupt 6 2", "good2 6 7", "good2 6 x", "good2 6 2", "good1 6 -1", ""].join("\n"),
  );
  writeFileSync(join(root, "blvnet.txt"), "good1 1 6 0\ngood2 2 5 1\n");
  writeFileSync(join(root, "kinetics.txt"), "good1;6;0\n");
  writeFileSync(join(root, "tsn.txt"), "tsn/v1 6 1\n");
  mkdirSync(join(root, "grey"));
  for (let i = 1; i <= 2; i++) {
    await sharp({ create: { width: 20, height: 16, channels: 3, background: { r: 90, g: 90, b: 90 } } })
      .toColourspace("b-w")
      .jpeg()
      .toFile(join(root, "grey", `0000${i}.jpg`));
  }
  writeFileSync(join(root, "grey.txt"), "grey 2 0\n");
});

describe("list datasets", () => {
  it("reads TSN lists and rejects labels outside [0, classes) with file and line", () => {
    const ds = openDataset(root, { split: "train" });
    expect(ds.classes).toEqual(["a", "b", "c"]);
    expect(ds.records.map((r) => r.where.line)).toEqual([1, 2, 3, 4, 7]);
    expect(ds.problems.map(formatBadSample)).toEqual([
      `${join(root, "train.txt")}:5: label 7 is outside [0, 3) (the dataset has 3 classes)`,
      `${join(root, "train.txt")}:6: unknown label "x" (labels in list files are class indices)`,
      `${join(root, "train.txt")}:8: label -1 is outside [0, 3) (the dataset has 3 classes)`,
    ]);
    expect(ds.flip).toBe(true);
  });

  it("reads bLVNet lists (folder start end label) and `;`-separated lists", () => {
    const b = openDataset(join(root, "blvnet.txt"));
    expect(b.records.map((r) => r.frames)).toEqual([
      { dir: join(root, "good1"), start: 1, count: 6 },
      { dir: join(root, "good2"), start: 2, count: 4 },
    ]);
    expect(openDataset(join(root, "kinetics.txt")).records[0]!.frames!.count).toBe(6);
  });

  it("detects the img_%05d.jpg naming", async () => {
    const ds = openDataset(join(root, "tsn.txt"));
    expect(ds.template).toBe("img_%05d.jpg");
    const [b] = await drain(createLoader(ds, { batch: 1, frames: 6, size: 8, train: false }));
    expect(b!.shape).toEqual([1, 18, 8, 8]);
  });

  it("decodes the sampled frames in order into channel t*3+c, ImageNet-normalised", async () => {
    const ds = openDataset(join(root, "blvnet.txt"));
    // Test mode, 3 segments of 6 frames: centres int(1 + 2i) = 1, 3, 5 -> files 2, 4, 6.
    const [b] = await drain(createLoader(ds, { batch: 2, frames: 3, size: 8, train: false }));
    const plane = 64;
    // Second record: 4 frames from file 2, tick 4/3 -> offsets 0, 2, 3 -> files 2, 4, 5 (colour index = file - 1).
    const expected = [
      [1, 3, 5],
      [1, 3, 4],
    ];
    for (let n = 0; n < 2; n++) {
      for (let t = 0; t < 3; t++) {
        for (let c = 0; c < 3; c++) {
          const vals = b!.input.subarray((n * 9 + t * 3 + c) * plane, (n * 9 + t * 3 + c + 1) * plane);
          const mean = vals.reduce((a, v) => a + v, 0) / plane;
          const want = (colour(expected[n]![t]!)[c]! / 255 - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!;
          expect(Math.abs(mean - want)).toBeLessThan(3 / 255 / IMAGENET_STD[c]!);
        }
      }
    }
  });

  it("greyscale JPEGs load as three equal channels", async () => {
    expect((await sharp(join(root, "grey", "00001.jpg")).metadata()).channels).toBe(1);
    const [b] = await drain(createLoader(openDataset(join(root, "grey.txt")), { batch: 1, frames: 2, size: 8, train: false }));
    const level = (c: number) => (b!.input[c * 64]! * IMAGENET_STD[c]! + IMAGENET_MEAN[c]!) * 255;
    for (const c of [0, 1, 2]) expect(level(c)).toBeCloseTo(90, 0);
  });
});

describe("bad input", () => {
  it("skips and counts every bad sample, naming file and line, and finishes the epoch", async () => {
    const ds = openDataset(root, { split: "train" });
    const seen: string[] = [];
    const loader = createLoader(ds, { batch: 2, frames: 6, size: 8, train: false, onBadSample: (b) => seen.push(formatBadSample(b)) });
    const batches = await drain(loader);
    expect(batches.flatMap((b) => b.ids)).toEqual(["good1", "good2"]);
    expect(batches.flatMap((b) => [...b.labels])).toEqual([0, 2]);
    const list = join(root, "train.txt");
    expect(seen).toHaveLength(3);
    expect(seen[0]).toBe(`${list}:2: frame folder not found: ${join(root, "missing")}`);
    expect(seen[1]).toBe(`${list}:3: the list says 6 frames (from 1) but ${join(root, "short")} holds 4`);
    expect(seen[2]).toMatch(new RegExp(`^${list}:4: unreadable image ${join(root, "corrupt", "00003.jpg")}: `));
    expect(loader.stats.skipped).toBe(6);
    expect(loader.stats.bad.map((b) => b.line)).toEqual([5, 6, 8, 2, 3, 4]);
    expect(loader.stats.samples).toBe(2);
  });

  it("stops with one line once more samples than --max-skipped were skipped", async () => {
    const ds = openDataset(root, { split: "train" });
    // 3 lines are rejected when the list is read: a limit of 2 stops before any decoding
    expect(() => createLoader(ds, { maxSkipped: 2 })).toThrow(
      /^3 of 8 samples skipped, more than the 2 allowed \(--max-skipped\); latest: .*train\.txt:8: label -1/,
    );
    const loader = createLoader(ds, { batch: 2, frames: 6, size: 8, train: false, maxSkipped: 4 });
    await expect(drain(loader)).rejects.toThrow(
      /^5 of 8 samples skipped, more than the 4 allowed \(--max-skipped\); latest: .*train\.txt:3: the list says 6 frames/,
    );
    expect(await drain(createLoader(ds, { batch: 2, frames: 6, size: 8, train: false, maxSkipped: 6 }))).toHaveLength(1);
  });

  it("checkSamples finds missing folders, short folders and empty frames without decoding", async () => {
    await makeFolder("emptyframe", 6);
    writeFileSync(join(root, "emptyframe", "00002.jpg"), "");
    writeFileSync(join(root, "check.txt"), "good1 6 0\nmissing 6 1\nshort 6 1\nemptyframe 6 2\n");
    const ds = openDataset(join(root, "check.txt"));
    expect(checkSamples(ds).map(formatBadSample)).toEqual([
      `${join(root, "check.txt")}:2: frame folder not found: ${join(root, "missing")}`,
      `${join(root, "check.txt")}:3: the list says 6 frames (from 1) but ${join(root, "short")} holds 4`,
      `${join(root, "check.txt")}:4: empty frame file: ${join(root, "emptyframe", "00002.jpg")}`,
    ]);
  });

  it("strict mode makes the first problem fatal, at open or while loading", async () => {
    expect(() => openDataset(root, { split: "train", strict: true })).toThrow(DataError);
    expect(() => openDataset(root, { split: "train", strict: true })).toThrow(/train\.txt:5: label 7 is outside \[0, 3\)/);
    expect(() => createLoader(openDataset(root, { split: "train" }), { strict: true })).toThrow(/train\.txt:5/);
    writeFileSync(join(root, "strict.txt"), "good1 6 0\nmissing 6 1\n");
    const loader = createLoader(openDataset(join(root, "strict.txt")), { batch: 1, frames: 2, size: 8, train: false, strict: true });
    await expect(drain(loader)).rejects.toThrow(/strict\.txt:2: frame folder not found/);
  });

  it("a malformed list line is a problem, not a crash", () => {
    writeFileSync(join(root, "malformed.txt"), "good1 six 0\ngood1 6 0\n");
    const ds = openDataset(join(root, "malformed.txt"));
    expect(ds.records).toHaveLength(1);
    expect(formatBadSample(ds.problems[0]!)).toBe(`${join(root, "malformed.txt")}:1: frame count "six" is not an integer`);
  });

  it("a missing dataset or split is a one-line user error", () => {
    expect(() => openDataset(join(root, "nope"))).toThrow(/dataset folder not found/);
    expect(() => openDataset(root, { split: "val" })).toThrow(/no data for split "val"/);
  });
});
