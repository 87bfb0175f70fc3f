/**
 * Official configuration names (as in results/reference/counts.csv) -> registry model + options.
 *
 *   blvnet-tam-{depth}[-a{alpha}][-b{beta}]-f{K}x2   -> blvnet-tam, 2K input frames
 *   blvnet-notam-{depth}-f{K}x2                      -> blvnet (every TAM removed)
 *   tsm-r{depth}-{F}f, tsn-r{depth}-{F}f             -> tsm / tsn, F frames
 *   {r3d|mc3|r2plus1d}_{depth}-{F}f                  -> torchvision video ResNets, F frames
 *
 * Dataset conventions of the official counts: the 2D models are counted with a Something-Something
 * v1 head (174 classes) at 224x224, the torchvision 3D models with their Kinetics-400 head (400
 * classes) at 112x112 (the params columns confirm both: TSN-R50 = 23.865M with 174 classes).
 * Dropout is 0: the official counts keep no dropout mask (and the bLVNet goldens use dropout 0).
 */
import type { ModelOptions } from "@blvnet/core";

export interface ConfigTarget {
  /** The configuration name as given. */
  config: string;
  /** Registry name. */
  model: string;
  options: ModelOptions;
}

const TWO_D = { numClasses: 174, size: 224, dropout: 0 };
const THREE_D = { numClasses: 400, size: 112, dropout: 0 };

/** Parse an official configuration name; null if it is not one. */
export function parseConfigName(config: string): ConfigTarget | null {
  let m = /^blvnet-(tam|notam)-(\d+)((?:-[ab]\d+)*)-f(\d+)x2$/.exec(config);
  if (m) {
    const options: ModelOptions = { ...TWO_D, depth: Number(m[2]), frames: 2 * Number(m[4]) };
    for (const [, key, v] of m[3].matchAll(/-([ab])(\d+)/g)) options[key === "a" ? "alpha" : "beta"] = Number(v);
    return { config, model: m[1] === "tam" ? "blvnet-tam" : "blvnet", options };
  }
  m = /^(tsm|tsn)-r(\d+)-(\d+)f$/.exec(config);
  if (m) return { config, model: m[1], options: { ...TWO_D, depth: Number(m[2]), frames: Number(m[3]) } };
  m = /^(r3d|mc3|r2plus1d)_(\d+)-(\d+)f$/.exec(config);
  if (m) return { config, model: m[1], options: { ...THREE_D, depth: Number(m[2]), frames: Number(m[3]) } };
  return null;
}

/** The official name of a (model, depth, frames) configuration; the inverse of `parseConfigName`. */
export function configName(model: string, depth: number, frames: number): string {
  switch (model) {
    case "blvnet-tam":
    case "blvnet":
      return `blvnet-${model === "blvnet" ? "notam" : "tam"}-${depth}-f${frames / 2}x2`;
    case "tsm":
    case "tsn":
      return `${model}-r${depth}-${frames}f`;
    default:
      return `${model}_${depth}-${frames}f`;
  }
}
