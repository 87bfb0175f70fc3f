/** `blvnet reproduce`: the full reproduction as resumable, shardable sweeps, then publish (bench's `reproduce`). */
import { basename, join } from "node:path";
import { loadSweepFile, parseShard, REPRODUCE_PARTS, type ReproducePart, reproduce } from "@blvnet/bench";
import { ENGINES, type EngineKind } from "@blvnet/train";
import { type Command, Option } from "commander";
import { choice, choiceList, int, intList } from "../flags/parsers.js";

interface ReproduceFlags {
  quick?: boolean;
  gpu?: boolean;
  peerSrc?: string[];
  peerPython?: string;
  spec?: string;
  data?: string;
  out?: string;
  publish?: string | false;
  shard?: string;
  parts: ReproducePart[];
  seeds: number[];
  speedBackend?: string;
  engine?: EngineKind;
  epochs?: number;
  progress: boolean;
}

export function registerReproduceCommand(program: Command): void {
  const all = REPRODUCE_PARTS.join(",");
  program
    .command("reproduce")
    .description("run the reproduction: FLOPs/params/memory tables, speed sweeps, accuracy on a dataset; then publish")
    .option("--quick", "a small version of every part (< 10 minutes on a 2-core CPU)")
    .option(
      "--gpu",
      "the GPU reproduction: bLVNet-TAM-50/101 f8x2..f32x2, TSM/TSN-R50 8..64 frames, 224x224, batch 1 and 8, inference + training step + peak GPU memory on --speed-backend (default ort-webgpu); stops starting jobs after 7 minutes (rerun to continue); publishes to results/published-gpu",
    )
    .option(
      "--peer-src <dir...>",
      "checkouts of the official code (IBM/bLVNet-TAM, mit-han-lab/temporal-shift-module): with --gpu also time it on CUDA (rows pytorch-cuda); specs may name backends pytorch / pytorch-cuda",
    )
    .option("--peer-python <exe>", "Python with PyTorch for the official code (default: $BLVNET_PYTHON, else python3)")
    .option(
      "--spec <file.json>",
      "run these sweep specifications (SweepSpec[] as JSON, see packages/bench/src/sweep/spec.ts) instead of the built-in reproduction",
    )
    .option("--data <dir>", "dataset folder for the accuracy part (default: the synthetic temporal benchmark, generated on the fly)")
    .option(
      "--out <dir>",
      "run directory (default results/runs/reproduce or results/runs/reproduce-quick); finished rows there are skipped",
    )
    .option("--publish <dir>", "publish the rows here when done (default results/published or results/published-quick)")
    .option("--no-publish", "do not publish (e.g. for a shard; publish the shards together later)")
    .option("--shard <i/n>", "run only the i-th of n deterministic slices of every sweep (0-based)")
    .addOption(
      new Option("--parts <list>", `comma-separated parts: ${all}`)
        .argParser(choiceList("--parts", REPRODUCE_PARTS))
        .default([...REPRODUCE_PARTS], `"${all}"`),
    )
    .addOption(new Option("--seeds <list>", "seeds of the accuracy runs").argParser(intList("--seeds", { min: 0 })).default([0], '"0"'))
    .option(
      "--speed-backend <name>",
      "backend of the speed sweep: ort, ort-webgpu, ort-cuda, wasm, cpu, tensorflow (default: ort, or the --backend given)",
    )
    .option(
      "--engine <name>",
      "training engine of the accuracy part: tfjs or ort (default: ort, or tfjs when --backend names a tfjs backend)",
      choice("--engine", ENGINES),
    )
    .option("--epochs <n>", "training epochs of the accuracy part (default: the CPU recipe's 10; 30 for the 112 px run)", int("--epochs"))
    .option("--no-progress", "no progress bars")
    .addHelpText(
      "after",
      "\nResults: <out>/results.csv (one row per job, with provenance), training runs in <out>/train, evaluations in <out>/eval.\nA killed run continues where it stopped when started again with the same --out.",
    )
    .action(async function (this: Command, f: ReproduceFlags) {
      const s = await reproduce({
        quick: f.quick,
        gpu: f.gpu,
        peerSrc: f.peerSrc,
        peerPython: f.peerPython,
        specs: f.spec ? loadSweepFile(f.spec) : undefined,
        data: f.data,
        out: f.out,
        publish: f.publish,
        shard: parseShard(f.shard),
        parts: f.parts,
        seeds: f.seeds,
        speedBackend: f.speedBackend,
        engine: f.engine,
        epochs: f.epochs,
        backend: this.optsWithGlobals().backend as string | undefined,
        progress: f.progress,
      });
      console.error(
        `reproduce: ${s.done} rows done, ${s.skipped} already there, ${s.failed.length} failed; ${join(s.outDir, "results.csv")}`,
      );
      if (s.published)
        console.log(
          `published ${s.published.rows.length} rows to ${s.published.dir}: ${s.published.files.map((p) => basename(p)).join(", ")}`,
        );
      if (s.failed.length) process.exitCode = 1;
    });
}
