/**
 * `blvnet eval`: accuracy of a model with given weights (ours or an imported PyTorch checkpoint) on a
 * dataset split: top-1/top-5 at clip and video level, per-class accuracy, confusion matrix (CSV +
 * SVG) and a predictions CSV. See `blvnet eval --help`.
 */

import { UserError } from "@blvnet/core";
import { EVAL_DEFAULTS, EVAL_ENGINES, type EvalEngine, evaluate } from "@blvnet/train";
import { type Command, Option } from "commander";
import { addModelOptions, type ModelFlags, modelConfig } from "../flags/model-args.js";
import { int } from "../flags/parsers.js";
import { addSampleOptions, type SampleFlags } from "../flags/sample-args.js";

interface EvalFlags extends ModelFlags, SampleFlags {
  data: string;
  split: string;
  crops: "1" | "3";
  clips: number;
  batch: number;
  out?: string;
  engine?: EvalEngine;
  progress: boolean;
}

export function registerEvalCommand(program: Command): void {
  const d = EVAL_DEFAULTS;
  const cmd = program
    .command("eval")
    .description("evaluate a model's accuracy on a dataset split (top-1/5, per class, confusion matrix, predictions)");
  addModelOptions(cmd)
    .requiredOption("--data <dir>", "dataset folder (list files + frame folders)")
    .option("--split <name>", "split to evaluate", d.split)
    .addOption(
      new Option("--crops <n>", "crops per clip: 1 (centre) or 3 (left/centre/right, official three-crop test)")
        .choices(["1", "3"])
        .default(String(d.crops)),
    )
    .option("--clips <n>", "clips per video (softmax averaged over clips x crops)", int("--clips"), d.clips)
    .option("--batch <n>", "videos per batch", int("--batch"), d.batch)
    .option("--frames <n>", "frames per clip (model option)", int("--frames"))
    .option("--size <n>", "input height = width (model option)", int("--size"))
    .option("--out <dir>", "output folder (default results/eval/<model id>-<split>)")
    .addOption(
      new Option(
        "--engine <name>",
        "tfjs (TfOps on the --backend) or ONNX Runtime (ort = CPU, ort-webgpu, ort-cuda); also chosen by --backend ort*",
      ).choices([...EVAL_ENGINES]),
    );
  addSampleOptions(cmd)
    .option("--no-progress", "no progress bar")
    .addHelpText(
      "after",
      "\nWrites summary.json, predictions.csv, per-class.csv, confusion.csv and confusion.svg to --out.\n--weights takes our safetensors or a PyTorch .pth/.pth.tar (zip or legacy, `module.` prefixes stripped).",
    )
    .action(async function (this: Command, f: EvalFlags) {
      if (!f.weights) throw new UserError("--weights is required: the checkpoint to evaluate");
      const s = await evaluate({
        model: { ...modelConfig(f), weights: f.weights },
        data: { dir: f.data, split: f.split, workers: f.workers, maxSkipped: f.maxSkipped },
        crops: f.crops === "3" ? 3 : 1,
        clips: f.clips,
        batch: f.batch,
        engine: f.engine,
        backend: this.optsWithGlobals().backend as string | undefined,
        out: f.out,
        progress: f.progress,
      });
      const r = s.report;
      const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
      console.log(
        `${s.model.id} on ${s.dataset.split} (${s.skipped ? `${r.videos} of ${s.dataset.videos} videos, ${s.skipped} skipped` : `${r.videos} videos`}, ${r.views} view(s) each): top-1 ${pct(r.top1)}, top-5 ${pct(r.top5)}, mean class ${pct(r.meanClassAccuracy)}, clip top-1 ${pct(r.clipTop1)}, loss ${r.loss.toFixed(4)}`,
      );
      if (r.pairAccuracy !== null) console.log(`time-reversed pairs: ${pct(r.pairAccuracy)} (chance 50%)`);
      console.log(`wrote ${s.files.join(", ")}`);
    });
}
