/**
 * The residual shortcut ("downsample") of bLResNet: an nn.Sequential of
 *   [AvgPool2d(3, stride 2, pad 1, count_include_pad)]  when the block has stride 2,
 *   [Conv2d 1x1 + BatchNorm2d]                           when the width changes.
 * Its children are numbered by position, like the official Sequential, so a pooled shortcut's conv
 * is `downsample.1` and an unpooled one's is `downsample.0`.
 */
import { BatchNorm, Conv2d, Sequential, type StepFn } from "@blvnet/core";

const pool: StepFn = (ops, x) => ops.avgPool2d(x, { kernel: 3, stride: 2, padding: 1, countIncludePad: true });

/** Null when the official code uses no shortcut module at all (identity). */
export function shortcut(inChannels: number, outChannels: number, stride: number): Sequential | null {
  const project = inChannels !== outChannels ? [new Conv2d(inChannels, outChannels, 1), new BatchNorm(outChannels)] : [];
  if (stride === 1 && project.length === 0) return null;
  return new Sequential([...(stride !== 1 ? [pool] : []), ...project]);
}
