/**
 * torchvision.models.video ResNets (Tran et al. 2018, "A Closer Look at Spatiotemporal Convolutions"):
 * `r3d_18` (3x3x3 everywhere), `mc3_18` (3x3x3 in layer1, 1x3x3 after) and `r2plus1d_18`
 * (each 3x3x3 factorised into 1x3x3 -> BN -> ReLU -> 3x1x1 with `midplanes` in between), with
 * torchvision's names: `stem.{0,1,3,4}`, `layer1.0.conv1.0.weight` (or `.conv1.0.{0,1,3}` for R(2+1)D),
 * `layer2.0.downsample.{0,1}`, `fc`. Depth 34 ([3,4,6,3] basic blocks) is the same builder.
 * Input (N, 3, T, H, W).
 */
import { BatchNorm, Conv3d, Linear, Module, type Ops } from "@blvnet/core";
import { type Layer, RELU, residual, resnetStages, Sequential, type Stage, type Tap } from "./layers.js";
import { type Classifier3dConfig, ResNet3dClassifier } from "./resnet3d-classifier.js";

export const VIDEO_ARCHS = ["r3d", "mc3", "r2plus1d"] as const;
export type VideoArch = (typeof VIDEO_ARCHS)[number];

/** Kinetics-400 statistics used by torchvision's video models. */
export const KINETICS_MEAN: [number, number, number] = [0.43216, 0.394666, 0.37645];
export const KINETICS_STD: [number, number, number] = [0.22803, 0.22145, 0.216989];

const STAGE_BLOCKS: Record<number, number[]> = { 18: [2, 2, 2, 2], 34: [3, 4, 6, 3] };
export const VIDEO_DEPTHS = [18, 34];

/** One "3x3x3-like" conv of a block: what torchvision calls a conv builder. */
interface ConvBuilder {
  make(inC: number, outC: number, mid: number, stride: number): Layer;
  /** Stride (t, h, w) of the block's 1x1x1 downsample shortcut. */
  downsampleStride(stride: number): [number, number, number];
}

const full3d: ConvBuilder = {
  make: (i, o, _m, s) => new Conv3d(i, o, 3, { stride: s, padding: 1 }),
  downsampleStride: (s) => [s, s, s],
};

const noTemporal: ConvBuilder = {
  make: (i, o, _m, s) => new Conv3d(i, o, [1, 3, 3], { stride: [1, s, s], padding: [0, 1, 1] }),
  downsampleStride: (s) => [1, s, s],
};

const twoPlusOne: ConvBuilder = {
  make: (i, o, m, s) =>
    new Sequential([
      new Conv3d(i, m, [1, 3, 3], { stride: [1, s, s], padding: [0, 1, 1] }),
      new BatchNorm(m),
      RELU,
      new Conv3d(m, o, [3, 1, 1], { stride: [s, 1, 1], padding: [1, 0, 0] }),
    ]),
  downsampleStride: (s) => [s, s, s],
};

function buildersOf(arch: VideoArch): ConvBuilder[] {
  switch (arch) {
    case "r3d":
      return [full3d, full3d, full3d, full3d];
    case "mc3":
      return [full3d, noTemporal, noTemporal, noTemporal];
    case "r2plus1d":
      return [twoPlusOne, twoPlusOne, twoPlusOne, twoPlusOne];
  }
}

/** R(2+1)D's middle width: keeps the (2+1)D pair's parameter count close to one 3x3x3 conv. */
export function midplanes(inplanes: number, planes: number): number {
  return Math.floor((inplanes * planes * 27) / (inplanes * 9 + 3 * planes));
}

/** torchvision video BasicBlock: conv1 = (conv, BN, ReLU), conv2 = (conv, BN), shortcut, add, ReLU. */
export class BasicBlock3d extends Module {
  readonly conv1: Sequential;
  readonly conv2: Sequential;
  readonly downsample: Sequential | null;

  constructor(inplanes: number, planes: number, builder: ConvBuilder, stride: number, downsample: boolean) {
    super();
    const mid = midplanes(inplanes, planes);
    this.conv1 = this.child("conv1", new Sequential([builder.make(inplanes, planes, mid, stride), new BatchNorm(planes), RELU]));
    this.conv2 = this.child("conv2", new Sequential([builder.make(planes, planes, mid, 1), new BatchNorm(planes)]));
    this.downsample = downsample
      ? this.child("downsample", new Sequential([new Conv3d(inplanes, planes, 1, { stride: builder.downsampleStride(stride) }), new BatchNorm(planes)]))
      : null;
  }

  forward<T>(ops: Ops<T>, x: T): T {
    return residual(ops, this.conv2.forward(ops, this.conv1.forward(ops, x)), x, this.downsample);
  }
}

export interface VideoResNetConfig extends Classifier3dConfig {
  arch: VideoArch;
  depth: number;
}

export class VideoResNet extends ResNet3dClassifier {
  readonly family: string;
  readonly stem: Sequential;
  readonly layers: Stage[];
  readonly fc: Linear;

  constructor(cfg: VideoResNetConfig) {
    super(cfg, KINETICS_MEAN, KINETICS_STD);
    this.family = cfg.arch;
    const blocks = STAGE_BLOCKS[cfg.depth];
    if (!blocks) throw new Error(`video ResNet depth ${cfg.depth} is not one of ${VIDEO_DEPTHS.join(", ")}`);
    this.stem = this.child(
      "stem",
      cfg.arch === "r2plus1d"
        ? new Sequential([
            new Conv3d(3, 45, [1, 7, 7], { stride: [1, 2, 2], padding: [0, 3, 3] }),
            new BatchNorm(45),
            RELU,
            new Conv3d(45, 64, [3, 1, 1], { stride: 1, padding: [1, 0, 0] }),
            new BatchNorm(64),
            RELU,
          ])
        : new Sequential([new Conv3d(3, 64, [3, 7, 7], { stride: [1, 2, 2], padding: [1, 3, 3] }), new BatchNorm(64), RELU]),
    );
    const builders = buildersOf(cfg.arch);
    const { stages, outChannels } = resnetStages(blocks, 64, 1, (p) => new BasicBlock3d(p.inplanes, p.planes, builders[p.stage]!, p.stride, p.downsample));
    this.layers = stages.map((stage, s) => this.child(`layer${s + 1}`, stage));
    this.fc = this.child("fc", new Linear(outChannels, cfg.numClasses));
  }

  /** (N, 3, T, H, W) -> logits (N, numClasses). */
  forward<T>(ops: Ops<T>, x: T, tap?: Tap<T>): T {
    x = this.stem.forward(ops, x);
    tap?.("stem_out", x);
    return this.stagesAndHead(ops, x, tap);
  }
}
