/**
 * bLResNet-50/101/152 with TAM, the official `bLVNet_TAM_BACKBONE`: a ResNet stem on every frame,
 * a big-little layer0, three bLModules (layers 1-3) on frame pairs, and a plain ResNet layer4 on
 * the big (odd) frames only, each of its blocks starting with a TAM over T/2 frames. The head gives
 * one logit vector per big frame (or the pooled features when the fc lives in the wrapper).
 */
import { BatchNorm, Conv2d, Linear, Module, ModuleList, release, scoped, type Ops, type Tap } from "@blvnet/core";
import { TAM } from "@blvnet/tam";
import { BLModule } from "./blmodule.js";
import { Bottleneck, EXPANSION, makeLayer, runBlocks } from "./bottleneck.js";
import { bigRows, duplicatedRows, littleRows } from "./frames.js";

/** Bottlenecks per stage (layer1..layer4) for each depth. */
export const STAGE_BLOCKS: Record<number, [number, number, number, number]> = {
  50: [3, 4, 6, 3],
  101: [4, 8, 18, 3],
  152: [5, 12, 30, 3],
};

export interface BackboneConfig {
  depth: number;
  alpha: number;
  beta: number;
  /** Frames per clip T (official `num_frames` = `groups`); even. */
  frames: number;
  /** Temporal offsets of every TAM; 0 = no TAM anywhere (the "notam" ablation). */
  blendingFrames: number;
  /** Classes of `fc`; null = no fc (the official dropout>0 wrapper replaces it by Dropout). */
  numClasses: number | null;
  inputChannels?: number;
  /** Base channel width w (stem and layer0 channels); stages use w, 2w, 4w, 8w (x4 out). Default 64 = official. */
  width?: number;
}

/** The official bLResNet is width 64; smaller widths give the same network, thinner (quick CPU runs). */
export const OFFICIAL_WIDTH = 64;

