// loadWeights against a tiny module tree named like the fixture checkpoints (stem + layer0 + TAM of
// bLVNet-TAM), independent of the real model packages.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assignNames, BatchNorm, Conv2d, Linear, Module, refgenTensor, stateDict, UserError } from "@blvnet/core";
import { afterAll, describe, expect, it } from "vitest";
import { writeSafetensors } from "../safetensors.js";
import { loadWeights } from "./load.js";
import { readCheckpoint } from "./read.js";

const FIXTURES = join(import.meta.dirname, "../../../../fixtures/golden/checkpoints");
const fixture = (variant: string) => join(FIXTURES, `small-blvnet-layer0-${variant}.pth.tar`);
const tmp = mkdtempSync(join(tmpdir(), "blvnet-load-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

class Tam extends Module<{ c: number }> {
  prev = new Conv2d(this.cfg.c, this.cfg.c, 1, { groups: this.cfg.c });
  next = new Conv2d(this.cfg.c, this.cfg.c, 1, { groups: this.cfg.c });
  curr = new Conv2d(this.cfg.c, this.cfg.c, 1, { groups: this.cfg.c });
}

interface Variant {
  stemWidth?: number;
  head?: "fc" | "new_fc";
  classes?: number;
  withoutLittle?: boolean;
}

/** The fixture's 39 tensors as a module tree; a variant changes one thing to provoke a mismatch. */
class Layer0 extends Module<Variant> {
  private readonly w = this.cfg.stemWidth ?? 64;
  private readonly little = !this.cfg.withoutLittle;
  conv1 = new Conv2d(3, this.w, 7);
  bn1 = new BatchNorm(this.w);
  b_conv0 = new Conv2d(64, 64, 3);
  bn_b0 = new BatchNorm(64);
  l_conv0 = this.little ? new Conv2d(64, 32, 3) : null;
  bn_l0 = this.little ? new BatchNorm(32) : null;
  l_conv1 = this.little ? new Conv2d(32, 32, 3) : null;
  bn_l1 = this.little ? new BatchNorm(32) : null;
  l_conv2 = this.little ? new Conv2d(32, 64, 1) : null;
  bn_l2 = this.little ? new BatchNorm(64) : null;
  bl_init = new Conv2d(64, 64, 1);
  bn_bl_init = new BatchNorm(64);
  tam = new Tam({ c: 64 });
  fc = this.cfg.head === "fc" ? new Linear(64, this.cfg.classes ?? 10) : null;
  new_fc = this.cfg.head === "new_fc" ? new Linear(64, this.cfg.classes ?? 10) : null;
}

class Net extends Module<Variant> {
  baseline_model = new Layer0(this.cfg);
  constructor(v: Variant = {}) {
    super(v);
    assignNames(this);
  }
}

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    expect((e as Error).message).not.toContain("\n");
    return (e as Error).message;
  }
  throw new Error("expected a UserError");
}

describe("loadWeights", () => {
  for (const variant of ["zip", "legacy"]) {
    it(`loads every tensor of the ${variant} fixture into a matching model`, () => {
      const net = new Net();
      const { report, checkpoint, missingCounters } = loadWeights(net, fixture(variant));
      expect(report).toEqual({ missing: [], unexpected: [], shapeMismatch: [], loaded: 39 });
      expect(missingCounters).toEqual([]);
      expect(checkpoint.format).toBe(variant === "zip" ? "pytorch-zip" : "pytorch-legacy");
      for (const [key, p] of net.namedTensors()) {
        if (p.dtype === "int64") expect(p.data).toEqual(BigInt64Array.from([1234n]));
        else expect(p.data, key).toEqual(refgenTensor(key, p.shape));
      }
    });
  }

  it("refuses unexpected keys (a model smaller than the checkpoint)", () => {
    const msg = messageOf(() => loadWeights(new Net({ withoutLittle: true }), fixture("zip")));
    expect(msg).toMatch(
      new RegExp(
        `^${fixture("zip")}: loaded 21 tensors; unexpected keys: baseline_model.l_conv0.weight, .* \\(18 in all\\); the checkpoint does not fit the model$`,
      ),
    );
  });

  it("refuses shape mismatches", () => {
    const msg = messageOf(() => loadWeights(new Net({ stemWidth: 32 }), fixture("legacy")));
    expect(msg).toContain("shape mismatches: baseline_model.conv1.weight expected [32,3,7,7] got [64,3,7,7]");
  });

  it("refuses missing weights unless allowed, then warns and keeps their values", () => {
    const msg = messageOf(() => loadWeights(new Net({ head: "fc" }), fixture("zip")));
    expect(msg).toContain("missing keys: baseline_model.fc.weight, baseline_model.fc.bias");
    expect(msg).toContain("refusing to run with 2 weights left uninitialised (allow with --allow-missing)");

    const net = new Net({ head: "fc" });
    const warnings: string[] = [];
    const { report } = loadWeights(net, fixture("zip"), { allowMissing: true, warn: (m) => warnings.push(m) });
    expect(report.missing).toEqual(["baseline_model.fc.weight", "baseline_model.fc.bias"]);
    expect(report.loaded).toBe(39);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^warning: .*missing keys: baseline_model\.fc\.weight, baseline_model\.fc\.bias; these 2 weights keep their initial values$/,
    );
    const fc = net.namedTensors().find(([k]) => k === "baseline_model.fc.weight")![1];
    expect((fc.data as Float32Array).every((x) => x === 0)).toBe(true);
  });

  it("accepts checkpoints without BatchNorm counters, as PyTorch does", () => {
    const sd = readCheckpoint(fixture("zip"));
    for (const k of [...sd.keys()]) if (k.endsWith("num_batches_tracked")) sd.delete(k);
    const path = join(tmp, "no-counters.safetensors");
    writeSafetensors(path, sd);
    const { report, missingCounters } = loadWeights(new Net(), path);
    expect(report.missing).toEqual([]);
    expect(report.loaded).toBe(33);
    expect(missingCounters).toHaveLength(6);
  });

  it("explains new_fc vs fc without renaming anything", () => {
    const src = new Net({ head: "new_fc" });
    const path = join(tmp, "new-fc.safetensors");
    writeSafetensors(path, stateDict(src));
    const msg = messageOf(() => loadWeights(new Net({ head: "fc" }), path, { allowMissing: true }));
    expect(msg).toContain("unexpected keys: baseline_model.new_fc.weight, baseline_model.new_fc.bias");
    expect(msg).toContain("missing keys: baseline_model.fc.weight, baseline_model.fc.bias");
    expect(msg).toContain("the checkpoint keeps its classifier in new_fc.* (the official training layout with dropout > 0");
    expect(msg).toContain("keys are not renamed automatically");

    const fcPath = join(tmp, "fc.safetensors");
    writeSafetensors(fcPath, stateDict(new Net({ head: "fc" })));
    const back = messageOf(() => loadWeights(new Net({ head: "new_fc" }), fcPath));
    expect(back).toContain("the checkpoint keeps its classifier in fc.* but the model expects new_fc.*");
  });

  it("suggests numClasses when only the classifier width differs", () => {
    const path = join(tmp, "fc174.safetensors");
    writeSafetensors(path, stateDict(new Net({ head: "fc", classes: 174 })));
    const msg = messageOf(() => loadWeights(new Net({ head: "fc", classes: 10 }), path));
    expect(msg).toContain(
      "baseline_model.fc.weight has 174 classes in the checkpoint and 10 in the model: build the model with numClasses=174",
    );
  });
});
