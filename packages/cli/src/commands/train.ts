/**
 * `blvnet train`: SGD training of any registered model on a dataset folder (official list-file
 * layout or the synthetic benchmark), with resumable checkpoints. See `blvnet train --help`.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { Command, Option } from "commander";
import { runTrain, type TrainArgs } from "@blvnet/train";
import { initBackend } from "@blvnet/engine-tfjs";
import { isOrtBackend } from "@blvnet/engine-onnx";
import { UserError } from "@blvnet/core";
import { writeFileAtomic } from "@blvnet/io";
import { createLoader, openDataset } from "@blvnet/data";
import { addModelOptions } from "../model-args.js";
import { type ModelArgs } from "@blvnet/models";
import { provenance } from "@blvnet/train";
import { checkpointsDir } from "@blvnet/train";
import { createTrainingEngine, parseEngine } from "@blvnet/train";
import { initForTraining } from "@blvnet/train";
import { parseLrSteps, SCHEDULERS, type SchedulerKind } from "@blvnet/train";
import { buildModel, loadStartWeights } from "@blvnet/models";
import { trainLoop } from "@blvnet/train";


const num = (flag: string, min: number, integer = false) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw new UserError(`${flag} must be ${integer ? "an integer" : "a number"} >= ${min}, got "${v}"`);
  }
  return n;
};


export function registerTrainCommand(program: Command): void {
  const cmd = program
    .command("train")
    .description("train a model with SGD (momentum, weight decay) on a dataset folder; resumable checkpoints every epoch");
  addModelOptions(cmd)
    .requiredOption("--data <dir>", "dataset folder: list files (train.txt, val.txt, ...) + frame folders, annotation files, or the synthetic benchmark")
    .option("--split <name>", "training split", "train")
    .option("--val-split <name>", "also evaluate this split (centre crop, 1 clip) after every epoch, e.g. val")
    .option("--epochs <n>", "epochs", num("--epochs", 1, true), 50)
    .option("--batch <n>", "clips per batch", num("--batch", 1, true), 8)
    .option("--lr <x>", "base learning rate", num("--lr", 0), 0.01)
    .addOption(new Option("--lr-scheduler <kind>", "cosine (per epoch, T_max = epochs), step (x0.1 every first-lr-step epochs) or multisteps (x0.1 at each lr step)").choices([...SCHEDULERS]).default("cosine"))
    .option("--lr-steps <epochs>", "comma-separated epochs for step/multisteps", "20,40")
    .option("--warmup-epochs <x>", "linear warm-up over this many epochs (per step; 0 = off)", num("--warmup-epochs", 0), 0)
    .option("--momentum <x>", "SGD momentum", num("--momentum", 0), 0.9)
    .option("--weight-decay <x>", "L2 weight decay (added to the gradient, like torch.optim.SGD)", num("--weight-decay", 0), 5e-4)
    .option("--no-nesterov", "plain momentum instead of the official Nesterov momentum")
    .option("--dropout <p>", "dropout before the classifier (model option; official 0.5)", num("--dropout", 0))
    .option("--clip-grad <norm>", "clip the global gradient L2 norm (clip_grad_norm_)", num("--clip-grad", 0))
    .option("--seed <n>", "seed of the initial weights, data sampling and dropout", num("--seed", 0, true), 0)
    .option("--frames <n>", "frames per clip (model option)", num("--frames", 1, true))
    .option("--size <n>", "input height = width (model option)", num("--size", 1, true))
    .option("--out <dir>", "run folder (default results/runs/<model id>-<time>)")
    .option("--resume", "continue the run in --out from its newest checkpoint (bit-exact)")
    .option("--max-steps <n>", "stop after this many optimizer steps in all (checkpointed; --resume continues)", num("--max-steps", 1, true))
    .option("--save-every <n>", "also checkpoint every N steps", num("--save-every", 1, true))
    .option("--keep <n>", "checkpoints kept on disk", num("--keep", 1, true), 2)
    .option("--engine <name>", "training engine: tfjs (TfOps + tf.variableGrads) or ort (each SGD step one ONNX graph in onnxruntime, CPU)", "tfjs")
    .option("--workers <n>", "samples decoded at once", num("--workers", 1, true))
    .option("--no-progress", "no progress bar")
    .addHelpText(
      "after",
      "\nOutputs in the run folder: steps.csv/.jsonl (per step), epochs.csv/.jsonl, run.json, checkpoints/, model.safetensors (newest weights).\n" +
        "Official bLVNet-TAM defaults: lr 0.01, cosine, 50 epochs, weight decay 5e-4, dropout 0.5, Nesterov momentum 0.9.\n" +
        "The compute backend is the global --backend option (or BLVNET_BACKEND).",
    )
    .action(async function (this: Command, args: TrainArgs) {
      await runTrain(args, this.optsWithGlobals().backend as string | undefined);
    });
}

