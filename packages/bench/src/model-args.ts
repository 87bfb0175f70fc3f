/**
 * The model flags every command shares, so that "which model, built how, with which weights" reads
 * the same everywhere:
 *
 *   --model <name>          registry name (see `blvnet models`), e.g. blvnet-tam
 *   --opt <key=value>       a model option, repeatable: --opt depth=101 --opt frames=16
 *   --weights <file>        safetensors or PyTorch checkpoint (.pth / .pth.tar, zip or legacy)
 *   --allow-missing         accept weights absent from the checkpoint (warns, keeps their init)
 *
 * Usage in a command:
 *   addModelOptions(program.command("bench")).action((opts: ModelArgs) => {
 *     const { model } = buildModelFromArgs(opts);
 *     ...
 *   });
 */
import type { Command } from "commander";
import { loadWeights, UserError, type LoadWeightsResult, type VideoModel } from "@blvnet/core";
import { createModel } from "./registry.js";

export interface ModelArgs {
  model?: string;
  opt?: string[];
  weights?: string;
  allowMissing?: boolean;
}

export interface ModelFlagsConfig {
  /** Make --model mandatory (default true). */
  required?: boolean;
  /** Offer --weights (default true; off for commands that take the checkpoint as an argument). */
  weights?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Add --model, --opt, --weights and --allow-missing to `cmd`; returns `cmd` for chaining. */
export function addModelOptions(cmd: Command, config: ModelFlagsConfig = {}): Command {
  const modelFlag = "--model <name>";
  const modelHelp = "model to build (registry name, see `blvnet models`)";
  if (config.required ?? true) cmd.requiredOption(modelFlag, modelHelp);
  else cmd.option(modelFlag, modelHelp);
  cmd.option("--opt <key=value>", "model option, repeatable (e.g. --opt depth=101 --opt frames=16)", collect);
  if (config.weights ?? true) cmd.option("--weights <file>", "load weights: safetensors or PyTorch .pth/.pth.tar (zip or legacy format)");
  cmd.option("--allow-missing", "accept weights missing from the checkpoint (they keep their initial values; a warning lists them)");
  return cmd;
}

/** `["depth=101", "alpha=2"]` -> `{depth: "101", alpha: "2"}`; the registry checks names and types. */
export function parseModelOpts(pairs: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UserError(`--opt ${pair}: expected key=value (e.g. --opt depth=101)`);
    const key = pair.slice(0, eq).trim();
    if (key in out) throw new UserError(`--opt ${key} is given twice`);
    out[key] = pair.slice(eq + 1).trim();
  }
  return out;
}

/** Build the model named by --model/--opt, with freshly initialised weights. */
export function createModelFromArgs(args: ModelArgs): VideoModel {
  if (!args.model) throw new UserError("--model is required (see `blvnet models`)");
  return createModel(args.model, parseModelOpts(args.opt));
}

export interface BuiltModel {
  model: VideoModel;
  /** The load report when --weights was given, else null (the model keeps its initial values). */
  weights: LoadWeightsResult | null;
}

/**
 * Build the model and, with --weights, load them strictly (unexpected keys and shape mismatches are
 * errors; missing weights too unless --allow-missing, which prints a warning through `warn`).
 */
export function buildModelFromArgs(args: ModelArgs, warn: (message: string) => void = console.error): BuiltModel {
  const model = createModelFromArgs(args);
  if (!args.weights) return { model, weights: null };
  return { model, weights: loadWeights(model, args.weights, { allowMissing: args.allowMissing, warn }) };
}
