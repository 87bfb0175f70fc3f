/**
 * I3D-ResNet-50/101 as released with the non-local paper (Wang et al., CVPR 2018;
 * facebookresearch/video-nonlocal-net `lib/models/resnet_video.py`, `obtain_arc` arc 2/4, the
 * 8-frame models; SlowFast's `I3D_8x8_R50` is the same network):
 *  - conv1 5x7x7, stride (1,2,2); pool1 max 1x3x3, stride (1,2,2);
 *  - res2 = layer1, then pool2 = max 2x1x1 with temporal stride 2 (the only temporal downsampling);
 *  - bottlenecks (stride on the 1x3x3) whose first 1x1 is inflated to 3x1x1 in: every res2 block,
 *    blocks 0,2 of res3, 0,2,4,... of res4, block 1 of res5 ("inflate every other block");
 *  - global average pool, (dropout,) fc.
 * Names follow torchvision's 2D ResNet (`conv1`, `bn1`, `layer1.0.conv1.weight` of shape
 * [64, 64, 3, 1, 1], `layer1.0.downsample.{0,1}`, `fc`), i.e. an inflated torchvision checkpoint.
 * Deviation: the Caffe2 pool1 uses no padding; we pad it by (0,1,1) like torchvision/SlowFast, so
 * 224 input gives 56x56 after pool1 (the Caffe2 model gets 55x55; parameters are unaffected).
 * Input (N, 3, T, H, W); T >= 2 (pool2 halves it).
 */
import {
  BatchNorm,
  Conv3d,
  IMAGENET_MEAN,
  IMAGENET_STD,
  type InputSpec,
  Linear,
  Module,
  type Ops,
  Sequential,
  type Tap,
} from "@blvnet/core";
import { residual, resnetStages } from "./layers.js";
import { ResNet3dClassifier, type Video3dOptions } from "./resnet3d-classifier.js";

const STAGE_BLOCKS: Record<number, number[]> = { 50: [3, 4, 6, 3], 101: [3, 4, 23, 3] };
export const I3D_DEPTHS = [50, 101];

/** Whether block `index` of stage `stage` (0..3) has a 3x1x1 first conv (non-local code's use_temp_convs). */
export function i3dInflated(stage: number, index: number): boolean {
  if (stage === 0) return true;
  if (stage === 3) return index % 2 === 1;
  return index % 2 === 0;
}

interface Bottleneck3dConfig {
  inplanes: number;
  planes: number;
  stride: number;
  temporalKernel: number;
  downsample: boolean;
}

export class Bottleneck3d extends Module<Bottleneck3dConfig> {
  private readonly out = this.cfg.planes * 4;
  private readonly kt = this.cfg.temporalKernel;
  conv1 = new Conv3d(this.cfg.inplanes, this.cfg.planes, [this.kt, 1, 1], { padding: [this.kt >> 1, 0, 0] });
  bn1 = new BatchNorm(this.cfg.planes);
  conv2 = new Conv3d(this.cfg.planes, this.cfg.planes, [1, 3, 3], { stride: [1, this.cfg.stride, this.cfg.stride], padding: [0, 1, 1] });
  bn2 = new BatchNorm(this.cfg.planes);
  conv3 = new Conv3d(this.cfg.planes, this.out, 1);
  bn3 = new BatchNorm(this.out);
  downsample = this.cfg.downsample
    ? new Sequential([
        new Conv3d(this.cfg.inplanes, this.out, 1, { stride: [1, this.cfg.stride, this.cfg.stride] }),
        new BatchNorm(this.out),
      ])
    : null;

  get residualBn(): BatchNorm {
    return this.bn3;
  }
  forward<T>(ops: Ops<T>, x: T): T {
    let out = ops.relu(this.bn1.forward(ops, this.conv1.forward(ops, x)));
    out = ops.relu(this.bn2.forward(ops, this.conv2.forward(ops, out)));
    out = this.bn3.forward(ops, this.conv3.forward(ops, out));
    return residual(ops, out, x, this.downsample);
  }
}

export class I3DResNet extends ResNet3dClassifier {
  readonly family = "i3d";
  readonly id = `i3d-r${this.cfg.depth}-f${this.cfg.frames}`;
  readonly inputSpec: InputSpec = this.spec(IMAGENET_MEAN, IMAGENET_STD);
  private readonly built = resnetStages(
    this.stageBlocks,
    64,
    4,
    (p) => new Bottleneck3d({ ...p, temporalKernel: i3dInflated(p.stage, p.index) ? 3 : 1 }),
  );
  conv1 = new Conv3d(3, 64, [5, 7, 7], { stride: [1, 2, 2], padding: [2, 3, 3] });
  bn1 = new BatchNorm(64);
  layer1 = this.built.stages[0]!;
  layer2 = this.built.stages[1]!;
  layer3 = this.built.stages[2]!;
  layer4 = this.built.stages[3]!;
  fc = new Linear(this.built.outChannels, this.cfg.numClasses);

  private get stageBlocks(): number[] {
    const blocks = STAGE_BLOCKS[this.cfg.depth];
    if (!blocks) throw new Error(`I3D depth ${this.cfg.depth} is not one of ${I3D_DEPTHS.join(", ")}`);
    return blocks;
  }
  get layers(): Sequential[] {
    return [this.layer1, this.layer2, this.layer3, this.layer4];
  }

  /** (N, 3, T, H, W) -> logits (N, numClasses). */
  forward<T>(ops: Ops<T>, x: T, tap?: Tap<T>): T {
    x = ops.relu(this.bn1.forward(ops, this.conv1.forward(ops, x)));
    x = ops.maxPool3d(x, { kernel: [1, 3, 3], stride: [1, 2, 2], padding: [0, 1, 1] });
    tap?.("stem_out", x);
    // pool2: the only temporal downsampling, after res2.
    return this.stagesAndHead(ops, x, tap, (stage, y) => (stage === 0 ? ops.maxPool3d(y, { kernel: [2, 1, 1], stride: [2, 1, 1] }) : y));
  }
}

export type { Video3dOptions };
