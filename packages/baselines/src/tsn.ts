/**
 * TSN with a torchvision ResNet backbone, as the official TSM code builds it
 * (mit-han-lab/temporal-shift-module `ops/models.py` class `TSN`, RGB, avg consensus):
 *  - input (N, T*3, H, W) viewed as N*T frames; the backbone runs per frame;
 *  - dropout == 0: the backbone's own `fc` classifies (`base_model.fc.*`);
 *    dropout > 0: `base_model.fc` becomes a Dropout (no tensors) and `new_fc.*` classifies;
 *  - consensus: mean of the T frame logits of each clip.
 * TSM and TAM-ResNet are this same model with a temporal module plugged into the backbone
 * through `ResNetHooks`, so all three share one definition.
 */
import { IMAGENET_MEAN, IMAGENET_STD, type InputSpec, Linear, type Ops, VideoModel } from "@blvnet/core";
import type { Tap } from "./layers.js";
import { ResNet2d, type ResNetHooks } from "./resnet2d.js";

export interface TsnConfig {
  /** Registry name ("tsn", "tsm", "tam-resnet"). */
  family: string;
  id: string;
  depth: number;
  frames: number;
  size: number;
  numClasses: number;
  dropout: number;
  /** Base width of the ResNet (default 64 = torchvision). */
  width?: number;
  hooks?: ResNetHooks;
  /** Normalised registry options, for provenance. */
  options: Record<string, unknown>;
}

export class TSN extends VideoModel {
  readonly family: string;
  readonly id: string;
  readonly inputSpec: InputSpec;
  readonly numClasses: number;
  readonly options: Record<string, unknown>;
  readonly frames: number;
  readonly dropout: number;
  readonly baseModel: ResNet2d;
  readonly newFc: Linear | null;

  constructor(cfg: TsnConfig) {
    super();
    this.family = cfg.family;
    this.id = cfg.id;
    this.numClasses = cfg.numClasses;
    this.options = cfg.options;
    this.frames = cfg.frames;
    this.dropout = cfg.dropout;
    this.inputSpec = { layout: "N(TC)HW", frames: cfg.frames, size: cfg.size, channels: 3, mean: IMAGENET_MEAN, std: IMAGENET_STD };
    const withDropout = cfg.dropout > 0;
    this.baseModel = this.child(
      "base_model",
      new ResNet2d({ depth: cfg.depth, width: cfg.width, numClasses: withDropout ? 0 : cfg.numClasses, hooks: cfg.hooks }),
    );
    this.newFc = withDropout ? this.child("new_fc", new Linear(this.baseModel.featureDim, cfg.numClasses)) : null;
  }

  /** (N, T*3, H, W) -> logits (N, numClasses). */
  forward<T>(ops: Ops<T>, x: T, tap?: Tap<T>): T {
    const frames = ops.clipsToFrames(x, this.frames);
    let f = this.baseModel.forwardFeatures(ops, frames, tap);
    let logits: T;
    if (this.newFc) {
      f = ops.dropout(f, this.dropout, this.training);
      logits = this.newFc.forward(ops, f);
    } else {
      logits = this.baseModel.fc!.forward(ops, f);
    }
    tap?.("frame_logits", logits);
    return ops.segmentMean(logits, this.frames);
  }
}
