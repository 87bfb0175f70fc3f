// `blvnet import` and the shared model flags, end to end through the CLI, on a tiny test model whose
// parameter names are those of the fixture checkpoints (stem + layer0 + TAM of bLVNet-TAM).
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BatchNorm,
  Conv2d,
  choice,
  IMAGENET_MEAN,
  IMAGENET_STD,
  type InputSpec,
  int,
  Linear,
  type ModelOptions,
  Module,
  type Ops,
  registerModel,
  UserError,
  VideoModel,
} from "@blvnet/core";
import { readCheckpoint, readSafetensors } from "@blvnet/io";
import { buildModelFromArgs, type ModelArgs, parseModelOpts } from "@blvnet/models";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addModelOptions } from "../flags/model-args.js";
import { runCli as cli } from "../run-cli.js";

const FIXTURE = new URL("../../../../fixtures/golden/checkpoints/small-blvnet-layer0-legacy.pth.tar", import.meta.url).pathname;
const TEST_MODEL = "test-import-layer0";
const tmp = mkdtempSync(join(tmpdir(), "blvnet-import-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

class Tam extends Module {
  constructor(c: number) {
    super();
    for (const n of ["prev", "next", "curr"]) Object.assign(this, { [n]: new Conv2d(c, c, 1, { groups: c }) });
  }
}

class Layer0 extends Module {
  constructor(head: string, classes: number) {
    super();
    const convs: [string, number, number, number][] = [
      ["conv1", 3, 64, 7],
      ["b_conv0", 64, 64, 3],
      ["l_conv0", 64, 32, 3],
      ["l_conv1", 32, 32, 3],
      ["l_conv2", 32, 64, 1],
      ["bl_init", 64, 64, 1],
    ];
    const bns: [string, number][] = [
      ["bn1", 64],
      ["bn_b0", 64],
      ["bn_l0", 32],
      ["bn_l1", 32],
      ["bn_l2", 64],
      ["bn_bl_init", 64],
    ];
    for (const [name, cin, cout, k] of convs) Object.assign(this, { [name]: new Conv2d(cin, cout, k) });
    for (const [name, c] of bns) Object.assign(this, { [name]: new BatchNorm(c) });
    Object.assign(this, { tam: new Tam(64) });
    if (head !== "none") Object.assign(this, { [head]: new Linear(64, classes) });
  }
}

class TestModel extends VideoModel {
  readonly family = TEST_MODEL;
  readonly inputSpec: InputSpec = { layout: "N(TC)HW", frames: 8, size: 64, channels: 3, mean: IMAGENET_MEAN, std: IMAGENET_STD };
  readonly numClasses: number;
  readonly id: string;
  constructor(readonly options: ModelOptions) {
    super();
    this.numClasses = options.numClasses as number;
    this.id = `${TEST_MODEL}-${String(options.head)}`;
    Object.assign(this, { baseline_model: new Layer0(options.head as string, this.numClasses) });
  }
  forward<T>(_ops: Ops<T>, _x: T): T {
    throw new Error("not a runnable model");
  }
}

beforeAll(() => {
  registerModel({
    name: TEST_MODEL,
    description: "layer0 of bLVNet-TAM, for import tests",
    options: { head: choice(["none", "fc", "new_fc"], "none", "classifier"), numClasses: int(10, "classes") },
    create: (o) => new TestModel(o),
  });
});

/** Run the CLI, capturing stdout/stderr. */

describe("blvnet import", () => {
  it("converts a legacy checkpoint to safetensors with provenance", async () => {
    const out = join(tmp, "layer0.safetensors");
    const r = await cli("import", FIXTURE, "--model", TEST_MODEL, "--out", out);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain('pytorch-legacy, state dict under "state_dict", "module." stripped from 39 keys, epoch 50');
    expect(r.out).toContain("loaded   39 tensors; none missing");
    const { tensors, metadata } = readSafetensors(out);
    expect(tensors).toEqual(readCheckpoint(FIXTURE));
    expect(metadata).toMatchObject({
      source: FIXTURE,
      source_sha256: createHash("sha256").update(readFileSync(FIXTURE)).digest("hex"),
      source_format: "pytorch-legacy",
      model: `${TEST_MODEL}-none`,
      model_family: TEST_MODEL,
      model_options: JSON.stringify({ head: "none", numClasses: 10 }),
      missing_keys: "",
    });
    expect(Date.now() - Date.parse(metadata.date)).toBeLessThan(600_000);
  });

  it("refuses missing weights unless --allow-missing, and explains new_fc vs fc", async () => {
    const out = join(tmp, "fc.safetensors");
    const refused = await cli("import", FIXTURE, "--model", TEST_MODEL, "--opt", "head=fc", "--out", out);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/^blvnet: .*missing keys: baseline_model\.fc\.weight, baseline_model\.fc\.bias; refusing to run/);

    const allowed = await cli(
      "import",
      FIXTURE,
      "--model",
      TEST_MODEL,
      "--opt",
      "head=fc",
      "--opt",
      "numClasses=5",
      "--out",
      out,
      "--allow-missing",
    );
    expect(allowed.code).toBe(0);
    expect(allowed.err).toMatch(/^warning: .*these 2 weights keep their initial values$/);
    expect(allowed.out).toContain("loaded   39 tensors; 2 missing (kept initial values)");
    expect(readSafetensors(out).metadata.missing_keys).toBe("baseline_model.fc.weight,baseline_model.fc.bias");

    // A checkpoint in the official dropout layout (new_fc.*) does not load into fc.*: reported, not renamed.
    const newFc = join(tmp, "new_fc.safetensors");
    expect(
      (
        await cli(
          "import",
          FIXTURE,
          "--model",
          TEST_MODEL,
          "--opt",
          "head=new_fc",
          "--opt",
          "numClasses=5",
          "--out",
          newFc,
          "--allow-missing",
        )
      ).code,
    ).toBe(0);
    const mismatch = await cli(
      "import",
      newFc,
      "--model",
      TEST_MODEL,
      "--opt",
      "head=fc",
      "--opt",
      "numClasses=5",
      "--out",
      join(tmp, "x.safetensors"),
    );
    expect(mismatch.code).toBe(2);
    expect(mismatch.err).toContain("unexpected keys: baseline_model.new_fc.weight, baseline_model.new_fc.bias");
    expect(mismatch.err).toContain("keys are not renamed automatically");
  });

  it("gives one-line errors for bad input", async () => {
    const bad = join(tmp, "bad.pth");
    writeFileSync(bad, readFileSync(FIXTURE).subarray(0, 3000));
    const cases: [string[], RegExp][] = [
      [
        ["import", bad, "--model", TEST_MODEL, "--out", join(tmp, "o.safetensors")],
        /^blvnet: .*bad\.pth: bad PyTorch legacy checkpoint \(/,
      ],
      [["import", FIXTURE, "--model", TEST_MODEL, "--out", FIXTURE], /would overwrite the checkpoint being imported/],
      [["import", FIXTURE, "--model", TEST_MODEL, "--opt", "head", "--out", join(tmp, "o.safetensors")], /--opt head: expected key=value/],
      [["import", FIXTURE, "--model", TEST_MODEL, "--opt", "depth=50", "--out", join(tmp, "o.safetensors")], /has no option "depth"/],
      [["import", FIXTURE, "--model", "no-such-model", "--out", join(tmp, "o.safetensors")], /unknown model "no-such-model"/],
    ];
    for (const [args, want] of cases) {
      const r = await cli(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err).toMatch(want);
      expect(r.err.split("\n")).toHaveLength(1);
    }
  });
});

describe("model flags (model-args)", () => {
  const parse = (...argv: string[]): ModelArgs => {
    const cmd = addModelOptions(new Command("x").exitOverride());
    cmd.parse(argv, { from: "user" });
    return cmd.opts();
  };

  it("parses repeated --opt and builds the model, with or without weights", () => {
    const args = parse("--model", TEST_MODEL, "--opt", "head=fc", "--opt", "numClasses=3", "--weights", FIXTURE, "--allow-missing");
    expect(args).toEqual({ model: TEST_MODEL, opt: ["head=fc", "numClasses=3"], weights: FIXTURE, allowMissing: true });
    const warnings: string[] = [];
    const built = buildModelFromArgs(args, (m) => warnings.push(m));
    expect(built.model.id).toBe(`${TEST_MODEL}-fc`);
    expect(built.weights?.report.loaded).toBe(39);
    expect(warnings).toHaveLength(1);

    const bare = buildModelFromArgs(parse("--model", TEST_MODEL));
    expect(bare.weights).toBeNull();
    const conv1 = bare.model.namedTensors().find(([k]) => k === "baseline_model.conv1.weight")![1];
    expect((conv1.data as Float32Array).every((v) => v === 0)).toBe(true);
  });

  it("validates key=value pairs", () => {
    expect(parseModelOpts(["a=1", "b = x=y"])).toEqual({ a: "1", b: "x=y" });
    expect(() => parseModelOpts(["=1"])).toThrow(UserError);
    expect(() => parseModelOpts(["a=1", "a=2"])).toThrow("--opt a is given twice");
    expect(() => buildModelFromArgs({})).toThrow("--model is required");
  });
});
