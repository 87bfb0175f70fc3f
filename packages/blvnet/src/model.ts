/**
 * bLVNet-TAM, the official `bLVNet_TAM` wrapper: input (N, T*3, H, W) viewed as N*T frames, the
 * bLResNet backbone under `baseline_model`, and the mean of the T/2 per-big-frame logits.
 * With dropout > 0 the official wrapper turns `baseline_model.fc` into a Dropout and adds `new_fc`
 * after the backbone; with dropout 0 the classifier stays `baseline_model.fc`. Both are kept, so
 * official checkpoints of either kind load without renaming.
 */
import {
  IMAGENET_MEAN,
  IMAGENET_STD,
  type InitOptions,
  type InputSpec,
  Linear,
  type Ops,
  type Rng,
  type Tap,
  VideoModel,
  widthTag,
} from "@blvnet/core";
import { BLResNetBackbone } from "./backbone.js";
import type { BLVNetOptions } from "./registry.js";

export class BLVNet extends VideoModel<BLVNetOptions> {
  readonly family = this.cfg.blendingFrames > 0 ? "blvnet-tam" : "blvnet";
  readonly numClasses = this.cfg.numClasses;
  readonly inputSpec: InputSpec = {
    layout: "N(TC)HW",
    frames: this.cfg.frames,
    size: this.cfg.size,
    channels: 3,
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
  };
  baseline_model = new BLResNetBackbone({ ...this.cfg, numClasses: this.cfg.dropout > 0 ? null : this.cfg.numClasses });
  new_fc = this.cfg.dropout > 0 ? new Linear(this.baseline_model.featureDim, this.cfg.numClasses) : null;

  get id(): string {
    const { depth, alpha, beta, frames, blendingFrames: bf, width } = this.cfg;
    const bfTag = bf > 0 && bf !== 3 ? `-bf${bf}` : "";
    return `blvnet-${bf > 0 ? "tam" : "notam"}-${depth}${widthTag(width)}-a${alpha}-b${beta}-f${frames / 2}x2${bfTag}`;
  }

  /** Standard init, with every bottleneck's last BN at 0 (the official zero-init residual) unless told otherwise. */
  override initWeights(rng: Rng, opts: InitOptions = {}): void {
    super.initWeights(rng, { zeroInitResidual: true, ...opts });
  }

  forward<T>(ops: Ops<T>, x: T, tap?: Tap<T>): T {
    const { frames, dropout } = this.cfg;
    const [, tc] = ops.shape(x);
    if (tc !== frames * 3) throw new Error(`bLVNet: expected ${frames * 3} input channels (${frames} frames x 3), got ${tc}`);
    let y = this.baseline_model.forward(ops, ops.clipsToFrames(x, frames), tap);
    if (this.new_fc) y = this.new_fc.forward(ops, ops.dropout(y, dropout, this.training));
    tap?.("frame_logits", y);
    return ops.segmentMean(y, frames / 2);
  }
}
