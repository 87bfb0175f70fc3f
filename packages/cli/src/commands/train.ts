/**
 * `blvnet train`: SGD training of any registered model on a dataset folder (official list-file
 * layout or the synthetic benchmark), with resumable checkpoints. See `blvnet train --help`.
 */

import { join } from "node:path";
import { UserError } from "@blvnet/core";
import { ORT_DEVICES, type OrtDevice } from "@blvnet/engine-onnx";
import { ENGINES, type EngineKind, lrStepsProblem, SCHEDULERS, type SchedulerKind, TRAIN_DEFAULTS, train } from "@blvnet/train";
import { type Command, Option } from "commander";
import { invocation } from "../flags/invocation.js";
import { addModelOptions, type ModelFlags, modelConfig } from "../flags/model-args.js";
import { choice, int, num, numList } from "../flags/parsers.js";
import { addSampleOptions, type SampleFlags } from "../flags/sample-args.js";

interface TrainFlags extends ModelFlags, SampleFlags {
  data: string;
  split: string;
  valSplit?: string;
  epochs: number;
  batch: number;
  lr: number;
  lrScheduler: SchedulerKind;
  lrSteps: number[];
  warmupEpochs: number;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
  clipGrad?: number;
  seed: number;
  out?: string;
  resume?: boolean;
  maxSteps?: number;
  saveEvery?: number;
  keep: number;
  engine: EngineKind;
  device: OrtDevice;
  progress: boolean;
}

function lrSteps(value: string): number[] {
  const steps = numList("--lr-steps")(value);
  const problem = lrStepsProblem(steps);
  if (problem) throw new UserError(`--lr-steps ${problem}, got "${value}"`);
  return steps;
}

export function registerTrainCommand(program: Command): void {
  const d = TRAIN_DEFAULTS;
  const cmd = program
    .command("train")
    .description("train a model with SGD (momentum, weight decay) on a dataset folder; resumable checkpoints every epoch");
  addModelOptions(cmd)
    .requiredOption(
      "--data <dir>",
      "dataset folder: list files (train.txt, val.txt, ...) + frame folders, annotation files, or the synthetic benchmark",
    )
    .option("--split <name>", "training split", "train")
    .option("--val-split <name>", "also evaluate this split (centre crop, 1 clip) after every epoch, e.g. val")
    .option("--epochs <n>", "epochs", int("--epochs"), d.epochs)
    .option("--batch <n>", "clips per batch", int("--batch"), d.batch)
    .option("--lr <x>", "base learning rate", num("--lr", { above: 0 }), d.optimizer.lr)
    .addOption(
      new Option(
        "--lr-scheduler <kind>",
        "cosine (per epoch, T_max = epochs), step (x0.1 every first-lr-step epochs) or multisteps (x0.1 at each lr step)",
      )
        .choices([...SCHEDULERS])
        .default(d.schedule.kind),
    )
    .addOption(
      new Option("--lr-steps <epochs>", "comma-separated epochs for step/multisteps")
        .argParser(lrSteps)
        .default([...d.schedule.lrSteps], `"${d.schedule.lrSteps.join(",")}"`),
    )
    .option(
      "--warmup-epochs <x>",
      "linear warm-up over this many epochs (per step; 0 = off)",
      num("--warmup-epochs"),
      d.schedule.warmupEpochs,
    )
    .option("--momentum <x>", "SGD momentum", num("--momentum", { below: 1 }), d.optimizer.momentum)
    .option(
      "--weight-decay <x>",
      "L2 weight decay (added to the gradient, like torch.optim.SGD)",
      num("--weight-decay", { below: 1 }),
      d.optimizer.weightDecay,
    )
    .option("--no-nesterov", "plain momentum instead of the official Nesterov momentum")
    .option("--dropout <p>", "dropout before the classifier (model option; official 0.5)", num("--dropout"))
    .option("--clip-grad <norm>", "clip the global gradient L2 norm (clip_grad_norm_)", num("--clip-grad"))
    .option("--seed <n>", "seed of the initial weights, data sampling and dropout", int("--seed", { min: 0 }), d.seed)
    .option("--frames <n>", "frames per clip (model option)", int("--frames"))
    .option("--size <n>", "input height = width (model option)", int("--size"))
    .option("--out <dir>", "run folder (default results/runs/<model id>-<time>)")
    .option("--resume", "continue the run in --out from its newest checkpoint (bit-exact)")
    .option("--max-steps <n>", "stop after this many optimizer steps in all (checkpointed; --resume continues)", int("--max-steps"))
    .option("--save-every <n>", "also checkpoint every N steps", int("--save-every"))
    .option("--keep <n>", "checkpoints kept on disk", int("--keep"), d.keep)
    .option(
      "--engine <name>",
      "training engine: tfjs (TfOps + tf.variableGrads) or ort (each SGD step one ONNX graph in onnxruntime)",
      choice("--engine", ENGINES),
      d.engine,
    )
    .option(
      "--device <name>",
      "with --engine ort: where the step graph runs: cpu, webgpu (WebGPU EP: Vulkan/Metal/D3D12; state stays on the GPU) or cuda (CUDA EP)",
      choice("--device", ORT_DEVICES),
      "cpu",
    );
  addSampleOptions(cmd)
    .option("--no-progress", "no progress bar")
    .addHelpText(
      "after",
      "\nOutputs in the run folder: steps.csv/.jsonl (per step), epochs.csv/.jsonl, run.json, checkpoints/, model.safetensors (newest weights).\n" +
        "Official bLVNet-TAM defaults: lr 0.01, cosine, 50 epochs, weight decay 5e-4, dropout 0.5, Nesterov momentum 0.9.\n" +
        "The compute backend is the global --backend option (or BLVNET_BACKEND).",
    )
    .action(async function (this: Command, f: TrainFlags) {
      const s = await train({
        model: modelConfig(f),
        data: { dir: f.data, split: f.split, valSplit: f.valSplit, workers: f.workers, maxSkipped: f.maxSkipped },
        optimizer: { lr: f.lr, momentum: f.momentum, weightDecay: f.weightDecay, nesterov: f.nesterov, clipGradNorm: f.clipGrad },
        schedule: { kind: f.lrScheduler, lrSteps: f.lrSteps, warmupEpochs: f.warmupEpochs },
        epochs: f.epochs,
        batch: f.batch,
        seed: f.seed,
        engine: f.engine,
        device: f.device,
        backend: this.optsWithGlobals().backend as string | undefined,
        out: f.out,
        resume: f.resume,
        maxSteps: f.maxSteps,
        saveEvery: f.saveEvery,
        keep: f.keep,
        progress: f.progress,
        command: invocation(),
      });
      const how = s.status === "stopped" ? `stopped at --max-steps ${f.maxSteps}` : "finished";
      console.log(
        `${how}: ${s.globalStep} steps, last loss ${s.lastLoss.toFixed(4)}, ${s.clipsPerSecond.toFixed(2)} clips/s; ` +
          `weights ${join(s.outDir, "model.safetensors")} (checkpoint ${s.checkpoint})${s.skipped ? `; ${s.skipped} samples skipped (see the log)` : ""}`,
      );
    });
}
