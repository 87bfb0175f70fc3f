/**
 * torchvision.models.video ResNets (Tran et al. 2018, "A Closer Look at Spatiotemporal Convolutions"):
 * `r3d_18` (3x3x3 everywhere), `mc3_18` (3x3x3 in layer1, 1x3x3 after) and `r2plus1d_18`
 * (each 3x3x3 factorised into 1x3x3 -> BN -> ReLU -> 3x1x1 with `midplanes` in between), with
 * torchvision's names: `stem.{0,1,3,4}`, `layer1.0.conv1.0.weight` (or `.conv1.0.{0,1,3}` for R(2+1)D),
 * `layer2.0.downsample.{0,1}`, `fc`. Depth 34 ([3,4,6,3] basic blocks) is the same builder.
 * Input (N, 3, T, H, W).
 */
import { BatchNorm, Conv3d, type InputSpec, type Layer, Linear, Module, type Ops, RELU, Sequential, type Tap } from "@blvnet/core";
import { residual, resnetStages } from "./layers.js";
import { ResNet3dClassifier, type Video3dOptions } from "./resnet3d-classifier.js";

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

const BUILDERS: Record<VideoArch, ConvBuilder[]> = {
  r3d: [full3d, full3d, full3d, full3d],
  mc3: [full3d, noTemporal, noTemporal, noTemporal],
  r2plus1d: [twoPlusOne, twoPlusOne, twoPlusOne, twoPlusOne],
};

/** R(2+1)D's middle width: keeps the (2+1)D pair's parameter count close to one 3x3x3 conv. */
export function midplanes(inplanes: number, planes: number): number {
  return Math.floor((inplanes * planes * 27) / (inplanes * 9 + 3 * planes));
}

interface BasicBlock3dConfig {
  inplanes: number;
  planes: number;
  builder: ConvBuilder;
  stride: number;
  downsample: boolean;
}

/** torchvision video BasicBlock: conv1 = (conv, BN, ReLU), conv2 = (conv, BN), shortcut, add, ReLU. */
export class BasicBlock3d extends Module<BasicBlock3dConfig> {
  private readonly mid = midplanes(this.cfg.inplanes, this.cfg.planes);
  readonly #bn2 = new BatchNorm(this.cfg.planes); // private (#): a name for conv2's BN, not a second child
  conv1 = new Sequential([
    this.cfg.builder.make(this.cfg.inplanes, this.cfg.planes, this.mid, this.cfg.stride),
    new BatchNorm(this.cfg.planes),
    RELU,
  ]);
  conv2 = new Sequential([this.cfg.builder.make(this.cfg.planes, this.cfg.planes, this.mid, 1), this.#bn2]);
  downsample = this.cfg.downsample
    ? new Sequential([
        new Conv3d(this.cfg.inplanes, this.cfg.planes, 1, { stride: this.cfg.builder.downsampleStride(this.cfg.stride) }),
        new BatchNorm(this.cfg.planes),
      ])
    : null;

  get residualBn(): BatchNorm {
    return this.#bn2;
  }
  forward<T>(ops: Ops<T>, x: T): T {
    return residual(ops, this.conv2.forward(ops, this.conv1.forward(ops, x)), x, this.downsample);
  }
}

export type VideoResNetConfig = Video3dOptions & { arch: VideoArch };

export class VideoResNet extends ResNet3dClassifier<VideoResNetConfig> {
  readonly family = this.cfg.arch;
  readonly id = `${this.cfg.arch}-${this.cfg.depth}-f${this.cfg.frames}`;
  // The arch names the registry entry; it is not one of its options.
  override readonly options: Record<string, unknown> = (({ arch: _, ...options }) => options)(this.cfg);
  readonly inputSpec: InputSpec = this.spec(KINETICS_MEAN, KINETICS_STD);
  private readonly built = resnetStages(
    this.stageBlocks,
    64,
    1,
    (p) => new BasicBlock3d({ ...p, builder: BUILDERS[this.cfg.arch][p.stage]! }),
  );
  stem =
    this.cfg.arch === "r2plus1d"
      ? new Sequential([
          new Conv3d(3, 45, [1, 7, 7], { stride: [1, 2, 2], padding: [0, 3, 3] }),
          new BatchNorm(45),
          RELU,
          new Conv3d(45, 64, [3, 1, 1], { stride: 1, padding: [1, 0, 0] }),
          new BatchNorm(64),
          RELU,
        ])
      : new Sequential([new Conv3d(3, 64, [3, 7, 7], { stride: [1, 2, 2], padding: [1, 3, 3] }), new BatchNorm(64), RELU]);
  layer1 = this.built.stages[0]!;
  layer2 = this.built.stages[1]!;
  layer3 = this.built.stages[2]!;
  layer4 = this.built.stages[3]!;
  fc = new Linear(this.built.outChannels, this.cfg.numClasses);

  private get stageBlocks(): number[] {
    const blocks = STAGE_BLOCKS[this.cfg.depth];
    if (!blocks) throw new Error(`video ResNet depth ${this.cfg.depth} is not one of ${VIDEO_DEPTHS.join(", ")}`);
    return blocks;
  }
  get layers(): Sequential[] {
    return [this.layer1, this.layer2, this.layer3, this.layer4];
  }

  /** (N, 3, T, H, W) -> logits (N, numClasses). */
  forward<T>(ops: Ops<T>, x: T, tap?: Tap<T>): T {
    x = this.stem.forward(ops, x);
    tap?.("stem_out", x);
    return this.stagesAndHead(ops, x, tap);
  }
}
