// Mutated inputs for every trusted reader load or fail with a one-line UserError (a short run; the
// long one is `npm run fuzz`, see fuzz.ts).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fuzzTargets, outcome } from "./targets.js";

describe("fuzzed readers load or refuse with one line", () => {
  for (const target of fuzzTargets()) {
    it(`${target.name}`, () => {
      const seen = { loaded: 0, refused: 0 };
      fc.assert(
        fc.property(target.inputs, (input) => {
          seen[outcome(target, input)]++;
        }),
        { numRuns: 150, seed: 20261203 },
      );
      // the mutations must reach the parser: some inputs are refused
      expect(seen.refused).toBeGreaterThan(0);
    });
  }
});
