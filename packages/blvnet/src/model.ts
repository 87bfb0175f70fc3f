/**
 * bLVNet-TAM, the official `bLVNet_TAM` wrapper: input (N, T*3, H, W) viewed as N*T frames, the
 * bLResNet backbone under `baseline_model`, and the mean of the T/2 per-big-frame logits.
 * With dropout > 0 the official wrapper turns `baseline_model.fc` into a Dropout and adds `new_fc`
 * after the backbone; with dropout 0 the classifier stays `baseline_model.fc`. Both are kept, so
 * official checkpoints of either kind load without renaming.
 */
import { IMAGENET_MEAN, IMAGENET_STD, Linear, release, VideoModel, type InputSpec, type Ops, type Tap } from "@blvnet/core";
import { BLResNetBackbone, OFFICIAL_WIDTH } from "./backbone.js";

export interface BLVNetOptions {
  depth: number;
  alpha: number;
  beta: number;
  /** Input frames per clip (official `groups`); even. f{K}x2 means frames = 2K. */
  frames: number;
  /** Temporal offsets of each TAM; 0 removes every TAM. */
  blendingFrames: number;
  numClasses: number;
  dropout: number;
  size: number;
  /** Base channel width (default 64 = the official models); see `BackboneConfig.width`. */
  width?: number;
}

export class BLVNet extends VideoModel {
  readonly family: string;
  readonly id: string;
  readonly inputSpec: InputSpec;
  readonly numClasses: number;
  readonly options: Record<string, unknown>;
  readonly backbone: BLResNetBackbone;
  readonly newFc: Linear | null;

  constructor(readonly opts: BLVNetOptions) {
    super();
    const { depth, alpha, beta, frames, blendingFrames, numClasses, dropout, size } = opts;
    const width = opts.width ?? OFFICIAL_WIDTH;
    if (!Number.isInteger(frames) || frames < 2 || frames % 2 !== 0) throw new Error(`bLVNet: frames must be even and >= 2, got ${frames}`);
    const withFcInBackbone = !(dropout > 0);
    this.backbone = this.child(
      "baseline_model",
      new BLResNetBackbone({ depth, alpha, beta, frames, blendingFrames, width, numClasses: withFcInBackbone ? numClasses : null }),
    );
    this.newFc = withFcInBackbone ? null : this.child("new_fc", new Linear(this.backbone.featureDim, numClasses));
    this.family = blendingFrames > 0 ? "blvnet-tam" : "blvnet";
    const bfTag = blendingFrames > 0 && blendingFrames !== 3 ? `-bf${blendingFrames}` : "";
    const widthTag = width !== OFFICIAL_WIDTH ? `-w${width}` : "";
    this.id = `blvnet-${blendingFrames > 0 ? "tam" : "notam"}-${depth}${widthTag}-a${alpha}-b${beta}-f${frames / 2}x2${bfTag}`;
    this.numClasses = numClasses;
    this.options = { ...opts };
    this.inputSpec = { layout: "N(TC)HW", frames, size, channels: 3, mean: IMAGENET_MEAN, std: IMAGENET_STD };
  }

  forward<T>(ops: Ops<T>, x: T, tap?: Tap<T>): T {
    const frames = this.opts.frames;
    const [, tc] = ops.shape(x);
    if (tc !== frames * 3) throw new Error(`bLVNet: expected ${frames * 3} input channels (${frames} frames x 3), got ${tc}`);
    const perFrame = ops.clipsToFrames(x, frames);
    let y = this.backbone.forward(ops, perFrame, tap);
    release(ops, perFrame);
    if (this.newFc) y = this.newFc.forward(ops, ops.dropout(y, this.opts.dropout, this.training));
    tap?.("frame_logits", y);
    return ops.segmentMean(y, frames / 2);
  }
}
