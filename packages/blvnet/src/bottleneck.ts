/**
 * The bLResNet bottleneck. Unlike torchvision's, `planes` is the OUTPUT width (the inner width is
 * planes/4), the final ReLU can be switched off (last block of a big branch), and an optional TAM
 * runs first on the residual branch. The identity shortcut uses the input before the TAM, a
 * shortcut module uses the TAM's output (as the official code does).
 */
import { BatchNorm, Conv2d, Module, ModuleList, type Ops } from "@blvnet/core";
import { TAM } from "@blvnet/tam";
import { shortcut } from "./shortcut.js";

export const EXPANSION = 4;

export interface BottleneckConfig {
  inplanes: number;
  planes: number;
  stride?: number;
  lastRelu?: boolean;
  /** Frames per clip for the TAM; no TAM when absent. */
  tamFrames?: number;
  blendingFrames?: number;
}

export class Bottleneck extends Module<BottleneckConfig> {
  private readonly inner = this.cfg.planes / EXPANSION;
  conv1 = new Conv2d(this.cfg.inplanes, this.inner, 1);
  bn1 = new BatchNorm(this.inner);
  conv2 = new Conv2d(this.inner, this.inner, 3, { stride: this.cfg.stride ?? 1, padding: 1 });
  bn2 = new BatchNorm(this.inner);
  conv3 = new Conv2d(this.inner, this.cfg.planes, 1);
  bn3 = new BatchNorm(this.cfg.planes);
  downsample = shortcut(this.cfg.inplanes, this.cfg.planes, this.cfg.stride ?? 1);
  tam = this.cfg.tamFrames !== undefined ? new TAM(this.cfg.inplanes, this.cfg.tamFrames, this.cfg.blendingFrames) : null;

  get residualBn(): BatchNorm {
    return this.bn3;
  }

  forward<T>(ops: Ops<T>, x: T, onTam?: (y: T) => void): T {
    const identity = x;
    if (this.tam) {
      x = this.tam.forward(ops, x);
      onTam?.(x);
    }
    let out = ops.relu(this.bn1.forward(ops, this.conv1.forward(ops, x)));
    out = ops.relu(this.bn2.forward(ops, this.conv2.forward(ops, out)));
    out = this.bn3.forward(ops, this.conv3.forward(ops, out));
    out = ops.add(out, this.downsample ? this.downsample.forward(ops, x) : identity);
    return this.cfg.lastRelu === false ? out : ops.relu(out);
  }
}

/**
 * A stack of bottlenecks as the official `_make_layer` builds it: the first block gets the stride
 * (and so the shortcut module), and only the last of several blocks takes `lastRelu` (a single block
 * keeps its ReLU, like the official code).
 */
export class Stage extends ModuleList<Bottleneck> {
  constructor(inplanes: number, planes: number, blocks: number, opts: Omit<BottleneckConfig, "inplanes" | "planes"> = {}) {
    const { lastRelu, ...rest } = opts;
    super(
      Array.from({ length: blocks }, (_, i) =>
        i === 0
          ? new Bottleneck({ ...rest, inplanes, planes })
          : new Bottleneck({ ...rest, inplanes: planes, planes, stride: 1, lastRelu: i === blocks - 1 ? lastRelu : true }),
      ),
    );
  }

  /** Blocks in order; `onTam(i, y)` sees block i's TAM output. */
  forward<T>(ops: Ops<T>, x: T, onTam?: (i: number, y: T) => void): T {
    this.items.forEach((block, i) => {
      x = block.forward(ops, x, onTam && ((t) => onTam(i, t)));
    });
    return x;
  }
}
