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
import { int, type Layer, Module, type Ops, type OptionsOf, widthTag } from "@blvnet/core";
import { TAM } from "@blvnet/tam";
import type { ResNetHooks } from "./resnet2d.js";
import { TSN, tsnOptions } from "./tsn.js";

/** TAM, then the wrapped conv (`tam.*`, then `net.*`). */
export class TamConv<M extends Layer = Layer> extends Module<{ net: M; channels: number; frames: number; blendingFrames: number }> {
  tam = new TAM(this.cfg.channels, this.cfg.frames, this.cfg.blendingFrames);
  net = this.cfg.net;

  constructor(net: M, channels: number, frames: number, blendingFrames: number) {
    super({ net, channels, frames, blendingFrames });
  }

  forward<T>(ops: Ops<T>, x: T): T {
    return this.net.forward(ops, this.tam.forward(ops, x));
  }
}

export function tamHooks(frames: number, blendingFrames: number): ResNetHooks {
  return {
    wrapBranchConv: (conv, site) => {
      const nRound = site.stageBlocks[2]! >= 23 ? 2 : 1;
      return site.index % nRound === 0 ? new TamConv(conv, site.inChannels, frames, blendingFrames) : conv;
    },
  };
}

export const tamResnetOptions = { ...tsnOptions, blendingFrames: int(3, "temporal offsets TAM blends", { min: 1, parity: "odd" }) };
export type TamResnetOptions = OptionsOf<typeof tamResnetOptions>;

export class TamResNet extends TSN<TamResnetOptions> {
  override readonly family = "tam-resnet";

  override get id(): string {
    const { depth, width, blendingFrames, frames } = this.cfg;
    return `tam-r${depth}${widthTag(width)}-bf${blendingFrames}-f${frames}`;
  }
  protected override hooks(): ResNetHooks {
    return tamHooks(this.cfg.frames, this.cfg.blendingFrames);
  }
}
