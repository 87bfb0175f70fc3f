/**
 * What the 3D CNNs (torchvision's video ResNets, I3D) share around their stem: their options, an
 * NCTHW input spec, ResNet stages `layer1..4`, then global average pool, dropout and `fc`.
 */
import type { InputSpec, Linear, Ops, Sequential, Tap } from "@blvnet/core";
import { VideoModel } from "@blvnet/core";

export interface Video3dOptions {
  depth: number;
  frames: number;
  size: number;
  numClasses: number;
  dropout: number;
}

export abstract class ResNet3dClassifier<O extends Video3dOptions = Video3dOptions> extends VideoModel<O> {
  readonly numClasses = this.cfg.numClasses;
  abstract readonly fc: Linear;
  /** layer1..layer4. */
  abstract readonly layers: Sequential[];

  /** Input spec with the model's normalisation statistics. */
  protected spec(mean: [number, number, number], std: [number, number, number]): InputSpec {
    return { layout: "NCTHW", frames: this.cfg.frames, size: this.cfg.size, channels: 3, mean, std };
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
    x = ops.dropout(x, this.cfg.dropout, this.training);
    return this.fc.forward(ops, x);
  }
}
