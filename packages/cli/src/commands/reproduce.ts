/**
 * `blvnet reproduce`: the full reproduction (FLOPs/params/memory tables, speed sweeps, accuracy on a
 * dataset) as resumable, shardable sweeps, then `publish`. `--quick` is the README's main command.
 */
import { basename, join, resolve } from "node:path";
import type { Command } from "commander";
import { initBackend, requestedBackend } from "@blvnet/engine-tfjs";
import { isOrtBackend } from "@blvnet/engine-onnx";
import { UserError } from "@blvnet/core";
import { synthesize } from "@blvnet/data";
import { publish } from "@blvnet/bench";
import { accuracySpec, profileSpec, speedSpec } from "@blvnet/bench";
import { runSweep, type SweepSummary } from "@blvnet/bench";
import { accuracyRunner } from "@blvnet/bench";
import { runProfile } from "@blvnet/bench";
import { speedRunner } from "@blvnet/bench";
import { loadSweepFile, parseShard, type SweepSpec } from "@blvnet/bench";

const PARTS = ["profile", "speed", "accuracy"] as const;
type Part = (typeof PARTS)[number];

interface ReproduceArgs {
  quick?: boolean;
  spec?: string;
  data?: string;
  out?: string;
  publish?: string | false;
  shard?: string;
  parts: string;
  seeds: string;
  speedBackend?: string;
  engine: string;
  epochs?: number;
  progress: boolean;
}

export function parseList<T extends string>(flag: string, value: string, allowed: readonly T[]): T[] {
  const items = value.split(",").map((s) => s.trim()).filter(Boolean);
  for (const i of items) if (!(allowed as readonly string[]).includes(i)) throw new UserError(`${flag}: "${i}" is not one of ${allowed.join(", ")}`);
  return items as T[];
}

