/**
 * `blvnet eval`: accuracy of a model with given weights (ours or an imported PyTorch checkpoint) on a
 * dataset split: top-1/top-5 at clip and video level, per-class accuracy, confusion matrix (CSV +
 * SVG) and a predictions CSV. See `blvnet eval --help`.
 */
import { join, resolve } from "node:path";
import { Command, Option } from "commander";
import { EVAL_ENGINES, runEval, type EvalArgs } from "@blvnet/train";
import { initBackend } from "@blvnet/engine-tfjs";
import { isOrtBackend } from "@blvnet/engine-onnx";
import { UserError } from "@blvnet/core";
import { createLoader, openDataset } from "@blvnet/data";
import { addModelOptions } from "../model-args.js";
import { type ModelArgs } from "@blvnet/models";
import { provenance } from "@blvnet/train";
import { evaluateModel, ortScorer, tfjsScorer, writeEvalOutputs, type EvalEngine, type Scorer } from "@blvnet/train";
import { buildModel, loadStartWeights } from "@blvnet/models";



const posInt = (flag: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`${flag} must be a positive integer, got "${v}"`);
  return n;
};

export function registerEvalCommand(program: Command): void {
  const cmd = program.command("eval").description("evaluate a model's accuracy on a dataset split (top-1/5, per class, confusion matrix, predictions)");
  addModelOptions(cmd)
    .requiredOption("--data <dir>", "dataset folder (list files + frame folders)")
    .option("--split <name>", "split to evaluate", "val")
    .addOption(new Option("--crops <n>", "crops per clip: 1 (centre) or 3 (left/centre/right, official three-crop test)").choices(["1", "3"]).default("1"))
    .option("--clips <n>", "clips per video (softmax averaged over clips x crops)", posInt("--clips"), 1)
    .option("--batch <n>", "videos per batch", posInt("--batch"), 8)
    .option("--frames <n>", "frames per clip (model option)", posInt("--frames"))
    .option("--size <n>", "input height = width (model option)", posInt("--size"))
    .option("--out <dir>", "output folder (default results/eval/<model id>-<split>)")
    .addOption(new Option("--engine <name>", "tfjs (TfOps on the --backend) or ONNX Runtime (ort = CPU, ort-cuda); also chosen by --backend ort").choices([...EVAL_ENGINES]))
    .option("--workers <n>", "samples decoded at once", posInt("--workers"))
    .option("--no-progress", "no progress bar")
    .addHelpText("after", "\nWrites summary.json, predictions.csv, per-class.csv, confusion.csv and confusion.svg to --out.\n--weights takes our safetensors or a PyTorch .pth/.pth.tar (zip or legacy, `module.` prefixes stripped).")
    .action(async function (this: Command, args: EvalArgs) {
      await runEval(args, this.optsWithGlobals().backend as string | undefined);
    });
}

