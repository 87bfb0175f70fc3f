/**
 * The common video-model interface and the model registry (like timm's `create_model`).
 * Model packages call `registerModel` at import time; users call `createModel(name, options)`.
 */
import { type InitOptions, initWeights } from "./init.js";
import { assignNames, Module } from "./module.js";
import type { Ops } from "./ops.js";
import { type ModelOption, type ModelOptions, type OptionSchema, type OptionsOf, resolveOptions, UserError } from "./options.js";
import type { Rng } from "./rng.js";

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

/** The official ResNet/bLResNet base width; smaller widths give the same network, thinner (quick CPU runs). */
export const OFFICIAL_WIDTH = 64;

/** Id fragment for a non-official width ("-w16"); empty at 64 so the official ids stay as they are. */
export const widthTag = (width: number): string => (width !== OFFICIAL_WIDTH ? `-w${width}` : "");

/** A video model; `cfg` is its options (as the registry resolved them). */
export abstract class VideoModel<O extends object = object> extends Module<O> {
  /** Registry name, e.g. "blvnet-tam". */
  abstract readonly family: string;
  /** Canonical id used in result rows, e.g. "blvnet-tam-50-a2-b4-f8x2". */
  abstract readonly id: string;
  abstract readonly inputSpec: InputSpec;
  abstract readonly numClasses: number;
  /** The options the model was built with (normalised, for provenance). */
  readonly options: Record<string, unknown> = { ...(this.cfg as Record<string, unknown>) };
  /**
   * x in `inputSpec.layout` -> logits [N, numClasses] (for "(NT)CHW" models: the feature map).
   * `tap`, when given, is called with named intermediates (the golden `intermediates` names, e.g.
   * "stem_out", "layer1_out") so `verify --stages` can find the first stage that diverges.
   */
  abstract forward<T>(ops: Ops<T>, x: T, tap?: Tap<T>): T;

  /** Fresh weights for training from scratch (see `initWeights` in init.ts); models with their own rules override it. */
  initWeights(rng: Rng, opts: InitOptions = {}): void {
    initWeights(this, rng, opts);
  }
}

export interface ModelDef<S extends OptionSchema = OptionSchema> {
  name: string;
  description: string;
  /** The golden-file `family` values this entry can build (see `fromGoldenConfig`). */
  goldenFamilies?: string[];
  options: S;
  /** Cross-field rule, run after each option passed its own: a message when the combination is invalid. */
  check?(o: OptionsOf<S>): string | undefined;
  create(o: OptionsOf<S>): VideoModel;
  /**
   * Map a golden `config` (official kwargs) to this entry's options, or return null when the config
   * belongs to another entry of the same family.
   */
  fromGoldenConfig?(config: Record<string, unknown>): Partial<OptionsOf<S>> | null;
}

/** A registered model: its options listed by name, `create` taking raw options (checked here). */
export interface ModelEntry {
  name: string;
  description: string;
  goldenFamilies?: string[];
  options: ModelOption[];
  /** Build from raw options (strings from the command line are fine): defaults filled, every value checked. */
  create(options?: Record<string, unknown>): VideoModel;
  fromGoldenConfig?(config: Record<string, unknown>): ModelOptions | null;
}

const registry = new Map<string, ModelEntry>();

export function registerModel<S extends OptionSchema>(def: ModelDef<S>): ModelEntry {
  if (registry.has(def.name)) throw new Error(`model "${def.name}" registered twice`);
  const { fromGoldenConfig } = def;
  const entry: ModelEntry = {
    name: def.name,
    description: def.description,
    goldenFamilies: def.goldenFamilies,
    options: Object.entries(def.options).map(([name, spec]) => ({ name, ...spec })),
    create(raw = {}) {
      const model = def.create(resolveOptions(def.name, def.options, raw, def.check));
      assignNames(model);
      return model;
    },
    fromGoldenConfig: fromGoldenConfig && ((c) => fromGoldenConfig(c) as ModelOptions | null),
  };
  registry.set(def.name, entry);
  return entry;
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

export function createModel(name: string, options: Record<string, unknown> = {}): VideoModel {
  return getModelEntry(name).create(options);
}
