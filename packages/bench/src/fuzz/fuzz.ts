/**
 * The long fuzz run: `npm run fuzz -- [--runs 10000] [--target NAME] [--seed N]`. For each reader it
 * prints the inputs tried, how many loaded and how many were refused with a one-line error, the
 * slowest read and the time taken; a finding prints the shrunk counterexample and exits 1.
 */
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import fc from "fast-check";
import { fuzzTargets, outcome } from "./targets.js";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "10000" }, target: { type: "string" }, seed: { type: "string" } },
});
const runs = Number(values.runs);
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
let failed = false;
console.log(`fuzz: ${runs} inputs per reader, seed ${seed}`);
for (const target of fuzzTargets().filter((t) => !values.target || t.name === values.target)) {
  const seen = { loaded: 0, refused: 0 };
  let slowest = 0;
  const t0 = performance.now();
  const report = fc.check(
    fc.property(target.inputs, (input) => {
      const s = performance.now();
      seen[outcome(target, input)]++;
      slowest = Math.max(slowest, performance.now() - s);
    }),
    { numRuns: runs, seed },
  );
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(
    `${target.name.padEnd(12)} ${report.numRuns} inputs: ${seen.loaded} loaded, ${seen.refused} refused; slowest read ${slowest.toFixed(1)} ms; ${secs} s`,
  );
  if (report.failed) {
    failed = true;
    console.log(
      `  FINDING: ${String(report.errorInstance ?? "")}\n  counterexample path ${report.counterexamplePath} (rerun with --seed ${seed} --target ${target.name})`,
    );
  }
}
process.exit(failed ? 1 : 0);
