/**
 * The common video-model interface and the model registry (like timm's `create_model`).
 * Model packages call `registerModel` at import time; users call `createModel(name, options)`.
 */
import { assignNames, Module } from "./module.js";
import type { Ops } from "./ops.js";

/**
 * Input layouts:
 *  - "N(TC)HW": the official 2D-model input (N, T*3, H, W), channel = t*3 + c
 *  - "NCTHW": torchvision video models (N, 3, T, H, W)
 *  - "(NT)CHW": per-frame feature maps (standalone TAM), row = n*T + t
 */
export type InputLayout = "N(TC)HW" | "NCTHW" | "(NT)CHW";

export interface InputSpec {
  layout: InputLayout;
  /** Frames per clip. */
  frames: number;
  /** Square input size (H = W). */
  size: number;
  channels: number;
  mean: [number, number, number];
  std: [number, number, number];
}

export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

/** Shape of a batch of `clips` clips for a spec. */
export function inputShape(spec: InputSpec, clips: number): number[] {
  const { frames: t, size: s, channels: c } = spec;
  switch (spec.layout) {
    case "N(TC)HW":
      return [clips, t * c, s, s];
    case "NCTHW":
      return [clips, c, t, s, s];
    case "(NT)CHW":
      return [clips * t, c, s, s];
  }
}

/** Observer of a named intermediate tensor of a forward pass (see `VideoModel.forward`). */
export type Tap<T> = (name: string, x: T) => void;

export abstract class VideoModel extends Module {
  /** Registry name, e.g. "blvnet-tam". */
  abstract readonly family: string;
  /** Canonical id used in result rows, e.g. "blvnet-tam-50-a2-b4-f8x2". */
  abstract readonly id: string;
  abstract readonly inputSpec: InputSpec;
  abstract readonly numClasses: number;
  /** The options the model was built with (normalised, for provenance). */
  abstract readonly options: Record<string, unknown>;
  /**
   * x in `inputSpec.layout` -> logits [N, numClasses] (for "(NT)CHW" models: the feature map).
   * `tap`, when given, is called with named intermediates (the golden `intermediates` names, e.g.
   * "stem_out", "layer1_out") so `verify --stages` can find the first stage that diverges.
   */
  abstract forward<T>(ops: Ops<T>, x: T, tap?: Tap<T>): T;
}

export type OptionType = "int" | "float" | "string" | "boolean";

export interface ModelOption {
  name: string;
  type: OptionType;
  default: number | string | boolean;
  description: string;
  choices?: (number | string)[];
}

export type ModelOptions = Record<string, number | string | boolean>;

export interface ModelEntry {
  name: string;
  description: string;
  /** The golden-file `family` values this entry can build (see `fromGoldenConfig`). */
  goldenFamilies?: string[];
  options: ModelOption[];
  create(options: ModelOptions): VideoModel;
  /**
   * Map a golden `config` (official kwargs) to this entry's options, or return null when the config
   * belongs to another entry of the same family.
   */
  fromGoldenConfig?(config: Record<string, unknown>): ModelOptions | null;
}

const registry = new Map<string, ModelEntry>();

export function registerModel(entry: ModelEntry): void {
  if (registry.has(entry.name)) throw new Error(`model "${entry.name}" registered twice`);
  registry.set(entry.name, entry);
}

export function listModels(): ModelEntry[] {
  return [...registry.values()];
}

export function getModelEntry(name: string): ModelEntry {
  const e = registry.get(name);
  if (!e) {
    const known = [...registry.keys()].join(", ") || "(none registered)";
    throw new UserError(`unknown model "${name}"; known models: ${known}`);
  }
  return e;
}

/** Fill defaults, check names/types/choices, and coerce strings from the command line. */
export function resolveOptions(entry: ModelEntry, given: Record<string, unknown>): ModelOptions {
  const out: ModelOptions = {};
  const known = new Set(entry.options.map((o) => o.name));
  for (const k of Object.keys(given)) {
    if (given[k] !== undefined && !known.has(k)) {
      throw new UserError(`model "${entry.name}" has no option "${k}"; options: ${[...known].join(", ")}`);
    }
  }
  for (const o of entry.options) {
    const raw = given[o.name];
    let v: number | string | boolean = o.default;
    if (raw !== undefined) {
      if (o.type === "int" || o.type === "float") {
        const n = typeof raw === "number" ? raw : Number(raw);
        if (!Number.isFinite(n) || (o.type === "int" && !Number.isInteger(n))) {
          throw new UserError(`option ${o.name} of model "${entry.name}" must be ${o.type === "int" ? "an integer" : "a number"}, got "${String(raw)}"`);
        }
        v = n;
      } else if (o.type === "boolean") {
        v = raw === true || raw === "true" || raw === "1";
      } else v = String(raw);
    }
    if (o.choices && !o.choices.includes(v as never)) {
      throw new UserError(`option ${o.name} of model "${entry.name}" must be one of ${o.choices.join(", ")}, got "${String(v)}"`);
    }
    out[o.name] = v;
  }
  return out;
}

export function createModel(name: string, options: Record<string, unknown> = {}): VideoModel {
  const entry = getModelEntry(name);
  const model = entry.create(resolveOptions(entry, options));
  assignNames(model);
  return model;
}

/** An error caused by user input: the CLI prints its message alone (no stack) and exits 2. */
export class UserError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    // One line whatever a file put into the message (key names, paths): control characters are escaped.
    super(message.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`));
    this.name = "UserError";
  }
}
