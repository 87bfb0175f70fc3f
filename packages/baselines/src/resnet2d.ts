/**
 * torchvision's 2D ResNet (v1.5: the stride sits on the 3x3 conv) with torchvision's module names
 * (`conv1`, `bn1`, `layer{1..4}.{i}.conv1`, `.downsample.0`, `fc`, ...), plus two hooks where the
 * temporal models plug in without a second copy of the network:
 *  - `wrapBranchConv`: replaces a block's first conv by a module that owns it as `net`
 *    (TSM "blockres" -> `conv1.net.weight`; TAM-ResNet -> `conv1.tam.*` + `conv1.net.weight`);
 *  - `wrapBlock`: replaces a whole block (TSM "block" -> `layer1.0.net.conv1.weight`).
 * Works on per-frame maps [N*T, C, H, W].
 */
import { BatchNorm, Conv2d, Linear, Module, type Ops } from "@blvnet/core";
import { type Layer, residual, resnetStages, type Stage, type Tap } from "./layers.js";

export type ResNetDepth = 18 | 34 | 50 | 101 | 152;
export const RESNET_DEPTHS: ResNetDepth[] = [18, 34, 50, 101, 152];

/** torchvision's base width: stem and layer1 planes (stage s has width << s planes). */
export const OFFICIAL_WIDTH = 64;

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

class Downsample extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm;
  constructor(inC: number, outC: number, stride: number) {
    super();
    this.conv = this.child("0", new Conv2d(inC, outC, 1, { stride }));
    this.bn = this.child("1", new BatchNorm(outC));
  }
  forward<T>(ops: Ops<T>, x: T): T {
    return this.bn.forward(ops, this.conv.forward(ops, x));
  }
}

type WrapConv = (conv: Conv2d) => Layer;

/** torchvision BasicBlock: 3x3(stride) - 3x3, identity or 1x1 downsample shortcut. */
export class BasicBlock extends Module {
  static readonly expansion = 1;
  readonly conv1: Layer;
  readonly bn1: BatchNorm;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm;
  readonly downsample: Downsample | null;

  constructor(inplanes: number, planes: number, stride: number, downsample: boolean, wrap: WrapConv = (c) => c) {
    super();
    this.conv1 = this.child("conv1", wrap(new Conv2d(inplanes, planes, 3, { stride, padding: 1 })));
    this.bn1 = this.child("bn1", new BatchNorm(planes));
    this.conv2 = this.child("conv2", new Conv2d(planes, planes, 3, { padding: 1 }));
    this.bn2 = this.child("bn2", new BatchNorm(planes));
    this.downsample = downsample ? this.child("downsample", new Downsample(inplanes, planes, stride)) : null;
  }

  forward<T>(ops: Ops<T>, x: T): T {
    let out = ops.relu(this.bn1.forward(ops, this.conv1.forward(ops, x)));
    out = this.bn2.forward(ops, this.conv2.forward(ops, out));
    return residual(ops, out, x, this.downsample);
  }
}

/** torchvision Bottleneck (v1.5): 1x1 - 3x3(stride) - 1x1 (x4 channels). */
export class Bottleneck extends Module {
  static readonly expansion = 4;
  readonly conv1: Layer;
  readonly bn1: BatchNorm;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm;
  readonly downsample: Downsample | null;

  constructor(inplanes: number, planes: number, stride: number, downsample: boolean, wrap: WrapConv = (c) => c) {
    super();
    const out = planes * Bottleneck.expansion;
    this.conv1 = this.child("conv1", wrap(new Conv2d(inplanes, planes, 1)));
    this.bn1 = this.child("bn1", new BatchNorm(planes));
    this.conv2 = this.child("conv2", new Conv2d(planes, planes, 3, { stride, padding: 1 }));
    this.bn2 = this.child("bn2", new BatchNorm(planes));
    this.conv3 = this.child("conv3", new Conv2d(planes, out, 1));
    this.bn3 = this.child("bn3", new BatchNorm(out));
    this.downsample = downsample ? this.child("downsample", new Downsample(inplanes, out, stride)) : null;
  }

  forward<T>(ops: Ops<T>, x: T): T {
    let out = ops.relu(this.bn1.forward(ops, this.conv1.forward(ops, x)));
    out = ops.relu(this.bn2.forward(ops, this.conv2.forward(ops, out)));
    out = this.bn3.forward(ops, this.conv3.forward(ops, out));
    return residual(ops, out, x, this.downsample);
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
export class ResNet2d extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm;
  readonly layers: Stage[];
  readonly fc: Linear | null;
  /** Channels of the pooled features (512 or 2048 at width 64). */
  readonly featureDim: number;

  constructor(readonly cfg: ResNet2dConfig) {
    super();
    const spec = resnetSpec(cfg.depth);
    const expansion = spec.bottleneck ? Bottleneck.expansion : BasicBlock.expansion;
    const width = cfg.width ?? OFFICIAL_WIDTH;
    if (!Number.isInteger(width) || width < 1) throw new Error(`ResNet width must be a positive integer, got ${width}`);
    this.conv1 = this.child("conv1", new Conv2d(3, width, 7, { stride: 2, padding: 3 }));
    this.bn1 = this.child("bn1", new BatchNorm(width));
    const { stages, outChannels } = resnetStages(spec.blocks, width, expansion, (p): Layer => {
      const site: BlockSite = { stage: p.stage + 1, index: p.index, inChannels: p.inplanes, stageBlocks: spec.blocks };
      const wrap: WrapConv = (c) => cfg.hooks?.wrapBranchConv?.(c, site) ?? c;
      const block: Layer = spec.bottleneck
        ? new Bottleneck(p.inplanes, p.planes, p.stride, p.downsample, wrap)
        : new BasicBlock(p.inplanes, p.planes, p.stride, p.downsample, wrap);
      return cfg.hooks?.wrapBlock?.(block, site) ?? block;
    });
    this.layers = stages.map((stage, s) => this.child(`layer${s + 1}`, stage));
    this.featureDim = outChannels;
    this.fc = cfg.numClasses > 0 ? this.child("fc", new Linear(outChannels, cfg.numClasses)) : null;
  }

  /** [N, 3, H, W] -> pooled features [N, featureDim]. */
  forwardFeatures<T>(ops: Ops<T>, x: T, tap?: Tap<T>): T {
    x = ops.relu(this.bn1.forward(ops, this.conv1.forward(ops, x)));
    x = ops.maxPool2d(x, { kernel: 3, stride: 2, padding: 1 });
    tap?.("stem_out", x);
    this.layers.forEach((layer, i) => {
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
