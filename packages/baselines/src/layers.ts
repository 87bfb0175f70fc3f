/** Structural pieces shared by the baselines: the residual ending and torchvision's stage layout. */
import { type Layer, type Ops, Sequential } from "@blvnet/core";

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
 * Returns the four stages (the models' `layer1..4`) and the channels they end with.
 */
export function resnetStages<B extends Layer>(
  blocks: readonly number[],
  base: number,
  expansion: number,
  make: (plan: BlockPlan) => B,
): { stages: Sequential<B>[]; outChannels: number } {
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
    return new Sequential(built);
  });
  return { stages, outChannels: inplanes };
}
