/**
 * The readers we trust with user files, each with valid seed inputs and the mutations that reach
 * its parser: PyTorch checkpoints (zip: raw bytes and a re-zipped, edited pickle or storage;
 * legacy: raw bytes), safetensors (raw bytes and an edited JSON header), golden JSON, list files
 * and dataset.json. The property: every mutated input loads, or fails with a one-line UserError.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createModel, UserError } from "@blvnet/core";
import { openDataset, parseList } from "@blvnet/data";
import { decodeCheckpoint, encodeSafetensors } from "@blvnet/io";
import fc from "fast-check";
import { unzipSync, zipSync } from "fflate";
import { loadGolden } from "../golden.js";
import { checkGoldenShapes, resolveGoldenModel } from "../verify.js";
import { applyByteEdits, applyJsonEdits, applyLineEdits, byteEdits, jsonEdits, lineEdits } from "./mutate.js";

export interface FuzzTarget {
  name: string;
  /** Mutated inputs (fast-check shrinks a failure to its smallest edit list). */
  inputs: fc.Arbitrary<Uint8Array>;
  /** Read one input; returns normally or throws. */
  read(input: Uint8Array): void;
}

const FIXTURES = new URL("../../../../fixtures/golden/", import.meta.url).pathname;
const fixture = (name: string) => new Uint8Array(readFileSync(join(FIXTURES, name)));

/** Pick one of the seeds, then apply a mutation to it. */
function mutated<E>(seeds: Uint8Array[], edits: fc.Arbitrary<E>, apply: (seed: Uint8Array, e: E) => Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.tuple(fc.nat({ max: seeds.length - 1 }), edits).map(([i, e]) => apply(seeds[i]!, e));
}

const rawBytes = (seeds: Uint8Array[]) => mutated(seeds, byteEdits, applyByteEdits);

/** A zip rebuilt after editing one entry: the pickle (data.pkl) or a storage (data/N). */
function rezipped(seeds: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.nat({ max: seeds.length - 1 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), byteEdits)
    .map(([i, which, edits]) => {
      const files = unzipSync(seeds[i]!);
      const names = Object.keys(files);
      const pkl = names.find((n) => n.endsWith("data.pkl"));
      const target = which < 0.6 && pkl ? pkl : names[Math.floor(which * names.length)]!;
      files[target] = new Uint8Array(applyByteEdits(files[target]!, edits));
      return zipSync(files, { level: 0 });
    });
}

/** safetensors with its JSON header edited (the length prefix rewritten to match). */
function editedHeader(seeds: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return mutated(seeds, jsonEdits, (seed, edits) => {
    const buf = Buffer.from(seed);
    const n = Number(buf.readBigUInt64LE(0));
    const header = applyJsonEdits(JSON.parse(buf.subarray(8, 8 + n).toString("utf8")), edits);
    const json = Buffer.from(JSON.stringify(header) ?? "null", "utf8");
    const out = Buffer.alloc(8 + json.length + buf.length - 8 - n);
    out.writeBigUInt64LE(BigInt(json.length), 0);
    json.copy(out, 8);
    buf.copy(out, 8 + json.length, 8 + n);
    return new Uint8Array(out);
  });
}

const jsonText = (seeds: Uint8Array[]) =>
  fc.oneof(
    {
      weight: 3,
      arbitrary: mutated(seeds, jsonEdits, (s, e) =>
        Buffer.from(JSON.stringify(applyJsonEdits(JSON.parse(Buffer.from(s).toString("utf8")), e)) ?? ""),
      ),
    },
    { weight: 1, arbitrary: rawBytes(seeds) },
  );

function checkpointTarget(name: string, inputs: fc.Arbitrary<Uint8Array>): FuzzTarget {
  return { name, inputs, read: (bytes) => void decodeCheckpoint(bytes, `${name}.bin`) };
}

/** A scratch folder for readers that take paths. */
function scratch(name: string): string {
  return mkdtempSync(join(tmpdir(), `fuzz-${name}-`));
}

