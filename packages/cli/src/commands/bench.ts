/**
 * `blvnet bench speed`: inference latency, clips/s, training-step time and peak memory (host; GPU where sampled) of
 * one model on one engine, optionally side by side with the official PyTorch code (--peer pytorch).
 */
import { loadavg } from "node:os";
import { appendRows, checkSpeedBackend, PEER_DEVICES, PEER_MODELS, type PeerDevice, runSpeed, type SpeedRowContext } from "@blvnet/bench";
import { fillDeterministic, UserError } from "@blvnet/core";
import { defaultThreads } from "@blvnet/engine-onnx";
import { requestedBackend } from "@blvnet/engine-tfjs";
import { buildModelFromArgs, type ModelArgs } from "@blvnet/models";
import { deviceName } from "@blvnet/train";
import type { Command } from "commander";
import { addModelOptions } from "../flags/model-args.js";
import { int } from "../flags/parsers.js";

interface SpeedArgs extends ModelArgs {
  frames?: string;
  size?: string;
  batch: string;
  warmup: string;
  iters: string;
  threads?: string;
  train: boolean;
  seed: string;
  out?: string;
  peer?: string;
  peerSrc?: string;
  peerPython?: string;
  rounds?: string;
  peerDevice: string;
  backend?: string;
}

/** --frames/--size become model options; they must not contradict an --opt of the same name. */
function withShapeOpts(args: SpeedArgs): ModelArgs {
  const opt = [...(args.opt ?? [])];
  for (const [flag, key, v] of [
    ["--frames", "frames", args.frames],
    ["--size", "size", args.size],
  ] as const) {
    if (v === undefined) continue;
    int(flag)(v);
    const given = opt.find((o) => o.split("=")[0].trim() === key);
    if (given && given.split("=")[1].trim() !== v) throw new UserError(`${flag} ${v} contradicts --opt ${given}`);
    if (!given) opt.push(`${key}=${v}`);
  }
  return { ...args, opt };
}

const threadsLabel = (n: number) => `${n} thread${n === 1 ? "" : "s"}`;
const ms = (v: number) => `${v.toFixed(1)} ms`;
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

function printResult(
  label: string,
  r: {
    latency: { mean: number; p50: number; sd: number; samples: number };
    clipsPerS: number;
    trainStepMs?: number;
    peakRssBytes: number;
    peakTensorBytes?: number;
  },
): void {
  const l = r.latency;
  console.log(
    `  ${label.padEnd(22)} latency mean ${ms(l.mean)}  p50 ${ms(l.p50)}  sd ${ms(l.sd)}  (${l.samples} runs)  ${r.clipsPerS.toFixed(2)} clips/s`,
  );
  const mem = [`peak RSS ${mib(r.peakRssBytes)}`];
  if (r.peakTensorBytes !== undefined) mem.push(`peak tensors ${mib(r.peakTensorBytes)}`);
  if (r.trainStepMs !== undefined) mem.unshift(`train step ${ms(r.trainStepMs)}`);
  console.log(`  ${"".padEnd(22)} ${mem.join("  ")}`);
}

