/**
 * The full reproduction (FLOPs/params/memory tables, speed sweeps, accuracy on a dataset) as
 * resumable, shardable sweeps, then `publish`. `quick` is the README's main command.
 */
import { basename, join, resolve } from "node:path";
import { UserError } from "@blvnet/core";
import { synthesize } from "@blvnet/data";
import { isOrtBackend } from "@blvnet/engine-onnx";
import { requestedBackend } from "@blvnet/engine-tfjs";
import type { EngineKind, LogSink } from "@blvnet/train";
import { type PublishResult, publish } from "../publish/publish.js";
import { accuracyRunner } from "../runners/accuracy.js";
import { jobModel } from "../runners/model.js";
import { runProfile } from "../runners/profile.js";
import { isPeerBackend, speedRunner } from "../runners/speed.js";
import { checkSpeedBackend } from "../speed/measure.js";
import { gpuSpeedSpec } from "../sweep/gpu-spec.js";
import { accuracySpec, hardAccuracySpec, profileSpec, speedSpec } from "../sweep/reproduce.js";
import { runSweep, type SweepSummary } from "../sweep/run.js";
import { expandSweep, type SweepSpec } from "../sweep/spec.js";
import { trainBackend } from "./backend.js";

export const REPRODUCE_PARTS = ["profile", "speed", "accuracy"] as const;
export type ReproducePart = (typeof REPRODUCE_PARTS)[number];

export interface ReproduceConfig {
  /** A small version of every part (< 10 minutes on a 2-core CPU). */
  quick?: boolean;
  /**
   * The GPU reproduction (sweep/gpu-spec.ts): speed, training step and peak GPU memory on `speedBackend`
   * (default ort-webgpu), plus the official code on CUDA with `peerSrc`; out results/runs/reproduce-gpu,
   * published to results/published-gpu. Starts no job after GPU_BUDGET_S seconds (gpu-spec.ts).
   */
  gpu?: boolean;
  /** Checkouts of the official code for pytorch / pytorch-cuda speed jobs (and --gpu). */
  peerSrc?: string[];
  peerPython?: string;
  /** Run these sweeps (their kinds filtered by `parts`) instead of the built-in reproduction. */
  specs?: SweepSpec[];
  /** Dataset folder of the accuracy part (default: the synthetic temporal benchmark, generated on first use). */
  data?: string;
  /** Run directory (default results/runs/reproduce or results/runs/reproduce-quick); finished rows there are skipped. */
  out?: string;
  /** Publish here when done (default results/published or results/published-quick); false: do not. Shards never publish. */
  publish?: string | false;
  /** Only the i-th of n deterministic slices of every sweep. */
  shard?: { index: number; count: number };
  parts?: ReproducePart[];
  /** Seeds of the accuracy runs. */
  seeds?: number[];
  /** Backend of the speed sweep (default: ort, or `backend` when given). */
  speedBackend?: string;
  /** Training engine of the accuracy part (default ort, or tfjs when `backend` names a tfjs backend). */
  engine?: EngineKind;
  /** Training epochs of the accuracy part (default: the spec's settings.epochs, else 10 quick, 30 full). */
  epochs?: number;
  /** The global backend: tfjs backend of the training runs, default of the speed sweep. */
  backend?: string;
  progress?: boolean;
  log?: LogSink;
}

export interface ReproduceSummary {
  outDir: string;
  sweeps: SweepSummary[];
  done: number;
  skipped: number;
  failed: SweepSummary["failed"];
  /** Where and what was published, or null. */
  published: (PublishResult & { dir: string }) | null;
}

/** The synthetic benchmark on disk (hardest level), generated on first use (same bytes for the same settings). */
async function syntheticData(quick: boolean, log: LogSink): Promise<string> {
  const dir = resolve("datasets", quick ? "synthetic-quick" : "synthetic");
  // quick: two time-reversed pairs, few clips (a smoke test of the whole path, minutes on a CPU)
  const r = await synthesize(
    dir,
    quick
      ? { classes: ["move-left", "move-right", "grow", "shrink"], train: 16, val: 6, frames: 8, size: 64, seed: 0, level: 4 }
      : { train: 48, val: 12, frames: 16, size: 112, seed: 0, level: 4 },
  );
  log(`${r.reused ? "using" : "generated"} synthetic benchmark ${dir} (${r.clips} clips${r.reused ? "" : `, ${r.seconds.toFixed(1)} s`})`);
  return dir;
}

/**
 * Every job of the sweeps must be buildable before any work starts (no data generated, no row
 * written): its model and options, and a known backend for its kind. One line on the first problem.
 */
export function checkSpecs(specs: SweepSpec[]): void {
  for (const spec of specs) {
    for (const job of expandSweep(spec)) {
      const where = `sweep "${spec.name}", job ${job.key}`;
      try {
        if (job.kind === "speed" && !isPeerBackend(job.backend)) checkSpeedBackend(job.backend);
        jobModel(job);
      } catch (e) {
        if (e instanceof UserError) throw new UserError(`${where}: ${e.message}`);
        throw e;
      }
    }
  }
}

