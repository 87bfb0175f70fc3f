import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  createLoader,
  createSynthLoader,
  openDataset,
  Rng,
  renderClip,
  SYNTH_CLASSES,
  SYNTH_LEVELS,
  SYNTH_MAX_LEVEL,
  synthesize,
} from "./index.js";
import type { Batch } from "./loader.js";

const tmp = mkdtempSync(join(tmpdir(), "blvnet-levels-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const mean = (f: Uint8ClampedArray) => f.reduce((s, v) => s + v, 0) / f.length;

describe("synthetic difficulty levels", () => {
  it("names every level; the hardest is the last", () => {
    expect(SYNTH_LEVELS).toEqual(["clean", "texture", "distractors", "noise", "colours"]);
    expect(SYNTH_MAX_LEVEL).toBe(4);
  });

  it("level 0 is a plain dark background with a lighter object; levels differ; the default is the hardest", () => {
    for (const cls of SYNTH_CLASSES.filter((c) => c !== "appear" && c !== "disappear")) {
      const [f] = renderClip(cls, 2, 32, new Rng(11), 0);
      // the corner pixels of a plain background agree unless the object covers one of them
      const px = (i: number) => [f![i * 3], f![i * 3 + 1], f![i * 3 + 2]].join(",");
      const corners = [0, 31, 32 * 31, 32 * 32 - 1].map(px);
      expect(new Set(corners).size).toBeLessThanOrEqual(2);
      expect(Math.max(...f!)).toBeGreaterThan(102);
    }
    const levels = [0, 1, 2, 3, 4].map((l) => renderClip("grow", 4, 32, new Rng(5), l));
    for (let l = 1; l <= 4; l++) expect(Buffer.compare(Buffer.from(levels[l]![1]!), Buffer.from(levels[l - 1]![1]!))).not.toBe(0);
    expect(renderClip("grow", 4, 32, new Rng(5))).toEqual(levels[4]);
    // levels 0-3 keep the scene dark (object lighter): mean brightness well below level 4's on average
    const avg = (l: number) => mean(renderClip("move-left", 2, 32, new Rng(3), l)[0]!);
    expect(avg(0)).toBeLessThan(140);
    expect(() => renderClip("grow", 2, 16, new Rng(1), 5)).toThrow(/level/);
  });

  it("synthesize records the level in dataset.json and refuses a bad one", async () => {
    const dir = join(tmp, "l1");
    await synthesize(dir, { classes: ["grow", "shrink"], train: 1, val: 1, frames: 2, size: 16, seed: 1, level: 1 });
    const ds = JSON.parse(readFileSync(join(dir, "dataset.json"), "utf8"));
    expect(ds.level).toBe(1);
    expect(ds.levelName).toBe("texture");
    await expect(synthesize(join(tmp, "bad"), { level: 7 })).rejects.toThrow(/level must be/);
  });
});

describe("createSynthLoader", () => {
  const opts = { classes: ["move-left", "move-right", "grow", "shrink"], frames: 4, size: 24, batch: 3, seed: 4, level: 2 };

  async function all(it: AsyncGenerator<Batch>): Promise<Batch[]> {
    const out: Batch[] = [];
    for await (const b of it) out.push(b);
    return out;
  }

  it("renders the clips of the on-disk set (up to JPEG rounding) with the same labels", async () => {
    const dir = join(tmp, "disk");
    await synthesize(dir, { ...opts, train: 2, val: 2, quality: 100 });
    const disk = createLoader(openDataset(dir, { split: "val" }), { batch: 3, frames: 4, size: 24, train: false, scaleSize: 24, seed: 4 });
    const mem = createSynthLoader({ ...opts, split: "val", perClass: 2 });
    expect(mem.batchesPerEpoch).toBe(disk.batchesPerEpoch);
    const [a, b] = [await all(disk.epoch(0)), await all(mem.epoch(0))];
    expect(b.map((x) => x.shape)).toEqual(a.map((x) => x.shape));
    expect(b.map((x) => [...x.labels])).toEqual(a.map((x) => [...x.labels]));
    let err = 0;
    let n = 0;
    a.forEach((x, i) => {
      x.input.forEach((v, j) => {
        err += Math.abs(v - b[i]!.input[j]!);
        n++;
      });
    });
    expect(err / n).toBeLessThan(0.1); // normalised units (1/255/0.225 per grey level): ~4 grey levels of JPEG error
  });

  it("is deterministic, shuffles per epoch, and renders new clips per epoch only when fresh", async () => {
    const fixed = createSynthLoader({ ...opts, split: "train", perClass: 3 });
    const fresh = createSynthLoader({ ...opts, split: "train", perClass: 3, fresh: true });
    const again = createSynthLoader({ ...opts, split: "train", perClass: 3, fresh: true });
    const byId = (bs: Batch[]) => {
      const m = new Map<string, number[]>();
      for (const b of bs)
        b.ids.forEach((id, r) =>
          m.set(id, [...b.input.subarray((r * b.input.length) / b.ids.length, ((r + 1) * b.input.length) / b.ids.length)]),
        );
      return m;
    };
    const f0 = await all(fixed.epoch(0));
    const f1 = await all(fixed.epoch(1));
    expect(f1.flatMap((b) => b.ids)).not.toEqual(f0.flatMap((b) => b.ids));
    expect(byId(f1)).toEqual(byId(f0));
    const r0 = await all(fresh.epoch(0));
    const r1 = byId(await all(fresh.epoch(1)));
    expect(byId(r0)).toEqual(byId(f0));
    expect(r1.get("frames/train/000000")).not.toEqual(byId(r0).get("frames/train/000000"));
    expect(byId(await all(again.epoch(1)))).toEqual(r1);
  });
});
