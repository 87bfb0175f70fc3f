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
