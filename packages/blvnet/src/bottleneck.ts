/**
 * The bLResNet bottleneck. Unlike torchvision's, `planes` is the OUTPUT width (the inner width is
 * planes/4), the final ReLU can be switched off (last block of a big branch), and an optional TAM
 * runs first on the residual branch. The identity shortcut uses the input before the TAM, a
 * shortcut module uses the TAM's output (as the official code does).
 */
import { BatchNorm, Conv2d, Module, release, scoped, type Ops } from "@blvnet/core";
import { TAM } from "@blvnet/tam";
import { Shortcut } from "./shortcut.js";

export const EXPANSION = 4;

export interface BottleneckConfig {
  stride?: number;
  downsample?: Shortcut | null;
  lastRelu?: boolean;
  /** Frames per clip for the TAM; no TAM when absent. */
  tamFrames?: number;
  blendingFrames?: number;
}

export class Bottleneck extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm;
  readonly downsample: Shortcut | null;
  readonly tam: TAM | null;
  readonly lastRelu: boolean;

  constructor(inplanes: number, planes: number, cfg: BottleneckConfig = {}) {
    super();
    const inner = planes / EXPANSION;
    const stride = cfg.stride ?? 1;
    this.conv1 = this.child("conv1", new Conv2d(inplanes, inner, 1));
    this.bn1 = this.child("bn1", new BatchNorm(inner));
    this.conv2 = this.child("conv2", new Conv2d(inner, inner, 3, { stride, padding: 1 }));
    this.bn2 = this.child("bn2", new BatchNorm(inner));
    this.conv3 = this.child("conv3", new Conv2d(inner, planes, 1));
    this.bn3 = this.child("bn3", new BatchNorm(planes));
    this.downsample = cfg.downsample ? this.child("downsample", cfg.downsample) : null;
    this.tam = cfg.tamFrames !== undefined ? this.child("tam", new TAM(inplanes, cfg.tamFrames, cfg.blendingFrames)) : null;
    this.lastRelu = cfg.lastRelu ?? true;
  }

  forward<T>(ops: Ops<T>, x: T, onTam?: (y: T) => void): T {
    return scoped(ops, () => {
      const identity = x;
      if (this.tam) {
        x = this.tam.forward(ops, x);
        onTam?.(x);
      }
      let out = ops.relu(this.bn1.forward(ops, this.conv1.forward(ops, x)));
      out = ops.relu(this.bn2.forward(ops, this.conv2.forward(ops, out)));
      out = this.bn3.forward(ops, this.conv3.forward(ops, out));
      out = ops.add(out, this.downsample ? this.downsample.forward(ops, x) : identity);
      return this.lastRelu ? ops.relu(out) : out;
    });
  }
}

/**
 * Blocks in sequence; each intermediate is released once the next block has consumed it (never
 * `x`, which belongs to the caller). `onTam(i, y)` sees block i's TAM output.
 */
export function runBlocks<T>(ops: Ops<T>, x: T, blocks: Bottleneck[], onTam?: (i: number, y: T) => void): T {
  let y = x;
  blocks.forEach((block, i) => {
    const next = block.forward(ops, y, onTam && ((t) => onTam(i, t)));
    if (y !== x) release(ops, y);
    y = next;
  });
  return y;
}

/**
 * A stack of bottlenecks as the official `_make_layer` builds it: the first block gets the stride
 * and the shortcut module, and only the last of several blocks takes `lastRelu` (a single block
 * keeps its ReLU, like the official code).
 */
export function makeLayer(
  inplanes: number,
  planes: number,
  blocks: number,
  opts: { stride?: number; lastRelu?: boolean; tamFrames?: number; blendingFrames?: number } = {},
): Bottleneck[] {
  const stride = opts.stride ?? 1;
  const { tamFrames, blendingFrames } = opts;
  const layers = [new Bottleneck(inplanes, planes, { stride, downsample: Shortcut.create(inplanes, planes, stride), tamFrames, blendingFrames })];
  for (let i = 1; i < blocks; i++) {
    const lastRelu = i === blocks - 1 ? (opts.lastRelu ?? true) : true;
    layers.push(new Bottleneck(planes, planes, { lastRelu, tamFrames, blendingFrames }));
  }
  return layers;
}
