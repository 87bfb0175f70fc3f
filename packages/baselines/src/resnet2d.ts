/**
 * torchvision's 2D ResNet (v1.5: the stride sits on the 3x3 conv) with torchvision's module names
 * (`conv1`, `bn1`, `layer{1..4}.{i}.conv1`, `.downsample.0`, `fc`, ...), plus two hooks where the
 * temporal models plug in without a second copy of the network:
 *  - `wrapBranchConv`: replaces a block's first conv by a module that owns it as `net`
 *    (TSM "blockres" -> `conv1.net.weight`; TAM-ResNet -> `conv1.tam.*` + `conv1.net.weight`);
 *  - `wrapBlock`: replaces a whole block (TSM "block" -> `layer1.0.net.conv1.weight`).
 * Works on per-frame maps [N*T, C, H, W].
 */
import { BatchNorm, Conv2d, type Layer, Linear, Module, OFFICIAL_WIDTH, type Ops, Sequential, type Tap } from "@blvnet/core";
import { residual, resnetStages } from "./layers.js";

export type ResNetDepth = 18 | 34 | 50 | 101 | 152;
export const RESNET_DEPTHS: ResNetDepth[] = [18, 34, 50, 101, 152];

interface DepthSpec {
  bottleneck: boolean;
  blocks: [number, number, number, number];
}

const DEPTHS: Record<ResNetDepth, DepthSpec> = {
  18: { bottleneck: false, blocks: [2, 2, 2, 2] },
  34: { bottleneck: false, blocks: [3, 4, 6, 3] },
  50: { bottleneck: true, blocks: [3, 4, 6, 3] },
  101: { bottleneck: true, blocks: [3, 4, 23, 3] },
  152: { bottleneck: true, blocks: [3, 8, 36, 3] },
};

export function resnetSpec(depth: number): DepthSpec {
  const s = DEPTHS[depth as ResNetDepth];
  if (!s) throw new Error(`ResNet depth ${depth} is not one of ${RESNET_DEPTHS.join(", ")}`);
  return s;
}

/** Where a block sits, for hooks that act on some blocks only (TSM's n_round on ResNet-101). */
export interface BlockSite {
  /** 1..4 (torchvision's layer1..layer4). */
  stage: number;
  /** Index inside the stage. */
  index: number;
  inChannels: number;
  /** Blocks per stage of this depth, e.g. [3, 4, 23, 3]. */
  stageBlocks: readonly number[];
}

export interface ResNetHooks {
  /** Wrap the first conv of a block's residual branch (return it unchanged to leave it alone). */
  wrapBranchConv?(conv: Conv2d, site: BlockSite): Layer;
  /** Wrap a whole block (return it unchanged to leave it alone). */
  wrapBlock?(block: Layer, site: BlockSite): Layer;
}

const downsample = (inC: number, outC: number, stride: number) =>
  new Sequential([new Conv2d(inC, outC, 1, { stride }), new BatchNorm(outC)]);

interface BlockConfig {
  inplanes: number;
  planes: number;
  stride: number;
  downsample: boolean;
  /** Wraps the branch's first conv (the hooks' `wrapBranchConv`). */
  wrap: (conv: Conv2d) => Layer;
}

/** torchvision BasicBlock: 3x3(stride) - 3x3, identity or 1x1 downsample shortcut. */
export class BasicBlock extends Module<BlockConfig> {
  static readonly expansion = 1;
  conv1 = this.cfg.wrap(new Conv2d(this.cfg.inplanes, this.cfg.planes, 3, { stride: this.cfg.stride, padding: 1 }));
  bn1 = new BatchNorm(this.cfg.planes);
  conv2 = new Conv2d(this.cfg.planes, this.cfg.planes, 3, { padding: 1 });
  bn2 = new BatchNorm(this.cfg.planes);
  downsample = this.cfg.downsample ? downsample(this.cfg.inplanes, this.cfg.planes, this.cfg.stride) : null;

  get residualBn(): BatchNorm {
    return this.bn2;
  }
  forward<T>(ops: Ops<T>, x: T): T {
    const out = ops.relu(this.bn1.forward(ops, this.conv1.forward(ops, x)));
    return residual(ops, this.bn2.forward(ops, this.conv2.forward(ops, out)), x, this.downsample);
  }
}

