import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { IMAGENET_MEAN, IMAGENET_STD } from "@blvnet/core";
import { afterAll, describe, expect, it } from "vitest";
import { createLoader, openDataset, SYNTH_CLASSES, synthesize } from "./index.js";

const tmp = mkdtempSync(join(tmpdir(), "blvnet-synth-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** sha256 of every file under dir, keyed by relative path. */
function digest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = createHash("sha256").update(readFileSync(p)).digest("hex");
    }
  };
  walk(dir);
  return out;
}

const small = { train: 2, val: 1, frames: 8, size: 32 };

describe("synthesize", () => {
  it("writes the official layout: frame folders, list files, class names", async () => {
    const dir = join(tmp, "a");
    const r = await synthesize(dir, { ...small, seed: 7 });
    expect(r.reused).toBe(false);
    expect(r.clips).toBe(SYNTH_CLASSES.length * 3);
    expect(readFileSync(join(dir, "labels.txt"), "utf8").trim().split("\n")).toEqual([...SYNTH_CLASSES]);
    const train = readFileSync(join(dir, "train.txt"), "utf8").trim().split("\n");
    expect(train).toHaveLength(SYNTH_CLASSES.length * 2);
    expect(train[0]).toBe("frames/train/000000 8 0");
    expect(train[11]).toBe("frames/train/000011 8 1");
    expect(readdirSync(join(dir, "frames/train/000000"))).toEqual(Array.from({ length: 8 }, (_, i) => `0000${i + 1}.jpg`));
  });

  it("is byte-identical for the same seed, different for another", async () => {
    const a = digest(join(tmp, "a"));
    await synthesize(join(tmp, "b"), { ...small, seed: 7 });
    await synthesize(join(tmp, "c"), { ...small, seed: 8 });
    expect(digest(join(tmp, "b"))).toEqual(a);
    const c = digest(join(tmp, "c"));
    expect(c["frames/train/000000/00001.jpg"]).not.toBe(a["frames/train/000000/00001.jpg"]);
  });

  it("reuses a folder made with the same settings and refuses other settings without overwrite", async () => {
    expect((await synthesize(join(tmp, "a"), { ...small, seed: 7 })).reused).toBe(true);
    await expect(synthesize(join(tmp, "a"), { ...small, seed: 9 })).rejects.toThrow(/other settings; replace it with --force/);
  });

  it("--force replaces only a synthetic folder: a folder of the user's is refused and kept as it was", async () => {
    const mine = join(tmp, "mine");
    mkdirSync(join(mine, "a"), { recursive: true });
    writeFileSync(join(mine, "notes"), "keep");
    await expect(synthesize(mine, { ...small, overwrite: true })).rejects.toThrow(/is not a synthetic dataset .* it is left alone/);
    expect(readdirSync(mine).sort()).toEqual(["a", "notes"]);
    expect(readFileSync(join(mine, "notes"), "utf8")).toBe("keep");
    // an empty folder holds nothing to lose, and a synthetic one is replaced
    mkdirSync(join(tmp, "empty"));
    expect((await synthesize(join(tmp, "empty"), small)).reused).toBe(false);
    await synthesize(join(tmp, "empty"), { ...small, seed: 3, overwrite: true });
    expect(JSON.parse(readFileSync(join(tmp, "empty", "dataset.json"), "utf8")).seed).toBe(3);
    expect(readdirSync(tmp).filter((n) => n.startsWith("."))).toEqual([]);
  });

  it("takes a subset of classes by name and rejects unknown names", async () => {
    const dir = join(tmp, "sub");
    await synthesize(dir, { ...small, classes: ["grow", "shrink"], seed: 1 });
    expect(readFileSync(join(dir, "labels.txt"), "utf8")).toBe("grow\nshrink\n");
    await expect(synthesize(join(tmp, "bad"), { classes: ["grow", "jump"] })).rejects.toThrow(/unknown class "jump"/);
  });
});

