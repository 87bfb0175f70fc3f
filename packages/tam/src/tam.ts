/**
 * Temporal Aggregation Module (TAM) of bLVNet-TAM, as the official code computes it:
 *   out[n, t] = ReLU( sum_k w_k ⊙ x[n, t + k - B//2] ),   k = 0..B-1
 * with one per-channel weight vector w_k (a depthwise 1x1 conv, no bias) per temporal offset, and
 * zeros outside the clip, so no frame ever sees another clip.
 *
 * State-dict names follow the official module: for B = 3 the convs are `prev` (t-1), `next` (t+1)
 * and `curr` (t), registered in that order; for any other B they are `blending_layers.{k}`.
 */
import { Conv2d, Module, ModuleList, type Ops } from "@blvnet/core";

/** One blending conv and the temporal offset its output is read from. */
export interface BlendingTap {
  conv: Conv2d;
  offset: number;
}

export interface TamConfig {
  /** Feature channels C. */
  channels: number;
  /** Frames per clip T (rows n*T .. n*T+T-1 of the input form one clip). */
  duration: number;
  /** Temporal offsets B (the paper uses odd B). */
  blendingFrames: number;
}

const depthwise = (c: number) => new Conv2d(c, c, 1, { groups: c });

export class TAM extends Module<TamConfig> {
  private readonly named = this.cfg.blendingFrames === 3;
  prev = this.named ? depthwise(this.cfg.channels) : null;
  next = this.named ? depthwise(this.cfg.channels) : null;
  curr = this.named ? depthwise(this.cfg.channels) : null;
  blending_layers = this.named ? null : new ModuleList(Array.from({ length: this.cfg.blendingFrames }, () => depthwise(this.cfg.channels)));

  constructor(channels: number, duration: number, blendingFrames = 3) {
    for (const [name, v] of Object.entries({ duration, blendingFrames })) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`TAM: ${name} must be a positive integer, got ${v}`);
    }
    super({ channels, duration, blendingFrames });
  }

  /** The blending convs in summation order (offset -B//2 ... +B//2). */
  get taps(): BlendingTap[] {
    if (this.prev && this.curr && this.next) {
      return [
        { conv: this.prev, offset: -1 },
        { conv: this.curr, offset: 0 },
        { conv: this.next, offset: 1 },
      ];
    }
    const half = Math.floor(this.cfg.blendingFrames / 2);
    return this.blending_layers!.items.map((conv, k) => ({ conv, offset: k - half }));
  }

  /** x: [N*T, C, H, W] -> [N*T, C, H, W]. */
  forward<T>(ops: Ops<T>, x: T): T {
    const rows = ops.shape(x)[0];
    if (rows % this.cfg.duration !== 0) throw new Error(`TAM: ${rows} rows are not whole clips of ${this.cfg.duration} frames`);
    const taps = this.taps;
    const fused = taps.every(({ conv }) => !conv.bias)
      ? ops.temporalBlend?.(
          x,
          this.cfg.duration,
          taps.map(({ conv, offset }) => ({ weight: conv.weight, offset })),
        )
      : null;
    if (fused) return ops.relu(fused);
    // The 1x1 depthwise conv acts per frame, so shifting its output equals shifting its input.
    const shifted = taps.map(({ conv, offset }) => {
      const z = conv.forward(ops, x);
      return offset === 0 ? z : ops.timeShift(z, this.cfg.duration, offset);
    });
    return ops.relu(ops.sum(shifted));
  }
}
