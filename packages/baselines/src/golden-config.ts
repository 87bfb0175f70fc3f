/**
 * Reading golden-file `config` objects (the official constructors' kwargs plus clips/frames/resolution)
 * into registry options. Family "tsn" = mit-han-lab/temporal-shift-module `TSN(...)` (TSN and TSM);
 * family "video3d" = torchvision.models.video constructors.
 */
import { UserError } from "@blvnet/core";

type Config = Record<string, unknown>;

function pick(cfg: Config, keys: string[]): unknown {
  for (const k of keys) if (cfg[k] !== undefined && cfg[k] !== null) return cfg[k];
  return undefined;
}

function int(cfg: Config, keys: string[], dflt?: number): number {
  const v = pick(cfg, keys);
  if (v === undefined) {
    if (dflt !== undefined) return dflt;
    throw new UserError(`golden config has none of the keys ${keys.join(", ")}`);
  }
  const n = Number(v);
  if (!Number.isInteger(n)) throw new UserError(`golden config: ${keys[0]} must be an integer, got ${JSON.stringify(v)}`);
  return n;
}

function truthy(v: unknown): boolean {
  return v === true || v === 1 || v === "true" || v === "True";
}

/** The ResNet depth from `depth`, or `base_model`/`arch` such as "resnet50". */
function resnetDepth(cfg: Config): number {
  if (cfg.depth !== undefined) return Number(cfg.depth);
  const name = pick(cfg, ["base_model", "arch", "backbone"]);
  if (name === undefined) return 50; // the golden generator's TSN default base model
  const m = /^resnet(\d+)$/.exec(String(name));
  if (!m)
    throw new UserError(`golden config: base model "${String(name)}" is not a torchvision ResNet (only resnet18/34/50/101/152 are ported)`);
  return Number(m[1]);
}

export interface TsnGolden {
  shift: boolean;
  options: Record<string, number | string>;
}

/** Options for the `tsn`/`tsm` entries from an official `TSN(...)` config. */
export function tsnFromGolden(cfg: Config): TsnGolden {
  for (const k of ["temporal_pool", "non_local"]) {
    if (truthy(cfg[k])) throw new UserError(`golden config: ${k}=true is not supported by the TSN/TSM port`);
  }
  const consensus = cfg.consensus_type;
  if (consensus !== undefined && consensus !== "avg")
    throw new UserError(`golden config: consensus_type "${String(consensus)}" is not supported (only avg)`);
  const shift = truthy(pick(cfg, ["shift", "is_shift"]));
  const options: Record<string, number | string> = {
    depth: resnetDepth(cfg),
    frames: int(cfg, ["num_segments", "frames"]),
    size: int(cfg, ["resolution", "size", "input_size"], 224),
    numClasses: int(cfg, ["num_classes", "num_class"]),
    // TSN's constructor default is dropout=0.8; it decides between `base_model.fc` and `new_fc`.
    dropout: Number(pick(cfg, ["dropout"]) ?? 0.8),
  };
  if (shift) {
    options.shiftDiv = int(cfg, ["shift_div"], 8);
    options.shiftPlace = String(pick(cfg, ["shift_place"]) ?? "blockres");
  }
  return { shift, options };
}

export interface Video3dGolden {
  arch: string;
  options: Record<string, number>;
}

/** Options for the torchvision video entries from a video3d config (`arch: r3d_18 | mc3_18 | r2plus1d_18`). */
export function video3dFromGolden(cfg: Config): Video3dGolden {
  const arch = String(pick(cfg, ["arch", "model", "name"]) ?? "");
  const m = /^(r3d|mc3|r2plus1d)_(\d+)$/.exec(arch);
  return {
    arch: m ? m[1] : arch,
    options: {
      ...(m ? { depth: Number(m[2]) } : {}),
      frames: int(cfg, ["frames", "num_frames", "clip_len"], 16),
      size: int(cfg, ["resolution", "size"], 112),
      numClasses: int(cfg, ["num_classes"], 400),
    },
  };
}
