/**
 * Small structural pieces shared by the baselines: a "layer" type (a Module with a one-tensor
 * forward) and an nn.Sequential look-alike whose parameter-free steps (ReLU) still take an index,
 * so state_dict keys such as `stem.3.weight` or `layer1.0.conv1.0.3.weight` come out as in PyTorch.
 */
import { Module, type Ops } from "@blvnet/core";

/** Anything with a single-tensor forward: core's Conv2d/Conv3d/BatchNorm/Linear and our modules. */
export type Layer = Module & { forward<T>(ops: Ops<T>, x: T): T };

/** Marker for an in-place ReLU step of a `Sequential` (no parameters, but it uses an index). */
export const RELU = "relu" as const;
export type SequentialStep = Layer | typeof RELU;

/** nn.Sequential: children named "0", "1", ... by position, ReLU steps included in the count. */
export class Sequential extends Module {
  constructor(readonly steps: SequentialStep[]) {
    super();
    steps.forEach((s, i) => {
      if (s !== RELU) this.child(String(i), s);
    });
  }

  forward<T>(ops: Ops<T>, x: T): T {
    for (const s of this.steps) x = s === RELU ? ops.relu(x) : s.forward(ops, x);
    return x;
  }
}

/** Run `blocks` in order (an nn.Sequential of residual blocks, e.g. `layer1`). */
export class Stage<B extends Layer = Layer> extends Module {
  constructor(readonly blocks: B[]) {
    super();
    blocks.forEach((b, i) => this.child(String(i), b));
  }

  forward<T>(ops: Ops<T>, x: T): T {
    for (const b of this.blocks) x = b.forward(ops, x);
    return x;
  }
}

/** Optional observer of named intermediate tensors (golden `intermediates` use the same names). */
export type Tap<T> = (name: string, x: T) => void;

/** A residual block's ending: add the (projected) shortcut, then ReLU. */
export function residual<T>(ops: Ops<T>, branch: T, x: T, downsample: Layer | null): T {
  return ops.relu(ops.add(branch, downsample ? downsample.forward(ops, x) : x));
}

/** One block's place in torchvision's ResNet layout. */
export interface BlockPlan {
  /** 0..3 (torchvision's layer1..layer4). */
  stage: number;
  /** Index inside the stage. */
  index: number;
  inplanes: number;
  planes: number;
  stride: number;
  /** Whether the shortcut needs a 1x1 projection (stride or channels change). */
  downsample: boolean;
}

/**
 * torchvision's ResNet stage layout: stage s has `base << s` planes (x `expansion` out), the first
 * block of every stage after the first strides by 2 and projects its shortcut when the shape changes.
 * Returns the stages (to be registered as `layer1..4`) and the channels they end with.
 */
export function resnetStages<B extends Layer>(
  blocks: readonly number[],
  base: number,
  expansion: number,
  make: (plan: BlockPlan) => B,
): { stages: Stage<B>[]; outChannels: number } {
  let inplanes = base;
  const stages = blocks.map((n, stage) => {
    const planes = base << stage;
    const built: B[] = [];
    for (let index = 0; index < n; index++) {
      const stride = index === 0 && stage > 0 ? 2 : 1;
      const downsample = index === 0 && (stride !== 1 || inplanes !== planes * expansion);
      built.push(make({ stage, index, inplanes, planes, stride, downsample }));
      inplanes = planes * expansion;
    }
    return new Stage(built);
  });
  return { stages, outChannels: inplanes };
}
