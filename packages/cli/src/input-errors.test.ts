// Input errors are one line, exit 2, with a pointer to the command's help (never the help itself),
// and options are checked before any work: no data generated, no row written.
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "./run-cli.js";

const tmp = mkdtempSync(join(tmpdir(), "blvnet-errors-"));

async function oneLine(args: string[], message: RegExp): Promise<void> {
  const r = await runCli(...args);
  expect(r.code, r.err).toBe(2);
  expect(r.out).toBe("");
  expect(r.err.split("\n"), r.err).toHaveLength(1);
  expect(r.err).toMatch(message);
}

describe("input errors", () => {
  it("flag values out of range or not decimal name the flag and point at the help", async () => {
    const train = ["train", "--model", "tsn", "--data", tmp];
    await oneLine([...train, "--momentum", "5"], /^blvnet: --momentum must be a number in \[0, 1\), got "5"; see `blvnet train --help`$/);
    await oneLine([...train, "--lr", "0"], /^blvnet: --lr must be a number > 0, got "0"; see `blvnet train --help`$/);
    await oneLine([...train, "--frames", "0x10"], /^blvnet: --frames must be a positive integer, got "0x10"; see `blvnet train --help`$/);
    await oneLine(["data", "synth", join(tmp, "s"), "--train", "1e1"], /--train must be .*got "1e1"; see `blvnet data synth --help`$/);
  });

  it("commander's own errors are one line too", async () => {
    await oneLine(
      ["train", "--model", "tsn", "--data", tmp, "--nope"],
      /^blvnet: unknown option '--nope' \(Did you mean --opt\?\); see `blvnet train --help`$/,
    );
    await oneLine(["bogus"], /^blvnet: unknown command 'bogus'; see `blvnet --help`$/);
    await oneLine(["verify", "--weights"], /^blvnet: option '--weights <file>' argument missing; see `blvnet verify --help`$/);
  });

  it("the library refuses momentum outside [0, 1) before training (e.g. from a sweep)", async () => {
    const { train } = await import("@blvnet/train");
    await expect(train({ model: { name: "tsn" }, data: { dir: tmp }, optimizer: { momentum: 5 } })).rejects.toThrow(
      /^optimizer: momentum must be in \[0, 1\), got 5$/,
    );
  });

  it("reproduce checks the speed backend and every job of a --spec before generating data or writing rows", async () => {
    const out = join(tmp, "run");
    await oneLine(
      ["reproduce", "--quick", "--speed-backend", "foo", "--out", out, "--no-publish"],
      /^blvnet: --backend foo: choose one of /,
    );
    const spec = join(tmp, "bad.json");
    writeFileSync(
      spec,
      JSON.stringify([
        {
          name: "acc",
          kinds: ["accuracy"],
          frames: [8],
          sizes: [64],
          batches: [8],
          backends: ["wasm"],
          models: [{ model: "tsm", options: { shiftDiv: 0 } }],
        },
      ]),
    );
    await oneLine(
      ["reproduce", "--spec", spec, "--data", join(tmp, "nodata"), "--out", out, "--no-publish"],
      /^blvnet: sweep "acc", job accuracy\|tsm\|.*: option shiftDiv of model "tsm" must be/,
    );
    expect(existsSync(out)).toBe(false);
  });
});
