/**
 * The residual shortcut ("downsample") of bLResNet: an nn.Sequential of
 *   [AvgPool2d(3, stride 2, pad 1, count_include_pad)]  when the block has stride 2,
 *   [Conv2d 1x1 + BatchNorm2d]                           when the width changes.
 * Its children are named by position, like the official Sequential, so a pooled shortcut's conv is
 * `downsample.1` and an unpooled one's is `downsample.0`.
 */
import { BatchNorm, Conv2d, Module, type Ops } from "@blvnet/core";

export class Shortcut extends Module {
  readonly conv: Conv2d | null = null;
  readonly bn: BatchNorm | null = null;

  constructor(inChannels: number, outChannels: number, readonly pooled: boolean) {
    super();
    let index = pooled ? 1 : 0; // the pool (no tensors) takes index 0
    if (inChannels !== outChannels) {
      this.conv = this.child(String(index++), new Conv2d(inChannels, outChannels, 1));
      this.bn = this.child(String(index++), new BatchNorm(outChannels));
    }
  }

  /** Null when the official code would use no shortcut module at all (identity). */
  static create(inChannels: number, outChannels: number, stride: number): Shortcut | null {
    if (stride === 1 && inChannels === outChannels) return null;
    return new Shortcut(inChannels, outChannels, stride !== 1);
  }

  forward<T>(ops: Ops<T>, x: T): T {
    if (this.pooled) x = ops.avgPool2d(x, { kernel: 3, stride: 2, padding: 1, countIncludePad: true });
    if (this.conv && this.bn) x = this.bn.forward(ops, this.conv.forward(ops, x));
    return x;
  }
}
