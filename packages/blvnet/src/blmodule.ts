/**
 * bLModule (layers 1-3 of bLResNet): TAM over all frames, then a deep, strided "big" branch on the
 * odd frames and a shallow, narrow "little" branch at full resolution on the even frames. Big is
 * resized (nearest) to little's size and added pair by pair, then one "fusion" bottleneck runs on
 * the pairs and its output is written to both frames of each pair.
 */
import { BatchNorm, Conv2d, Module, type Ops, Sequential } from "@blvnet/core";
import { TAM } from "@blvnet/tam";
import { Stage } from "./bottleneck.js";
import { bigRows, duplicatedRows, littleRows } from "./frames.js";

export interface BLModuleConfig {
  inChannels: number;
  outChannels: number;
  blocks: number;
  alpha: number;
  beta: number;
  /** Stride of the fusion block (2, 2, 1 for layers 1-3). */
  stride: number;
  frames: number;
  /** 0 = no TAM. */
  blendingFrames: number;
}

export class BLModule extends Module<BLModuleConfig> {
  private readonly littleOut = this.cfg.outChannels / this.cfg.alpha;
  big = new Stage(this.cfg.inChannels, this.cfg.outChannels, this.cfg.blocks - 1, { stride: 2, lastRelu: false });
  little = new Stage(this.cfg.inChannels, this.littleOut, Math.max(1, Math.floor(this.cfg.blocks / this.cfg.beta) - 1));
  little_e = new Sequential([new Conv2d(this.littleOut, this.cfg.outChannels, 1), new BatchNorm(this.cfg.outChannels)]);
  fusion = new Stage(this.cfg.outChannels, this.cfg.outChannels, 1, { stride: this.cfg.stride });
  tam = this.cfg.blendingFrames > 0 ? new TAM(this.cfg.inChannels, this.cfg.frames, this.cfg.blendingFrames) : null;

  forward<T>(ops: Ops<T>, x: T, onTam?: (y: T) => void): T {
    const rows = ops.shape(x)[0];
    if (this.tam) {
      x = this.tam.forward(ops, x);
      onTam?.(x);
    }
    const bigIn = ops.gatherRows(x, bigRows(rows));
    const littleIn = ops.gatherRows(x, littleRows(rows));
    let big = this.big.forward(ops, bigIn);
    const little = this.little_e.forward(ops, this.little.forward(ops, littleIn));
    const [, , h, w] = ops.shape(little);
    const [, , bh, bw] = ops.shape(big);
    if (bh !== h || bw !== w) big = ops.resizeNearest(big, h, w);
    const y = this.fusion.forward(ops, ops.relu(ops.add(big, little)));
    return ops.gatherRows(y, duplicatedRows(rows / 2));
  }
}
