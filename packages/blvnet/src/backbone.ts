/**
 * bLResNet-50/101/152 with TAM, the official `bLVNet_TAM_BACKBONE`: a ResNet stem on every frame,
 * a big-little layer0, three bLModules (layers 1-3) on frame pairs, and a plain ResNet layer4 on
 * the big (odd) frames only, each of its blocks starting with a TAM over T/2 frames. The head gives
 * one logit vector per big frame (or the pooled features when the fc lives in the wrapper).
 */
import { BatchNorm, Conv2d, Linear, Module, OFFICIAL_WIDTH, type Ops, type Tap } from "@blvnet/core";
import { TAM } from "@blvnet/tam";
import { BLModule } from "./blmodule.js";
import { EXPANSION, Stage } from "./bottleneck.js";
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

export class BLResNetBackbone extends Module<BackboneConfig> {
  private readonly c0 = this.cfg.width ?? OFFICIAL_WIDTH;
  private readonly cl = this.c0 / this.cfg.alpha;
  /** Output channels of layer1..layer4. */
  private readonly out = [1, 2, 4, 8].map((m) => m * this.c0 * EXPANSION);
  conv1 = new Conv2d(this.cfg.inputChannels ?? 3, this.c0, 7, { stride: 2, padding: 3 });
  bn1 = new BatchNorm(this.c0);
  b_conv0 = new Conv2d(this.c0, this.c0, 3, { stride: 2, padding: 1 });
  bn_b0 = new BatchNorm(this.c0);
  l_conv0 = new Conv2d(this.c0, this.cl, 3, { stride: 1, padding: 1 });
  bn_l0 = new BatchNorm(this.cl);
  l_conv1 = new Conv2d(this.cl, this.cl, 3, { stride: 2, padding: 1 });
  bn_l1 = new BatchNorm(this.cl);
  l_conv2 = new Conv2d(this.cl, this.c0, 1);
  bn_l2 = new BatchNorm(this.c0);
  bl_init = new Conv2d(this.c0, this.c0, 1);
  bn_bl_init = new BatchNorm(this.c0);
  tam = this.cfg.blendingFrames > 0 ? new TAM(this.c0, this.cfg.frames, this.cfg.blendingFrames) : null;
  layer1 = this.blModule(0, this.c0, 2);
  layer2 = this.blModule(1, this.out[0]!, 2);
  layer3 = this.blModule(2, this.out[1]!, 1);
  // layer4 sees only the big frames: T/2 per clip.
  layer4 = new Stage(this.out[2]!, this.out[3]!, this.blocks[3], {
    stride: 2,
    ...(this.cfg.blendingFrames > 0 ? { tamFrames: this.cfg.frames / 2, blendingFrames: this.cfg.blendingFrames } : {}),
  });
  fc = this.cfg.numClasses !== null ? new Linear(this.out[3]!, this.cfg.numClasses) : null;

  private get blocks(): [number, number, number, number] {
    const b = STAGE_BLOCKS[this.cfg.depth];
    if (!b) throw new Error(`bLResNet: depth must be one of ${Object.keys(STAGE_BLOCKS).join(", ")}, got ${this.cfg.depth}`);
    return b;
  }

  private blModule(i: number, inChannels: number, stride: number): BLModule {
    const { alpha, beta, frames, blendingFrames } = this.cfg;
    return new BLModule({ inChannels, outChannels: this.out[i]!, blocks: this.blocks[i]!, alpha, beta, stride, frames, blendingFrames });
  }

  /** Channels of the pooled features (32 x width: 2048 at width 64). */
  get featureDim(): number {
    return this.out[3]!;
  }

  /** x: (N*T, 3, H, W) frames -> (N*T/2, classes) per-big-frame logits, or (N*T/2, featureDim) features without fc. */
  forward<T>(ops: Ops<T>, x: T, tap?: Tap<T>): T {
    x = ops.relu(this.bn1.forward(ops, this.conv1.forward(ops, x)));
    tap?.("stem_out", x);
    x = this.forwardLayer0(ops, x, tap);
    tap?.("layer0_out", x);
    [this.layer1, this.layer2, this.layer3].forEach((layer, i) => {
      x = layer.forward(ops, x, tap && ((t) => tap(`layer${i + 1}.tam_out`, t)));
      tap?.(`layer${i + 1}_out`, x);
    });
    // layer4 runs on the big (odd) frames only
    x = this.layer4.forward(ops, ops.gatherRows(x, bigRows(ops.shape(x)[0])), tap && ((i, t) => tap(`layer4.${i}.tam_out`, t)));
    tap?.("layer4_out", x);
    x = ops.globalAvgPool(x);
    tap?.("pool", x);
    return this.fc ? this.fc.forward(ops, x) : x;
  }

  private forwardLayer0<T>(ops: Ops<T>, x: T, tap?: Tap<T>): T {
    const rows = ops.shape(x)[0];
    if (this.tam) {
      x = this.tam.forward(ops, x);
      tap?.("layer0.tam_out", x);
    }
    const big = this.bn_b0.forward(ops, this.b_conv0.forward(ops, ops.gatherRows(x, bigRows(rows))));
    let little = ops.gatherRows(x, littleRows(rows));
    little = ops.relu(this.bn_l0.forward(ops, this.l_conv0.forward(ops, little)));
    little = ops.relu(this.bn_l1.forward(ops, this.l_conv1.forward(ops, little)));
    little = this.bn_l2.forward(ops, this.l_conv2.forward(ops, little));
    const y = ops.relu(this.bn_bl_init.forward(ops, this.bl_init.forward(ops, ops.relu(ops.add(big, little)))));
    return ops.gatherRows(y, duplicatedRows(rows / 2));
  }
}