export function parseSeeds(value: string): number[] {
  const seeds = value.split(",").map((s) => Number(s.trim()));
  if (!seeds.length || seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new UserError(`--seeds must be comma-separated non-negative integers, got "${value}"`);
  return seeds;
}

/** The synthetic benchmark, generated on first use (same bytes for the same settings). */
async function syntheticData(quick: boolean): Promise<string> {
  const dir = resolve("datasets", quick ? "synthetic-quick" : "synthetic");
  // quick: two time-reversed pairs, few clips (a smoke test of the whole path, minutes on a CPU)
  const r = await synthesize(
    dir,
    quick ? { classes: ["move-left", "move-right", "grow", "shrink"], train: 16, val: 6, frames: 8, size: 64, seed: 0 } : { train: 48, val: 12, frames: 16, size: 112, seed: 0 },
  );
  console.error(`${r.reused ? "using" : "generated"} synthetic benchmark ${dir} (${r.clips} clips${r.reused ? "" : `, ${r.seconds.toFixed(1)} s`})`);
  return dir;
}

export function registerReproduceCommand(program: Command): void {
  program
    .command("reproduce")
    .description("run the reproduction: FLOPs/params/memory tables, speed sweeps, accuracy on a dataset; then publish")
    .option("--quick", "a small version of every part (< 10 minutes on a 2-core CPU)")
    .option("--spec <file.json>", "run these sweep specifications (SweepSpec[] as JSON, see packages/bench/src/sweep/spec.ts) instead of the built-in reproduction")
    .option("--data <dir>", "dataset folder for the accuracy part (default: the synthetic temporal benchmark, generated on the fly)")
    .option("--out <dir>", "run directory (default results/runs/reproduce or results/runs/reproduce-quick); finished rows there are skipped")
    .option("--publish <dir>", "publish the rows here when done (default results/published or results/published-quick)")
    .option("--no-publish", "do not publish (e.g. for a shard; publish the shards together later)")
    .option("--shard <i/n>", "run only the i-th of n deterministic slices of every sweep (0-based)")
    .option("--parts <list>", `comma-separated parts: ${PARTS.join(",")}`, PARTS.join(","))
    .option("--seeds <list>", "seeds of the accuracy runs", "0")
    .option("--speed-backend <name>", "backend of the speed sweep: ort, ort-cuda, wasm, cpu, tensorflow (default: ort, or the --backend given)")
    .option("--engine <name>", "training engine of the accuracy part: tfjs or ort", "tfjs")
    .option("--epochs <n>", "training epochs of the accuracy part (default 4 quick, 30 full)", (v) => Number(v))
    .option("--no-progress", "no progress bars")
    .addHelpText("after", "\nResults: <out>/results.csv (one row per job, with provenance), training runs in <out>/train, evaluations in <out>/eval.\nA killed run continues where it stopped when started again with the same --out.")
    .action(async function (this: Command, args: ReproduceArgs) {
      const code = await runReproduce(args, this.optsWithGlobals().backend as string | undefined);
      if (code) process.exitCode = code;
    });
}

export async function runReproduce(args: ReproduceArgs, backend?: string): Promise<number> {
  const quick = !!args.quick;
  const parts = parseList("--parts", args.parts, PARTS);
  const shard = parseShard(args.shard);
  const seeds = parseSeeds(args.seeds);
  const asked = requestedBackend(backend);
  // accuracy runs train on a tfjs backend (or the ort engine); record the one actually used
  const trainBackend = args.engine === "ort" ? "ort" : await initBackend(asked && !isOrtBackend(asked) ? asked : undefined);
  const speedBackend = args.speedBackend ?? (asked ?? "ort");
  if (args.epochs !== undefined && !(Number.isInteger(args.epochs) && args.epochs >= 1)) throw new UserError(`--epochs must be a positive integer`);
  const outDir = resolve(args.out ?? join("results", "runs", quick ? "reproduce-quick" : "reproduce"));
  const dataDir = parts.includes("accuracy") ? (args.data ? resolve(args.data) : await syntheticData(quick)) : "";
  const dataset = args.data ? basename(dataDir) : "synthetic";
  const o = { quick, dataset, speedBackend, trainBackend, seeds };

  const builtIn: Record<Part, SweepSpec> = { profile: profileSpec(), speed: speedSpec(o), accuracy: accuracySpec(o) };
  const specs = args.spec ? loadSweepFile(args.spec).filter((sp) => sp.kinds.some((k) => parts.includes(k))) : parts.map((p) => builtIn[p]);
  const summaries: SweepSummary[] = [];
  for (const spec of specs) {
    const set = spec.settings ?? {};
    const runners = {
      profile: runProfile,
      speed: speedRunner({ warmup: Number(set.warmup ?? 1), iters: Number(set.iters ?? (quick ? 3 : 10)), train: set.train === true }),
      accuracy: accuracyRunner({
        outDir,
        dataDir,
        epochs: args.epochs ?? Number(set.epochs ?? (quick ? 4 : 30)),
        lr: Number(set.lr ?? 0.01),
        dropout: Number(set.dropout ?? 0.5),
        engine: args.engine,
        backend: trainBackend === "ort" ? undefined : trainBackend,
        progress: args.progress,
      }),
    };
    summaries.push(await runSweep(spec, { outDir, shard, runners, progress: args.progress }));
  }
  const failed = summaries.flatMap((s) => s.failed);
  console.error(`reproduce: ${summaries.reduce((a, s) => a + s.done, 0)} rows done, ${summaries.reduce((a, s) => a + s.skipped, 0)} already there, ${failed.length} failed; ${join(outDir, "results.csv")}`);
  if (args.publish !== false && shard.count === 1) {
    const pubDir = resolve(args.publish ?? join("results", quick ? "published-quick" : "published"));
    const res = publish({ runDirs: [outDir], outDir: pubDir });
    console.log(`published ${res.rows.length} rows to ${pubDir}: ${res.files.map((f) => basename(f)).join(", ")}`);
  }
  return failed.length ? 1 : 0;
}