describe("synthetic set through the loader", () => {
  const lo = (c: number) => (0 - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!;
  const hi = (c: number) => (1 - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!;

  it("opens as a list dataset that must not be flipped", () => {
    const ds = openDataset(join(tmp, "a"), { split: "val" });
    expect(ds.format).toBe("list");
    expect(ds.records).toHaveLength(SYNTH_CLASSES.length);
    expect(ds.numClasses).toBe(SYNTH_CLASSES.length);
    expect(ds.flip).toBe(false);
    expect(ds.problems).toEqual([]);
  });

  it("yields training batches (N, T*3, H, W) with normalised values in range", async () => {
    const ds = openDataset(join(tmp, "a"), { split: "train" });
    const loader = createLoader(ds, { batch: 6, frames: 4, size: 24, seed: 3, workers: 2 });
    const shapes: number[][] = [];
    const labels: number[] = [];
    for await (const b of loader) {
      shapes.push(b.shape);
      labels.push(...b.labels);
      expect(b.input.length).toBe(b.shape.reduce((a, x) => a * x, 1));
      expect(b.ids).toHaveLength(b.labels.length);
      const hw = 24 * 24;
      for (let row = 0; row < b.shape[0]!; row++) {
        for (let ch = 0; ch < 12; ch++) {
          const c = ch % 3;
          const plane = b.input.subarray((row * 12 + ch) * hw, (row * 12 + ch + 1) * hw);
          let [min, max] = [Infinity, -Infinity];
          for (const v of plane) [min, max] = [Math.min(min, v), Math.max(max, v)];
          expect(min).toBeGreaterThanOrEqual(lo(c) - 1e-5);
          expect(max).toBeLessThanOrEqual(hi(c) + 1e-5);
          // Real content, not a constant plane.
          expect(max - min).toBeGreaterThan(0.2);
        }
      }
    }
    expect(shapes).toEqual([
      [6, 12, 24, 24],
      [6, 12, 24, 24],
      [6, 12, 24, 24],
      [2, 12, 24, 24],
    ]);
    expect(labels.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => Math.floor(i / 2)));
    expect(loader.stats.samples).toBe(20);
    expect(loader.stats.skipped).toBe(0);
    expect(loader.stats.clipsPerSecond).toBeGreaterThan(0);
  });

  it("is reproducible for a seed and reshuffles across epochs", async () => {
    const ds = openDataset(join(tmp, "a"), { split: "train" });
    const first = async (seed: number, epoch: number) => {
      const it = createLoader(ds, { batch: 4, frames: 4, size: 16, seed }).epoch(epoch);
      const b = (await it.next()).value!;
      await it.return(undefined);
      return b;
    };
    const a = await first(1, 0);
    const b = await first(1, 0);
    expect(b.ids).toEqual(a.ids);
    expect(b.input).toEqual(a.input);
    expect((await first(1, 1)).ids).not.toEqual(a.ids);
  });

  it("gives (N, 3, T, H, W) for 3D models, the same numbers transposed", async () => {
    const ds = openDataset(join(tmp, "a"), { split: "val" });
    const opts = { batch: 2, frames: 4, size: 16, train: false } as const;
    const a = (await createLoader(ds, opts).epoch(0).next()).value!;
    const b = (
      await createLoader(ds, { ...opts, layout: "NCTHW" })
        .epoch(0)
        .next()
    ).value!;
    expect(b.shape).toEqual([2, 3, 4, 16, 16]);
    const hw = 256;
    for (const [n, t, c] of [
      [0, 0, 0],
      [1, 3, 2],
      [0, 2, 1],
    ] as const) {
      const x = a.input.subarray((n * 12 + t * 3 + c) * hw, (n * 12 + t * 3 + c + 1) * hw);
      const y = b.input.subarray(((n * 3 + c) * 4 + t) * hw, ((n * 3 + c) * 4 + t + 1) * hw);
      expect(y).toEqual(x);
    }
  });

  it("multi-clip, three-crop testing gives clips x crops views per video", async () => {
    const ds = openDataset(join(tmp, "a"), { split: "val" });
    const loader = createLoader(ds, { batch: 4, frames: 4, size: 24, train: false, clips: 2, crops: 3 });
    const b = (await loader.epoch(0).next()).value!;
    expect(b.views).toBe(6);
    expect(b.shape).toEqual([24, 12, 24, 24]);
    expect(b.labels).toHaveLength(4);
    // In test mode the first video is the list's first line (no shuffling).
    expect(b.ids[0]).toBe("frames/val/000000");
  });
});
