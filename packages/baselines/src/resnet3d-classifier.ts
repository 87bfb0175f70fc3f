/**
 * What the 3D CNNs (torchvision's video ResNets, I3D) share around their stem: ids and options,
 * an NCTHW input spec, ResNet stages `layer1..4`, then global average pool, dropout and `fc`.
 */
import { type InputSpec, type Linear, type Ops, VideoModel } from "@blvnet/core";
import type { Stage, Tap } from "./layers.js";

export interface Classifier3dConfig {
  frames: number;
  size: number;
  numClasses: number;
  dropout: number;
  id: string;
  options: Record<string, unknown>;
}

export abstract class ResNet3dClassifier extends VideoModel {
  readonly id: string;
  readonly inputSpec: InputSpec;
  readonly numClasses: number;
  readonly options: Record<string, unknown>;
  readonly dropout: number;
  abstract readonly layers: Stage[];
  abstract readonly fc: Linear;

  constructor(cfg: Classifier3dConfig, mean: [number, number, number], std: [number, number, number]) {
    super();
    this.id = cfg.id;
    this.numClasses = cfg.numClasses;
    this.options = cfg.options;
    this.dropout = cfg.dropout;
    this.inputSpec = { layout: "NCTHW", frames: cfg.frames, size: cfg.size, channels: 3, mean, std };
  }

  /**
   * The stages (tapping `layer{i}_out`, after `afterStage` where given), then pool, dropout and fc:
   * the stem's output in, logits (N, numClasses) out.
   */
  protected stagesAndHead<T>(ops: Ops<T>, x: T, tap?: Tap<T>, afterStage?: (stage: number, x: T) => T): T {
    this.layers.forEach((layer, i) => {
      x = layer.forward(ops, x);
      if (afterStage) x = afterStage(i, x);
      tap?.(`layer${i + 1}_out`, x);
    });
    x = ops.globalAvgPool(x);
    tap?.("pool", x);
    x = ops.dropout(x, this.dropout, this.training);
    return this.fc.forward(ops, x);
  }
}
