/**
 * Building a model the way every command does: a registry name, `key=value` options, convenience
 * overrides (frames, size, dropout, the dataset's class count), and optional weights to load.
 */
import { Linear, UserError, type VideoModel } from "@blvnet/core";
import {
  explainMismatch,
  formatLoadReport,
  type LoadReport,
  type LoadWeightsResult,
  loadStateDict,
  loadWeights,
  readCheckpointFile,
} from "@blvnet/io";
import { createModel, getModelEntry } from "./registry.js";

/** Which model, built how, with which weights (the CLI's --model, --opt, --weights, --allow-missing). */
export interface ModelArgs {
  model?: string;
  opt?: string[];
  weights?: string;
  allowMissing?: boolean;
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
export interface ModelOverrides {
  frames?: number;
  size?: number;
  dropout?: number;
  /** Classes of the dataset: used unless --opt numClasses says otherwise (then they must agree). */
  numClasses?: number;
}

/** Build `--model` with `--opt` pairs and the overrides (a flag and an --opt for the same option must agree). */
export function buildModel(args: ModelArgs, over: ModelOverrides): VideoModel {
  if (!args.model) throw new UserError("--model is required (see `blvnet models`)");
  return createModel(args.model, withOverrides(args.model, parseModelOpts(args.opt), over));
}

/** `options` with the overrides added; an override must name an option of the model and agree with `options`. */
export function withOverrides(
  name: string,
  options: Record<string, string | number | boolean>,
  over: ModelOverrides,
): Record<string, string | number | boolean> {
  const entry = getModelEntry(name);
  const names = new Set(entry.options.map((o) => o.name));
  const opts = { ...options };
  const put = (key: string, flag: string, value: number | undefined) => {
    if (value === undefined) return;
    if (!names.has(key)) throw new UserError(`${flag}: model "${entry.name}" has no option ${key}`);
    if (key in opts && Number(opts[key]) !== value) {
      throw new UserError(
        `${flag} ${value} contradicts --opt ${key}=${opts[key]}${key === "numClasses" ? " (the dataset's class count)" : ""}`,
      );
    }
    opts[key] = value;
  };
  put("frames", "--frames", over.frames);
  put("size", "--size", over.size);
  put("dropout", "--dropout", over.dropout);
  if (over.numClasses !== undefined && names.has("numClasses")) put("numClasses", "the dataset", over.numClasses);
  return opts;
}

/** Whether a state_dict key belongs to one of the model's Linear (classifier) layers. */
function classifierKeys(model: VideoModel): Set<string> {
  const keys = new Set<string>();
  for (const [name, m] of model.namedModules()) {
    if (!(m instanceof Linear)) continue;
    for (const [k] of m.namedTensors(name ? `${name}.` : "")) keys.add(k);
  }
  return keys;
}

export interface StartWeights {
  report: LoadReport;
  /** Classifier tensors whose shape differed and were left at their initial values. */
  reinitialised: string[];
}

/**
 * Load start weights (any format readCheckpoint supports). Strict, like `loadWeights`, except that
 * with `allowMissing` missing weights and classifier tensors of another shape (fine-tuning to a
 * new class count) keep their initial values, with a warning.
 */
export function loadStartWeights(model: VideoModel, path: string, allowMissing: boolean, warn: (m: string) => void): StartWeights {
  const { tensors } = readCheckpointFile(path);
  const own = new Map(model.namedTensors());
  const reinitialised: string[] = [];
  const dropped = new Set<string>();
  if (allowMissing) {
    const fc = classifierKeys(model);
    for (const [k, t] of tensors) {
      const p = own.get(k);
      if (p && fc.has(k) && (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i]))) {
        reinitialised.push(`${k} [${t.shape}] -> [${p.shape}]`);
        tensors.delete(k);
        dropped.add(k);
      }
    }
  }
  const full = loadStateDict(model, tensors, { strict: false, source: path });
  const report: LoadReport = { ...full, missing: full.missing.filter((k) => !k.endsWith("num_batches_tracked") && !dropped.has(k)) };
  if (report.unexpected.length || report.shapeMismatch.length) {
    const hint =
      report.shapeMismatch.length && !allowMissing ? ["a classifier of another size can be re-initialised with --allow-missing"] : [];
    throw new UserError(
      [formatLoadReport(report, path), `the checkpoint does not fit model ${model.id}`, ...explainMismatch(report), ...hint].join("; "),
    );
  }
  if (report.missing.length && !allowMissing) {
    throw new UserError(
      `${formatLoadReport(report, path)}; refusing to start with ${report.missing.length} weights uninitialised (allow with --allow-missing)`,
    );
  }
  if (reinitialised.length)
    warn(`warning: ${path}: classifier re-initialised for ${model.numClasses} classes: ${reinitialised.join(", ")}`);
  if (report.missing.length) warn(`warning: ${formatLoadReport(report, path)}; these keep their initial values`);
  return { report, reinitialised };
}
