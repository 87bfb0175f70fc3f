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

import { type ModelArgs, parseModelOpts, withOverrides } from "@blvnet/models";
import type { ModelConfig } from "@blvnet/train";
import type { Command } from "commander";

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

/** The model flags of a command, with the shape and dropout flags of commands that offer them. */
export interface ModelFlags extends ModelArgs {
  frames?: number;
  size?: number;
  dropout?: number;
}

/** The library's model config from the flags: --frames/--size/--dropout become options (they must agree with an --opt of the same name). */
export function modelConfig(f: ModelFlags): ModelConfig {
  const name = f.model!;
  const options = withOverrides(name, parseModelOpts(f.opt), { frames: f.frames, size: f.size, dropout: f.dropout });
  return { name, options, weights: f.weights, allowMissing: f.allowMissing };
}
