/**
 * bLModule (layers 1-3 of bLResNet): TAM over all frames, then a deep, strided "big" branch on the
 * odd frames and a shallow, narrow "little" branch at full resolution on the even frames. Big is
 * resized (nearest) to little's size and added pair by pair, then one "fusion" bottleneck runs on
 * the pairs and its output is written to both frames of each pair.
 */
import { BatchNorm, Conv2d, Module, ModuleList, release, scoped, type Ops } from "@blvnet/core";
import { TAM } from "@blvnet/tam";
import { Bottleneck, makeLayer, runBlocks } from "./bottleneck.js";
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

export class BLModule extends Module {
  readonly big: ModuleList<Bottleneck>;
  readonly little: ModuleList<Bottleneck>;
  readonly littleConv: Conv2d;
  readonly littleBn: BatchNorm;
  readonly fusion: ModuleList<Bottleneck>;
  readonly tam: TAM | null;

  constructor(cfg: BLModuleConfig) {
    super();
    const { inChannels: cin, outChannels: cout, blocks, alpha, beta } = cfg;
    this.big = this.child("big", new ModuleList(makeLayer(cin, cout, blocks - 1, { stride: 2, lastRelu: false })));
    this.little = this.child("little", new ModuleList(makeLayer(cin, cout / alpha, Math.max(1, Math.floor(blocks / beta) - 1))));
    this.littleConv = new Conv2d(cout / alpha, cout, 1);
    this.littleBn = new BatchNorm(cout);
    this.child("little_e", new ModuleList<Module>([this.littleConv, this.littleBn]));
    this.fusion = this.child("fusion", new ModuleList(makeLayer(cout, cout, 1, { stride: cfg.stride })));
    this.tam = cfg.blendingFrames > 0 ? this.child("tam", new TAM(cin, cfg.frames, cfg.blendingFrames)) : null;
  }

  forward<T>(ops: Ops<T>, x: T, onTam?: (y: T) => void): T {
    const rows = ops.shape(x)[0];
    return scoped(ops, () => {
      let blended = x;
      if (this.tam) {
        blended = this.tam.forward(ops, x);
        onTam?.(blended);
      }
      const bigIn = ops.gatherRows(blended, bigRows(rows));
      const littleIn = ops.gatherRows(blended, littleRows(rows));
      if (blended !== x) release(ops, blended);
      let big = runBlocks(ops, bigIn, this.big.items);
      let little = runBlocks(ops, littleIn, this.little.items);
      for (const [out, input] of [[big, bigIn], [little, littleIn]]) if (out !== input) release(ops, input);
      little = this.littleBn.forward(ops, this.littleConv.forward(ops, little));
      const [, , h, w] = ops.shape(little);
      const [, , bh, bw] = ops.shape(big);
      if (bh !== h || bw !== w) big = ops.resizeNearest(big, h, w);
      const fused = ops.relu(ops.add(big, little));
      release(ops, big, little);
      const y = runBlocks(ops, fused, this.fusion.items);
      return ops.gatherRows(y, duplicatedRows(rows / 2));
    });
  }
}