export class BLResNetBackbone extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm;
  readonly bConv0: Conv2d;
  readonly bnB0: BatchNorm;
  readonly lConv0: Conv2d;
  readonly bnL0: BatchNorm;
  readonly lConv1: Conv2d;
  readonly bnL1: BatchNorm;
  readonly lConv2: Conv2d;
  readonly bnL2: BatchNorm;
  readonly blInit: Conv2d;
  readonly bnBlInit: BatchNorm;
  readonly tam: TAM | null;
  readonly layers: [BLModule, BLModule, BLModule];
  readonly layer4: ModuleList<Bottleneck>;
  readonly fc: Linear | null;
  readonly featureDim: number;

  constructor(readonly cfg: BackboneConfig) {
    super();
    const blocks = STAGE_BLOCKS[cfg.depth];
    if (!blocks) throw new Error(`bLResNet: depth must be one of ${Object.keys(STAGE_BLOCKS).join(", ")}, got ${cfg.depth}`);
    const { alpha, beta, frames, blendingFrames: bf } = cfg;
    const c0 = cfg.width ?? OFFICIAL_WIDTH;
    if (!Number.isInteger(c0) || c0 < 1 || c0 % alpha !== 0) throw new Error(`bLResNet: width must be a positive multiple of alpha (${alpha}), got ${c0}`);
    const cl = c0 / alpha;
    this.conv1 = this.child("conv1", new Conv2d(cfg.inputChannels ?? 3, c0, 7, { stride: 2, padding: 3 }));
    this.bn1 = this.child("bn1", new BatchNorm(c0));
    this.bConv0 = this.child("b_conv0", new Conv2d(c0, c0, 3, { stride: 2, padding: 1 }));
    this.bnB0 = this.child("bn_b0", new BatchNorm(c0));
    this.lConv0 = this.child("l_conv0", new Conv2d(c0, cl, 3, { stride: 1, padding: 1 }));
    this.bnL0 = this.child("bn_l0", new BatchNorm(cl));
    this.lConv1 = this.child("l_conv1", new Conv2d(cl, cl, 3, { stride: 2, padding: 1 }));
    this.bnL1 = this.child("bn_l1", new BatchNorm(cl));
    this.lConv2 = this.child("l_conv2", new Conv2d(cl, c0, 1));
    this.bnL2 = this.child("bn_l2", new BatchNorm(c0));
    this.blInit = this.child("bl_init", new Conv2d(c0, c0, 1));
    this.bnBlInit = this.child("bn_bl_init", new BatchNorm(c0));
    this.tam = bf > 0 ? this.child("tam", new TAM(c0, frames, bf)) : null;

    const out = [1, 2, 4, 8].map((m) => m * c0 * EXPANSION);
    const stride = [2, 2, 1];
    const ins = [c0, out[0], out[1]];
    this.layers = [0, 1, 2].map((i) =>
      this.child(
        `layer${i + 1}`,
        new BLModule({ inChannels: ins[i], outChannels: out[i], blocks: blocks[i], alpha, beta, stride: stride[i], frames, blendingFrames: bf }),
      ),
    ) as [BLModule, BLModule, BLModule];
    // layer4 sees only the big frames: T/2 per clip.
    const tam4 = bf > 0 ? { tamFrames: frames / 2, blendingFrames: bf } : {};
    this.layer4 = this.child("layer4", new ModuleList(makeLayer(out[2], out[3], blocks[3], { stride: 2, ...tam4 })));
    this.featureDim = out[3];
    this.fc = cfg.numClasses !== null ? this.child("fc", new Linear(out[3], cfg.numClasses)) : null;
  }

  /** x: (N*T, 3, H, W) frames -> (N*T/2, classes) per-big-frame logits, or (N*T/2, 32*width) features without fc (2048 at width 64). */
  forward<T>(ops: Ops<T>, x: T, tap?: Tap<T>): T {
    // Each stage's input is released once the next stage exists, so memory peaks at one stage.
    let y = scoped(ops, () => ops.relu(this.bn1.forward(ops, this.conv1.forward(ops, x))));
    tap?.("stem_out", y);
    const advance = (next: T, name: string) => {
      release(ops, y);
      y = next;
      tap?.(name, y);
    };
    advance(this.forwardLayer0(ops, y, tap), "layer0_out");
    this.layers.forEach((layer, i) => {
      advance(layer.forward(ops, y, tap && ((t) => tap(`layer${i + 1}.tam_out`, t))), `layer${i + 1}_out`);
    });
    // layer4 runs on the big (odd) frames only
    const big = ops.gatherRows(y, bigRows(ops.shape(y)[0]));
    release(ops, y);
    y = big;
    advance(
      runBlocks(ops, y, this.layer4.items, tap && ((i, t) => tap(`layer4.${i}.tam_out`, t))),
      "layer4_out",
    );
    advance(ops.globalAvgPool(y), "pool");
    return this.fc ? this.fc.forward(ops, y) : y;
  }

  private forwardLayer0<T>(ops: Ops<T>, x: T, tap?: Tap<T>): T {
    const rows = ops.shape(x)[0];
    return scoped(ops, () => {
      let blended = x;
      if (this.tam) {
        blended = this.tam.forward(ops, x);
        tap?.("layer0.tam_out", blended);
      }
      const big = this.bnB0.forward(ops, this.bConv0.forward(ops, ops.gatherRows(blended, bigRows(rows))));
      let little = ops.gatherRows(blended, littleRows(rows));
      if (blended !== x) release(ops, blended);
      little = ops.relu(this.bnL0.forward(ops, this.lConv0.forward(ops, little)));
      little = ops.relu(this.bnL1.forward(ops, this.lConv1.forward(ops, little)));
      little = this.bnL2.forward(ops, this.lConv2.forward(ops, little));
      let y = ops.relu(ops.add(big, little));
      y = ops.relu(this.bnBlInit.forward(ops, this.blInit.forward(ops, y)));
      return ops.gatherRows(y, duplicatedRows(rows / 2));
    });
  }
}