/** torchvision Bottleneck (v1.5): 1x1 - 3x3(stride) - 1x1 (x4 channels). */
export class Bottleneck extends Module<BlockConfig> {
  static readonly expansion = 4;
  private readonly out = this.cfg.planes * Bottleneck.expansion;
  conv1 = this.cfg.wrap(new Conv2d(this.cfg.inplanes, this.cfg.planes, 1));
  bn1 = new BatchNorm(this.cfg.planes);
  conv2 = new Conv2d(this.cfg.planes, this.cfg.planes, 3, { stride: this.cfg.stride, padding: 1 });
  bn2 = new BatchNorm(this.cfg.planes);
  conv3 = new Conv2d(this.cfg.planes, this.out, 1);
  bn3 = new BatchNorm(this.out);
  downsample = this.cfg.downsample ? downsample(this.cfg.inplanes, this.out, this.cfg.stride) : null;

  get residualBn(): BatchNorm {
    return this.bn3;
  }
  forward<T>(ops: Ops<T>, x: T): T {
    let out = ops.relu(this.bn1.forward(ops, this.conv1.forward(ops, x)));
    out = ops.relu(this.bn2.forward(ops, this.conv2.forward(ops, out)));
    return residual(ops, this.bn3.forward(ops, this.conv3.forward(ops, out)), x, this.downsample);
  }
}

export interface ResNet2dConfig {
  depth: number;
  /** Classes of `fc`; 0 = no `fc` (the TSN wrapper then owns the classifier as `new_fc`). */
  numClasses: number;
  hooks?: ResNetHooks;
  /** Base width w: stem w channels, stage s planes w << s (default 64 = torchvision). */
  width?: number;
}

/** torchvision.models.resnet{18,34,50,101,152} (without its ImageNet weights). */
export class ResNet2d extends Module<ResNet2dConfig> {
  private readonly width = this.cfg.width ?? OFFICIAL_WIDTH;
  private readonly built = this.buildStages();
  conv1 = new Conv2d(3, this.width, 7, { stride: 2, padding: 3 });
  bn1 = new BatchNorm(this.width);
  layer1 = this.built.stages[0]!;
  layer2 = this.built.stages[1]!;
  layer3 = this.built.stages[2]!;
  layer4 = this.built.stages[3]!;
  fc = this.cfg.numClasses > 0 ? new Linear(this.built.outChannels, this.cfg.numClasses) : null;

  /** Channels of the pooled features (512 or 2048 at width 64). */
  get featureDim(): number {
    return this.built.outChannels;
  }

  private buildStages() {
    const { hooks } = this.cfg;
    const spec = resnetSpec(this.cfg.depth);
    const Block = spec.bottleneck ? Bottleneck : BasicBlock;
    return resnetStages(spec.blocks, this.width, Block.expansion, (p): Layer => {
      const site: BlockSite = { stage: p.stage + 1, index: p.index, inChannels: p.inplanes, stageBlocks: spec.blocks };
      const block = new Block({ ...p, wrap: (c) => hooks?.wrapBranchConv?.(c, site) ?? c });
      return hooks?.wrapBlock?.(block, site) ?? block;
    });
  }

  /** [N, 3, H, W] -> pooled features [N, featureDim]. */
  forwardFeatures<T>(ops: Ops<T>, x: T, tap?: Tap<T>): T {
    x = ops.relu(this.bn1.forward(ops, this.conv1.forward(ops, x)));
    x = ops.maxPool2d(x, { kernel: 3, stride: 2, padding: 1 });
    tap?.("stem_out", x);
    [this.layer1, this.layer2, this.layer3, this.layer4].forEach((layer, i) => {
      x = layer.forward(ops, x);
      tap?.(`layer${i + 1}_out`, x);
    });
    x = ops.globalAvgPool(x);
    tap?.("pool", x);
    return x;
  }

  forward<T>(ops: Ops<T>, x: T, tap?: Tap<T>): T {
    const f = this.forwardFeatures(ops, x, tap);
    if (!this.fc) throw new Error("ResNet2d built without fc (numClasses 0): use forwardFeatures");
    return this.fc.forward(ops, f);
  }
}