export async function reproduce(config: ReproduceConfig = {}): Promise<ReproduceSummary> {
  const log = config.log ?? ((m: string) => console.error(m));
  const quick = !!config.quick;
  const gpu = !!config.gpu;
  if (gpu && config.quick) throw new UserError("--gpu and --quick do not combine (the GPU sweep has one size)");
  const parts = gpu ? ["speed" as const] : (config.parts ?? [...REPRODUCE_PARTS]);
  const shard = config.shard ?? { index: 0, count: 1 };
  const seeds = config.seeds ?? [0];
  // the ort engine (2-3x faster on a CPU) unless a tfjs backend is asked for by name
  const engine = config.engine ?? (config.backend && !isOrtBackend(config.backend) ? "tfjs" : "ort");
  // accuracy runs train on a tfjs backend (or the ort engine); record the one actually used
  const trainedOn = await trainBackend(engine, config.backend);
  const speedBackend = checkSpeedBackend(config.speedBackend ?? (gpu ? "ort-webgpu" : (requestedBackend(config.backend) ?? "ort")));
  if (gpu && !/webgpu|cuda/.test(speedBackend))
    throw new UserError(`--gpu: --speed-backend ${speedBackend} is not a GPU backend (ort-webgpu or ort-cuda)`);
  const name = gpu ? "reproduce-gpu" : quick ? "reproduce-quick" : "reproduce";
  const outDir = resolve(config.out ?? join("results", "runs", name));
  const dataset = config.data ? basename(resolve(config.data)) : "synthetic";
  const o = { quick, dataset, speedBackend, trainBackend: trainedOn, seeds };

  // accuracy: the CPU recipe on the in-memory synthetic benchmark; the full run adds the hardest level at 112 px (GPU scale)
  const builtIn: Record<ReproducePart, SweepSpec[]> = {
    profile: [profileSpec()],
    speed: [gpu ? gpuSpeedSpec({ backend: speedBackend, peer: !!config.peerSrc?.length }) : speedSpec(o)],
    accuracy: config.data
      ? [{ ...hardAccuracySpec(o), name: "accuracy" }]
      : quick
        ? [accuracySpec(o)]
        : [accuracySpec(o), hardAccuracySpec(o)],
  };
  const specs = config.specs ? config.specs.filter((sp) => sp.kinds.some((k) => parts.includes(k))) : parts.flatMap((p) => builtIn[p]);
  if (specs.some((sp) => sp.kinds.includes("speed") && sp.backends.some(isPeerBackend)) && !config.peerSrc?.length) {
    throw new UserError(
      "speed jobs on pytorch / pytorch-cuda need --peer-src (checkouts of IBM/bLVNet-TAM and/or mit-han-lab/temporal-shift-module)",
    );
  }
  checkSpecs(specs);
  const started = Date.now();
  const onDisk = specs.some((sp) => sp.kinds.includes("accuracy") && sp.settings?.synthetic !== true);
  const dataDir = parts.includes("accuracy") && onDisk ? (config.data ? resolve(config.data) : await syntheticData(quick, log)) : "";
  const sweeps: SweepSummary[] = [];
  for (const spec of specs) {
    const set = spec.settings ?? {};
    const runners = {
      profile: runProfile,
      speed: speedRunner({
        warmup: Number(set.warmup ?? 1),
        iters: Number(set.iters ?? (quick ? 3 : 10)),
        train: set.train === true,
        peerSrc: config.peerSrc,
        peerPython: config.peerPython,
        deadline: set.budgetS !== undefined ? started + 1000 * Number(set.budgetS) : undefined,
      }),
      accuracy: accuracyRunner({
        outDir,
        dataDir,
        synthetic:
          set.synthetic === true
            ? {
                level: Number(set.level ?? 0),
                classes: set.classes ? String(set.classes).split(",") : undefined,
                perClass: Number(set.perClass),
                valPerClass: Number(set.valPerClass ?? 30),
                fresh: set.fresh !== false,
              }
            : undefined,
        epochs: config.epochs ?? Number(set.epochs ?? (quick ? 10 : 30)),
        lr: Number(set.lr ?? 0.01),
        warmupEpochs: Number(set.warmup ?? 0),
        dropout: Number(set.dropout ?? 0.5),
        engine,
        backend: trainedOn === "ort" ? undefined : trainedOn,
        progress: config.progress ?? false,
      }),
    };
    sweeps.push(await runSweep(spec, { outDir, shard, runners, progress: config.progress, log }));
  }
  let published: ReproduceSummary["published"] = null;
  if (config.publish !== false && shard.count === 1) {
    const dir = resolve(config.publish ?? join("results", gpu ? "published-gpu" : quick ? "published-quick" : "published"));
    published = { dir, ...publish({ runDirs: [outDir], outDir: dir }) };
  }
  return {
    outDir,
    sweeps,
    done: sweeps.reduce((a, s) => a + s.done, 0),
    skipped: sweeps.reduce((a, s) => a + s.skipped, 0),
    failed: sweeps.flatMap((s) => s.failed),
    published,
  };
}
