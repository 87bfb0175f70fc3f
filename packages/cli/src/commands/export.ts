/** `blvnet export`: write a model (eval mode) as an ONNX file for onnxruntime or any ONNX runtime. */

import { fillDeterministic, UserError } from "@blvnet/core";
import { buildOnnx, DEFAULT_OPSET, MAX_OPSET, MIN_OPSET } from "@blvnet/engine-onnx";
import { writeFileAtomic } from "@blvnet/io";
import { buildModelFromArgs, type ModelArgs } from "@blvnet/models";
import type { Command } from "commander";
import { addModelOptions } from "../flags/model-args.js";
import { int } from "../flags/parsers.js";

interface ExportArgs extends ModelArgs {
  out: string;
  opset: string;
  batch: string;
}

/** "dynamic" or a positive clip count. */
function parseBatch(v: string): { dynamicBatch: boolean; clips: number } {
  if (v === "dynamic") return { dynamicBatch: true, clips: 1 };
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UserError(`--batch must be "dynamic" or a positive integer, got "${v}"`);
  return { dynamicBatch: false, clips: Number(v) };
}

const shapeStr = (s: (number | null)[]) => `[${s.map((d) => d ?? "N").join(", ")}]`;

export function registerExportCommand(program: Command): void {
  const cmd = program
    .command("export")
    .description("export a model to ONNX (eval mode: BN folded into convs, dropout removed)")
    .requiredOption("--out <file>", "ONNX file to write (e.g. model.onnx)")
    .option("--opset <n>", `ONNX opset, ${MIN_OPSET}..${MAX_OPSET}`, String(DEFAULT_OPSET))
    .option("--batch <n|dynamic>", "clips per batch, or dynamic for a symbolic batch dim N", "1");
  addModelOptions(cmd).addHelpText(
    "after",
    [
      "",
      "Weights: --weights FILE, else refgen-v1 (the deterministic fill of the golden files; not trained).",
      "Input: 'input' in the model's layout (2D models: N x T*3 x H x W; 3D models: N x 3 x T x H x W), float32,",
      "normalised with the model's mean/std; output: 'output' (logits N x classes).",
      "Example: blvnet export --model blvnet-tam --opt depth=50 --opt frames=16 --batch dynamic --out blvnet-tam-50.onnx",
    ].join("\n"),
  );
  cmd.action((args: ExportArgs) => {
    const opset = int("--opset", { min: MIN_OPSET, max: MAX_OPSET })(args.opset);
    const { dynamicBatch, clips } = parseBatch(args.batch);
    if (!args.out.endsWith(".onnx")) throw new UserError(`--out ${args.out}: expected a .onnx file name`);
    const { model } = buildModelFromArgs(args);
    if (!args.weights) fillDeterministic(model);
    const exported = buildOnnx(model, { opset, dynamicBatch, clips });
    writeFileAtomic(args.out, exported.bytes);
    const weights = args.weights
      ? `weights from ${args.weights}`
      : "weights: refgen-v1 deterministic fill (no --weights given; not a trained model)";
    console.log(
      `wrote ${args.out}: ${model.id}, opset ${opset}, input ${shapeStr(exported.inputShape)} -> output ${shapeStr(exported.outputShape)}, ${(exported.bytes.length / 2 ** 20).toFixed(1)} MiB`,
    );
    console.log(weights);
  });
}
