/**
 * Temporal Aggregation Module (TAM) of bLVNet-TAM, as the official code computes it:
 *   out[n, t] = ReLU( sum_k w_k ⊙ x[n, t + k - B//2] ),   k = 0..B-1
 * with one per-channel weight vector w_k (a depthwise 1x1 conv, no bias) per temporal offset, and
 * zeros outside the clip, so no frame ever sees another clip.
 *
 * State-dict names follow the official module: for B = 3 the convs are `prev` (t-1), `next` (t+1)
 * and `curr` (t), registered in that order; for any other B they are `blending_layers.{k}`.
 */
import { Conv2d, Module, ModuleList, scoped, sumOf, type Ops } from "@blvnet/core";

/** One blending conv and the temporal offset its output is read from. */
export interface BlendingTap {
  conv: Conv2d;
  offset: number;
}

export class TAM extends Module {
  /** The blending convs in summation order (offset -B//2 ... +B//2). */
  readonly taps: BlendingTap[];

  /**
   * @param channels feature channels C
   * @param duration frames per clip T (rows n*T .. n*T+T-1 of the input form one clip)
   * @param blendingFrames number of temporal offsets B (the paper uses odd B; default 3)
   */
  constructor(
    readonly channels: number,
    readonly duration: number,
    readonly blendingFrames = 3,
  ) {
    super();
    if (!Number.isInteger(blendingFrames) || blendingFrames < 1) {
      throw new Error(`TAM: blendingFrames must be a positive integer, got ${blendingFrames}`);
    }
    if (!Number.isInteger(duration) || duration < 1) throw new Error(`TAM: duration must be a positive integer, got ${duration}`);
    const depthwise = () => new Conv2d(channels, channels, 1, { groups: channels });
    const half = Math.floor(blendingFrames / 2);
    if (blendingFrames === 3) {
      const prev = this.child("prev", depthwise());
      const next = this.child("next", depthwise());
      const curr = this.child("curr", depthwise());
      this.taps = [
        { conv: prev, offset: -1 },
        { conv: curr, offset: 0 },
        { conv: next, offset: 1 },
      ];
    } else {
      const layers = this.child("blending_layers", new ModuleList<Conv2d>());
      this.taps = [];
      for (let k = 0; k < blendingFrames; k++) this.taps.push({ conv: layers.push(depthwise()), offset: k - half });
    }
  }

  /** x: [N*T, C, H, W] -> [N*T, C, H, W]. */
  forward<T>(ops: Ops<T>, x: T): T {
    const rows = ops.shape(x)[0];
    if (rows % this.duration !== 0) {
      throw new Error(`TAM: ${rows} rows are not whole clips of ${this.duration} frames`);
    }
    return scoped(ops, () => {
      // The 1x1 depthwise conv acts per frame, so shifting its output equals shifting its input.
      // sumOf makes one addend at a time where it can: TAM runs on every frame at stem resolution.
      const shifted = this.taps.map(({ conv, offset }) => () =>
        scoped(ops, () => {
          const z = conv.forward(ops, x);
          return offset === 0 ? z : ops.timeShift(z, this.duration, offset);
        }),
      );
      return ops.relu(sumOf(ops, shifted));
    });
  }
}
