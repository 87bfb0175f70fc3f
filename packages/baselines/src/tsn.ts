/**
 * TSN with a torchvision ResNet backbone, as the official TSM code builds it
 * (mit-han-lab/temporal-shift-module `ops/models.py` class `TSN`, RGB, avg consensus):
 *  - input (N, T*3, H, W) viewed as N*T frames; the backbone runs per frame;
 *  - dropout == 0: the backbone's own `fc` classifies (`base_model.fc.*`);
 *    dropout > 0: `base_model.fc` becomes a Dropout (no tensors) and `new_fc.*` classifies;
 *  - consensus: mean of the T frame logits of each clip.
 * TSM and TAM-ResNet are this same model with a temporal module plugged into the backbone
 * through `ResNetHooks` (subclasses override `hooks`), so all three share one definition.
 */
import {
  float,
  IMAGENET_MEAN,
  IMAGENET_STD,
  type InputSpec,
  int,
  Linear,
  OFFICIAL_WIDTH,
  type Ops,
  type OptionsOf,
  type Tap,
  VideoModel,
  widthTag,
} from "@blvnet/core";
import { RESNET_DEPTHS, ResNet2d, type ResNetHooks } from "./resnet2d.js";

/** Options every TSN-style model has (backbone, clip, head). */
export const tsnOptions = {
  depth: int(50, "ResNet depth", { choices: RESNET_DEPTHS }),
  frames: int(8, "frames per clip", { min: 1 }),
  size: int(224, "input height = width in pixels", { min: 32 }),
  numClasses: int(174, "output classes", { min: 1 }),
  dropout: float(0.5, "dropout before the classifier; > 0 moves it to new_fc.* (official checkpoints), 0 keeps base_model.fc.*", {
    min: 0,
    below: 1,
  }),
  width: int(OFFICIAL_WIDTH, "base channel width (64 = official; smaller for quick CPU runs)", { min: 1 }),
};
export type TsnOptions = OptionsOf<typeof tsnOptions>;

export class TSN<O extends TsnOptions = TsnOptions> extends VideoModel<O> {
  readonly family: string = "tsn";
  readonly numClasses = this.cfg.numClasses;
  readonly inputSpec: InputSpec = {
    layout: "N(TC)HW",
    frames: this.cfg.frames,
    size: this.cfg.size,
    channels: 3,
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
  };
  base_model = new ResNet2d({
    depth: this.cfg.depth,
    width: this.cfg.width,
    numClasses: this.cfg.dropout > 0 ? 0 : this.cfg.numClasses,
    hooks: this.hooks(),
  });
  new_fc = this.cfg.dropout > 0 ? new Linear(this.base_model.featureDim, this.cfg.numClasses) : null;

  get id(): string {
    return `tsn-r${this.cfg.depth}${widthTag(this.cfg.width)}-f${this.cfg.frames}`;
  }

  /** The temporal module's place in the backbone (none for TSN). Called while the fields are built: read only `cfg`. */
  protected hooks(): ResNetHooks | undefined {
    return undefined;
  }

  /** (N, T*3, H, W) -> logits (N, numClasses). */
  forward<T>(ops: Ops<T>, x: T, tap?: Tap<T>): T {
    const f = this.base_model.forwardFeatures(ops, ops.clipsToFrames(x, this.cfg.frames), tap);
    const logits = this.new_fc
      ? this.new_fc.forward(ops, ops.dropout(f, this.cfg.dropout, this.training))
      : this.base_model.fc!.forward(ops, f);
    tap?.("frame_logits", logits);
    return ops.segmentMean(logits, this.cfg.frames);
  }
}
