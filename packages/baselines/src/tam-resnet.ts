/**
 * TAM-ResNet (registry `tam-resnet`): the TSN/TSM ResNet with bLVNet-TAM's Temporal Aggregation Module
 * where TSM "blockres" puts its shift, so the two temporal modules can be compared on one backbone.
 * No official model exists; our choices, mirroring TSM "blockres":
 *  - each block's conv1 becomes `TamConv(conv1)`: TAM(C_in, frames, blendingFrames) then the conv,
 *    keys `base_model.layer1.0.conv1.tam.{prev,next,curr}.weight` (B = 3; `tam.blending_layers.{k}.weight`
 *    otherwise) followed by `base_model.layer1.0.conv1.net.weight`;
 *  - the shortcut (identity or downsample) sees the block input before TAM, as TSM's does;
 *  - blocks chosen as TSM's: all of them, every other one per stage for ResNet-101 and deeper.
 * TAM costs B*C_in extra parameters per wrapped block (B = 3: +39,360 on ResNet-50).
 */
import { type ModelEntry, Module, type Ops, registerModel, UserError } from "@blvnet/core";
import { TAM } from "@blvnet/tam";
import type { Layer } from "./layers.js";
import type { ResNetHooks } from "./resnet2d.js";
import { widthTag } from "./options.js";
import { tsnCommon, tsnCommonOptions } from "./tsm.js";
import { TSN } from "./tsn.js";

/** TAM, then the wrapped conv (`tam.*`, then `net.*`). */
export class TamConv<M extends Layer = Layer> extends Module {
  readonly tam: TAM;
  constructor(
    readonly net: M,
    channels: number,
    frames: number,
    blendingFrames: number,
  ) {
    super();
    this.tam = this.child("tam", new TAM(channels, frames, blendingFrames));
    this.child("net", net);
  }

  forward<T>(ops: Ops<T>, x: T): T {
    return this.net.forward(ops, this.tam.forward(ops, x));
  }
}

export function tamHooks(frames: number, blendingFrames: number): ResNetHooks {
  return {
    wrapBranchConv: (conv, site) => {
      const nRound = site.stageBlocks[2] >= 23 ? 2 : 1;
      return site.index % nRound === 0 ? new TamConv(conv, site.inChannels, frames, blendingFrames) : conv;
    },
  };
}

export const tamResnetEntry: ModelEntry = {
  name: "tam-resnet",
  description: "TAM-ResNet: TSN with bLVNet-TAM's temporal aggregation at the start of each residual branch",
  options: [
    ...tsnCommonOptions,
    { name: "blendingFrames", type: "int", default: 3, description: "temporal offsets TAM blends (odd)" },
  ],
  create(o) {
    const c = tsnCommon("tam-resnet", o);
    const bf = o.blendingFrames as number;
    if (!Number.isInteger(bf) || bf < 1 || bf % 2 !== 1) {
      throw new UserError(`option blendingFrames of model "tam-resnet" must be a positive odd integer, got ${bf}`);
    }
    return new TSN({
      family: "tam-resnet",
      id: `tam-r${c.depth}${widthTag(c.width)}-bf${bf}-f${c.frames}`,
      ...c,
      hooks: tamHooks(c.frames, bf),
      options: { ...o },
    });
  },
};

export function registerTamResnet(): void {
  registerModel(tamResnetEntry);
}