export function registerBenchCommand(program: Command): void {
  const bench = program.command("bench").description("benchmarks: speed and memory of a model on an engine (see `bench speed --help`)");
  const speed = bench
    .command("speed")
    .description("inference latency and clips/s, a training step, peak memory; one CSV row per engine measured")
    .option("--frames <n>", "frames per clip (sets the model option frames)")
    .option("--size <n>", "input height = width (sets the model option size)")
    .option("--batch <n>", "clips per batch", "1")
    .option("--warmup <n>", "untimed runs first", "3")
    .option("--iters <n>", "timed runs", "10")
    .option("--threads <n>", "compute threads (onnxruntime intra-op / wasm pool / PyTorch peer); default: all cores")
    .option("--no-train", "skip the training-step measurement")
    .option("--seed <n>", "seed of dropout masks and labels (inputs and default weights are refgen-v1)", "0")
    .option("--out <file>", "append the rows to this results CSV (rows with the same key are replaced)")
    .option("--peer <impl>", "also run the official implementation: pytorch")
    .option(
      "--peer-src <dir>",
      "checkout of the official code (IBM/bLVNet-TAM for blvnet-tam; mit-han-lab/temporal-shift-module for tsm/tsn)",
    )
    .option("--peer-python <exe>", "Python with PyTorch for the peer (default: $BLVNET_PYTHON, else python3)")
    .option(
      "--peer-device <name>",
      "with --peer: where the official code runs: cpu or cuda (synchronized timing, strict fp32, cudnn.benchmark recorded, torch.cuda.max_memory_allocated as peak_gpu_bytes)",
      "cpu",
    )
    .option(
      "--rounds <n>",
      "with --peer: alternate our timed runs and the peer's in n chunks, so both see the same machine load (default: --iters, run by run)",
    );
  addModelOptions(speed).addHelpText(
    "after",
    [
      "",
      "GPU backends also report where onnxruntime placed the nodes (CPU fallbacks) and the peak GPU memory (nvidia-smi).",
      "Engine: the global --backend: ort (onnxruntime CPU, default) | ort-webgpu (WebGPU EP: Vulkan/Metal/D3D12) | ort-cuda | tensorflow | wasm | cpu.",
      "Weights default to refgen-v1 (deterministic fill); speed does not depend on the values.",
      "Example: blvnet bench speed --model blvnet-tam --opt depth=50 --frames 16 --size 224 --batch 1 --backend ort --threads 2 \\",
      "           --peer pytorch --peer-src /path/to/bLVNet-TAM --out results/speed.csv",
    ].join("\n"),
  );
  speed.action(async (args: SpeedArgs, cmd: Command) => {
    const backend = checkSpeedBackend(requestedBackend(cmd.optsWithGlobals().backend as string | undefined) ?? "ort");
    const batch = int("--batch")(args.batch);
    const warmup = int("--warmup", { min: 0 })(args.warmup);
    const iters = int("--iters")(args.iters);
    const threads = args.threads !== undefined ? int("--threads")(args.threads) : defaultThreads();
    const seed = int("--seed", { min: 0 })(args.seed);
    if (args.peer !== undefined && args.peer !== "pytorch") throw new UserError(`--peer ${args.peer}: the only peer is pytorch`);
    if (!(PEER_DEVICES as readonly string[]).includes(args.peerDevice))
      throw new UserError(`--peer-device ${args.peerDevice}: choose one of ${PEER_DEVICES.join(", ")}`);
    if (args.peer && !args.peerSrc) throw new UserError("--peer pytorch needs --peer-src <dir> (a checkout of the official code)");
    if (args.peer && args.model && !PEER_MODELS[args.model]) {
      throw new UserError(
        `--peer pytorch: no official implementation for "${args.model}"; peers exist for ${Object.keys(PEER_MODELS).join(", ")}`,
      );
    }

    const { model } = buildModelFromArgs(withShapeOpts(args));
    if (!args.weights) fillDeterministic(model);
    const ctx: SpeedRowContext = { modelName: args.model!, model, batch, seed, weights: args.weights ?? "refgen-v1" };
    const { frames, size } = model.inputSpec;
    console.log(
      `${model.id}: batch ${batch} x ${frames} frames x ${size}x${size}, ${deviceName()} (load ${loadavg()[0].toFixed(2)}), weights ${ctx.weights === "refgen-v1" ? "refgen-v1 (deterministic fill)" : ctx.weights}`,
    );

    const { ours, peer, ratios, rows } = await runSpeed({
      ...ctx,
      backend,
      threads,
      warmup,
      iters,
      train: args.train,
      peer: args.peer
        ? {
            src: args.peerSrc!,
            python: args.peerPython,
            rounds: args.rounds !== undefined ? int("--rounds")(args.rounds) : undefined,
            device: args.peerDevice as PeerDevice,
          }
        : undefined,
    });
    printResult(`${backend} (${threadsLabel(ours.threads)})`, ours);
    for (const n of ours.notes) console.log(`  ${"".padEnd(22)} ${n}`);
    if (peer && ratios) {
      printResult(`pytorch (${threadsLabel(peer.info.threads)})`, {
        latency: peer.latency,
        clipsPerS: (1000 * batch) / peer.latency.mean,
        trainStepMs: peer.trainStep?.mean,
        peakRssBytes: peer.info.peak_rss_bytes,
      });
      console.log(
        `  ${"".padEnd(22)} official code from ${peer.source}, torch ${peer.info.torch_version}; runs interleaved with ours (load ${loadavg()[0].toFixed(2)})`,
      );
      console.log(
        `  ratio (pytorch / ${backend} mean latency): ${ratios.latency.toFixed(2)}x (${ratios.latency > 1 ? `${backend} faster` : `${backend} slower`})`,
      );
      if (ratios.trainStep !== undefined) console.log(`  train-step ratio (pytorch / ${backend}): ${ratios.trainStep.toFixed(2)}x`);
    }

    if (args.out) {
      appendRows(args.out, rows);
      console.log(`wrote ${rows.length} row${rows.length > 1 ? "s" : ""} to ${args.out}`);
    }
  });
}
