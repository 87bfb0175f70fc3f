/**
 * `blvnet import CKPT --model NAME [--opt k=v ...] --out FILE.safetensors [--allow-missing]`:
 * convert a PyTorch checkpoint (e.g. a released bLVNet-TAM model) into our safetensors format by
 * loading it strictly into the model it belongs to, so that only checkpoints that fit are converted.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { stateDict, UserError, type VideoModel } from "@blvnet/core";
import { type LoadWeightsResult, loadWeights, writeSafetensors } from "@blvnet/io";
import { createModelFromArgs, type ModelArgs } from "@blvnet/models";
import { VERSION } from "@blvnet/train";
import type { Command } from "commander";
import { addModelOptions } from "../flags/model-args.js";

interface ImportOptions extends ModelArgs {
  out: string;
}

export function registerImportCommand(program: Command): void {
  const cmd = program
    .command("import")
    .description("convert a PyTorch checkpoint (.pth/.pth.tar, zip or legacy format) to safetensors, checked against a model")
    .argument("<checkpoint>", "PyTorch checkpoint (raw state dict, or nested under state_dict/model/state; module. prefixes are stripped)")
    .requiredOption("--out <file>", "output .safetensors file (written atomically)");
  addModelOptions(cmd, { weights: false })
    .addHelpText(
      "after",
      "\nExample:\n  blvnet import bLVNet-TAM-50-a2-b4-f8x2.pth.tar --model blvnet-tam --opt depth=50 --opt numClasses=174 --out blvnet.safetensors",
    )
    .action((checkpoint: string, opts: ImportOptions) => runImport(checkpoint, opts));
}

export function runImport(checkpoint: string, opts: ImportOptions): void {
  if (resolve(opts.out) === resolve(checkpoint)) throw new UserError(`--out ${opts.out}: would overwrite the checkpoint being imported`);
  const model = createModelFromArgs(opts);
  const result = loadWeights(model, checkpoint, { allowMissing: opts.allowMissing, warn: console.error });
  const metadata = provenance(checkpoint, model, result);
  try {
    writeSafetensors(opts.out, stateDict(model), metadata);
  } catch (e) {
    throw new UserError(`--out ${opts.out}: cannot write (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  console.log(summary(checkpoint, opts.out, model, result));
}

function provenance(checkpoint: string, model: VideoModel, r: LoadWeightsResult): Record<string, string> {
  return {
    source: checkpoint,
    source_sha256: createHash("sha256").update(readFileSync(checkpoint)).digest("hex"),
    source_format: r.checkpoint.format,
    ...(Object.keys(r.checkpoint.extras).length ? { source_info: JSON.stringify(r.checkpoint.extras) } : {}),
    model: model.id,
    model_family: model.family,
    model_options: JSON.stringify(model.options),
    missing_keys: r.report.missing.join(","),
    date: new Date().toISOString(),
    tool: `blvnet ${VERSION}`,
  };
}

function summary(checkpoint: string, out: string, model: VideoModel, r: LoadWeightsResult): string {
  const info = r.checkpoint;
  const where = [
    info.format,
    info.container ? `state dict under "${info.container}"` : "raw state dict",
    info.strippedPrefix ? `"module." stripped from ${info.strippedPrefix} keys` : "",
    ...Object.entries(info.extras).map(([k, v]) => `${k} ${v}`),
  ].filter(Boolean);
  const lines = [
    `source   ${checkpoint} (${where.join(", ")})`,
    `model    ${model.id}`,
    `loaded   ${r.report.loaded} tensors` +
      (r.report.missing.length ? `; ${r.report.missing.length} missing (kept initial values)` : "; none missing") +
      (r.missingCounters.length ? `; ${r.missingCounters.length} BatchNorm counters absent (harmless)` : "") +
      (info.skipped.length ? `; ${info.skipped.length} non-tensor entries skipped` : ""),
    `wrote    ${out}`,
  ];
  return lines.join("\n");
}
