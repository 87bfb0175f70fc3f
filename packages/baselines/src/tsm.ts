/**
 * TSM (registry `tsm`): TSN with the temporal shift plugged into the backbone, following the
 * official `make_temporal_shift`:
 *  - "blockres": each block's conv1 becomes `TemporalShift(conv1)` (`...conv1.net.weight`); the shortcut
 *    sees the unshifted input. With ResNet-101 and deeper (layer3 >= 23 blocks) only every other block
 *    of each stage is shifted (the official `n_round = 2`).
 *  - "block": each whole block becomes `TemporalShift(block)` (`layer1.0.net.conv1.weight`): the shift
 *    feeds both the branch and the shortcut.
 */
import { choice, int, type OptionsOf, widthTag } from "@blvnet/core";
import type { ResNetHooks } from "./resnet2d.js";
import { TemporalShift } from "./temporal-shift.js";
import { TSN, tsnOptions } from "./tsn.js";

export const SHIFT_PLACES = ["blockres", "block"] as const;
export type ShiftPlace = (typeof SHIFT_PLACES)[number];

export const tsmOptions = {
  ...tsnOptions,
  shiftDiv: int(8, "1/shiftDiv of the channels shift forward and 1/shiftDiv backward", { min: 2 }),
  shiftPlace: choice(SHIFT_PLACES, "blockres", "where the shift sits"),
};
export type TsmOptions = OptionsOf<typeof tsmOptions>;

export function tsmHooks(frames: number, shiftDiv: number, place: ShiftPlace): ResNetHooks {
  if (place === "block") return { wrapBlock: (block) => new TemporalShift(block, frames, shiftDiv) };
  return {
    wrapBranchConv: (conv, site) => {
      const nRound = site.stageBlocks[2]! >= 23 ? 2 : 1;
      return site.index % nRound === 0 ? new TemporalShift(conv, frames, shiftDiv) : conv;
    },
  };
}

export class TSM extends TSN<TsmOptions> {
  override readonly family = "tsm";

  override get id(): string {
    const { depth, width, shiftDiv, shiftPlace, frames } = this.cfg;
    return `tsm-r${depth}${widthTag(width)}-s${shiftDiv}-${shiftPlace}-f${frames}`;
  }
  protected override hooks(): ResNetHooks {
    return tsmHooks(this.cfg.frames, this.cfg.shiftDiv, this.cfg.shiftPlace);
  }
}
