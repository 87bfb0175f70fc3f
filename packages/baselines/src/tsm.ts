/**
 * Registry entries `tsn` and `tsm` (one TSN definition; TSM adds the temporal shift through the
 * backbone hooks), following the official `make_temporal_shift`:
 *  - "blockres": each block's conv1 becomes `TemporalShift(conv1)` (`...conv1.net.weight`); the shortcut
 *    sees the unshifted input. With ResNet-101 and deeper (layer3 >= 23 blocks) only every other block
 *    of each stage is shifted (the official `n_round = 2`).
 *  - "block": each whole block becomes `TemporalShift(block)` (`layer1.0.net.conv1.weight`): the shift
 *    feeds both the branch and the shortcut.
 */
import { type ModelEntry, type ModelOption, type ModelOptions, registerModel, UserError } from "@blvnet/core";
import { tsnFromGolden } from "./golden-config.js";
import { classesOption, dropoutOption, frameOption, intAtLeast, probability, sizeOption, widthOption, widthTag } from "./options.js";
import { RESNET_DEPTHS, type ResNetHooks } from "./resnet2d.js";
import { TemporalShift } from "./temporal-shift.js";
import { TSN } from "./tsn.js";

export const SHIFT_PLACES = ["blockres", "block"] as const;
export type ShiftPlace = (typeof SHIFT_PLACES)[number];

export function tsmHooks(frames: number, shiftDiv: number, place: ShiftPlace): ResNetHooks {
  if (place === "block") return { wrapBlock: (block) => new TemporalShift(block, frames, shiftDiv) };
  return {
    wrapBranchConv: (conv, site) => {
      const nRound = site.stageBlocks[2] >= 23 ? 2 : 1;
      return site.index % nRound === 0 ? new TemporalShift(conv, frames, shiftDiv) : conv;
    },
  };
}

/** Options every TSN-style entry has (backbone, clip, head). */
export const tsnCommonOptions: ModelOption[] = [
  { name: "depth", type: "int", default: 50, description: "ResNet depth", choices: RESNET_DEPTHS },
  frameOption(8),
  sizeOption(224),
  classesOption(174),
  dropoutOption(0.5, "dropout before the classifier; > 0 moves it to new_fc.* (official checkpoints), 0 keeps base_model.fc.*"),
  widthOption,
];

export interface TsnCommon {
  depth: number;
  frames: number;
  size: number;
  numClasses: number;
  dropout: number;
  width: number;
}

export function tsnCommon(model: string, o: ModelOptions): TsnCommon {
  return {
    depth: o.depth as number,
    frames: intAtLeast(model, o, "frames", 1),
    size: intAtLeast(model, o, "size", 32),
    numClasses: intAtLeast(model, o, "numClasses", 1),
    dropout: probability(model, o, "dropout"),
    width: intAtLeast(model, o, "width", 1),
  };
}

export const tsnEntry: ModelEntry = {
  name: "tsn",
  description: "TSN: per-frame 2D ResNet + average consensus (official TSM code, is_shift=False)",
  goldenFamilies: ["tsn"],
  options: tsnCommonOptions,
  create(o) {
    const c = tsnCommon("tsn", o);
    return new TSN({ family: "tsn", id: `tsn-r${c.depth}${widthTag(c.width)}-f${c.frames}`, ...c, options: { ...o } });
  },
  fromGoldenConfig(cfg) {
    const g = tsnFromGolden(cfg);
    return g.shift ? null : g.options;
  },
};

export const tsmEntry: ModelEntry = {
  name: "tsm",
  description: "TSM: TSN with a temporal shift of 1/shiftDiv channels each way (Lin et al. 2019)",
  goldenFamilies: ["tsn"],
  options: [
    ...tsnCommonOptions,
    { name: "shiftDiv", type: "int", default: 8, description: "1/shiftDiv of the channels shift forward and 1/shiftDiv backward" },
    { name: "shiftPlace", type: "string", default: "blockres", description: "where the shift sits", choices: [...SHIFT_PLACES] },
  ],
  create(o) {
    const c = tsnCommon("tsm", o);
    const shiftDiv = intAtLeast("tsm", o, "shiftDiv", 2);
    const place = o.shiftPlace as ShiftPlace;
    if (!SHIFT_PLACES.includes(place)) throw new UserError(`option shiftPlace of model "tsm" must be one of ${SHIFT_PLACES.join(", ")}`);
    return new TSN({
      family: "tsm",
      id: `tsm-r${c.depth}${widthTag(c.width)}-s${shiftDiv}-${place}-f${c.frames}`,
      ...c,
      hooks: tsmHooks(c.frames, shiftDiv, place),
      options: { ...o },
    });
  },
  fromGoldenConfig(cfg) {
    const g = tsnFromGolden(cfg);
    return g.shift ? g.options : null;
  },
};

export function registerTsnModels(): void {
  registerModel(tsnEntry);
  registerModel(tsmEntry);
}