function goldenTarget(): FuzzTarget {
  const dir = scratch("golden");
  const path = join(dir, "golden.json");
  return {
    name: "golden",
    inputs: jsonText([fixture("small-tsm-r50-8f-64-2clips.json")]),
    read(bytes) {
      writeFileSync(path, bytes);
      const g = loadGolden(path);
      // the part of `verify` that trusts the file before any number is computed
      const { name, options } = resolveGoldenModel(g);
      checkGoldenShapes(g, createModel(name, options));
    },
  };
}

/** A dataset folder with frame folders for 3 videos of 2 classes, for list and dataset.json targets. */
function datasetFolder(name: string): string {
  const root = scratch(name);
  for (const v of ["a", "b", "c"]) {
    mkdirSync(join(root, v));
    for (let f = 1; f <= 4; f++) writeFileSync(join(root, v, `img_${String(f).padStart(5, "0")}.jpg`), "");
  }
  writeFileSync(join(root, "labels.txt"), "left\nright\n");
  return root;
}

function listTarget(): FuzzTarget {
  const root = datasetFolder("list");
  const file = join(root, "train.txt");
  const tsn = Buffer.from("a 4 0\nb 4 1\nc 4 0\n");
  const blvnet = Buffer.from("a 1 4 0\nb 1 4 1\nc 2 4 1\n");
  return {
    name: "list",
    inputs: mutated([tsn, blvnet], lineEdits, (s, e) => Buffer.from(applyLineEdits(Buffer.from(s).toString("latin1"), e), "latin1")),
    read(bytes) {
      writeFileSync(file, bytes);
      parseList(file, root, { numClasses: 2 });
      openDataset(root, { split: "train" });
    },
  };
}

function datasetJsonTarget(): FuzzTarget {
  const root = datasetFolder("meta");
  writeFileSync(join(root, "train.txt"), "a 4 0\nb 4 1\n");
  const meta = Buffer.from(
    JSON.stringify({
      format: "blvnet-synthetic/1",
      classes: ["left", "right"],
      flip: false,
      frames: 4,
      size: 32,
      train: 1,
      val: 0,
      seed: 0,
    }),
  );
  return {
    name: "dataset.json",
    inputs: jsonText([meta]),
    read(bytes) {
      writeFileSync(join(root, "dataset.json"), bytes);
      openDataset(root, { split: "train" });
    },
  };
}

function safetensorsSeed(): Uint8Array {
  const tensors = new Map([
    ["conv.weight", { shape: [2, 1, 3, 3], data: Float32Array.from({ length: 18 }, (_, i) => i / 7) }],
    ["bn.num_batches_tracked", { shape: [], data: BigInt64Array.from([5n]) }],
  ]);
  return new Uint8Array(encodeSafetensors(tensors, { format: "pt" }));
}

export function fuzzTargets(): FuzzTarget[] {
  const zips = [fixture("checkpoints/small-blvnet-layer0-zip.pth.tar"), fixture("checkpoints/small-blvnet-layer0-fp16-zip.pth.tar")];
  const legacy = [fixture("checkpoints/small-blvnet-layer0-legacy.pth.tar")];
  const st = [safetensorsSeed()];
  return [
    checkpointTarget("pth-zip", fc.oneof(rawBytes(zips), rezipped(zips))),
    checkpointTarget("pth-legacy", rawBytes(legacy)),
    checkpointTarget("safetensors", fc.oneof(rawBytes(st), editedHeader(st))),
    goldenTarget(),
    listTarget(),
    datasetJsonTarget(),
  ];
}

export type Outcome = "loaded" | "refused";

/**
 * Run one read: "loaded", or "refused" with a one-line UserError. Anything else (another error
 * class, a multi-line or runaway message) is a finding and is thrown back to the caller.
 */
export function outcome(target: FuzzTarget, input: Uint8Array): Outcome {
  try {
    target.read(input);
    return "loaded";
  } catch (e) {
    if (!(e instanceof UserError))
      throw new Error(`${target.name}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)} (not a UserError)`);
    if (e.message.includes("\n") || e.message.length > 500)
      throw new Error(`${target.name}: the error is not one short line: ${JSON.stringify(e.message.slice(0, 600))}`);
    return "refused";
  }
}
