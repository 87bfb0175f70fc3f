import { describe, expect, it } from "vitest";
import { bool, choice, describeOption, float, int, type OptionsOf, resolveOptions, UserError } from "./options.js";

const schema = {
  depth: int(50, "depth", { choices: [50, 101] }),
  frames: int(16, "frames", { min: 2, parity: "even" }),
  dropout: float(0.5, "dropout", { min: 0, below: 1 }),
  place: choice(["a", "b"], "a", "where"),
  fast: bool(false, "fast"),
};

describe("option schemas", () => {
  it("fill defaults and coerce command-line strings into the declared types", () => {
    const o: OptionsOf<typeof schema> = resolveOptions("m", schema, { frames: "8", fast: "true", place: "b" });
    expect(o).toEqual({ depth: 50, frames: 8, dropout: 0.5, place: "b", fast: true });
  });

  it.each([
    [{ frames: 7 }, 'option frames of model "m" must be an even integer >= 2, got 7'],
    [{ frames: "x" }, 'option frames of model "m" must be an even integer >= 2, got "x"'],
    [{ dropout: 1 }, 'option dropout of model "m" must be a number in [0, 1), got 1'],
    [{ depth: 34 }, 'option depth of model "m" must be one of 50, 101, got 34'],
    [{ place: "c" }, 'option place of model "m" must be one of a, b, got "c"'],
    [{ widht: 3 }, 'model "m" has no option "widht"; options: depth, frames, dropout, place, fast'],
  ])("rejects %j with one line naming model, option and range", (given, message) => {
    expect(() => resolveOptions("m", schema, given)).toThrow(new UserError(message));
  });

  it("runs the cross-field check after the per-option ones", () => {
    const check = (o: OptionsOf<typeof schema>) => (o.frames > 8 && o.fast ? "fast needs frames <= 8" : undefined);
    expect(() => resolveOptions("m", schema, { fast: true }, check)).toThrow('model "m": fast needs frames <= 8');
    expect(resolveOptions("m", schema, { fast: true, frames: 8 }, check).frames).toBe(8);
  });

  it("describes each option for --help", () => {
    expect(describeOption({ name: "frames", ...schema.frames })).toBe("--frames <int>  frames (default 16; an even integer >= 2)");
    expect(describeOption({ name: "depth", ...schema.depth })).toBe("--depth <int> {50|101}  depth (default 50)");
  });
});
