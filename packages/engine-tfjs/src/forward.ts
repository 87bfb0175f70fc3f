/**
 * The tfjs runner owns tensor memory, so model code keeps none: a shape-only trace of the forward
 * (core's `traceForward`, cached per model, input shape and training flag) tells how many later ops
 * read each intermediate; the real pass then runs every op in its own tf.tidy and disposes each
 * intermediate right after its last reader. The model input and the result are never disposed.
 * Under tf.variableGrads this is safe: the tape keeps its own copies of what backward needs.
 */

import { type ForwardTrace, type Module, type Ops, type Tap, TENSOR_OPS, tensorArgs, traceForward } from "@blvnet/core";
import * as tf from "@tensorflow/tfjs-core";
import type { TfOps } from "./tfops.js";

/** A module tree with a forward written against `Ops<T>` (any model). */
export interface ForwardModule extends Module {
  forward<T>(ops: Ops<T>, x: T, tap?: Tap<T>): T;
}

const traces = new WeakMap<Module, Map<string, ForwardTrace>>();

function traceOf(model: ForwardModule, shape: number[]): ForwardTrace {
  let byKey = traces.get(model);
  if (!byKey) traces.set(model, (byKey = new Map()));
  const key = `${shape.join("x")}|${model.training ? "train" : "eval"}`;
  let trace = byKey.get(key);
  if (!trace) byKey.set(key, (trace = traceForward((ops, x) => model.forward(ops, x), shape)));
  return trace;
}

const isTensor = (a: unknown): a is tf.Tensor => a instanceof tf.Tensor;

/** `ops` with each op tidied and its inputs disposed at their last read, following `trace`. */
function releasingOps(inner: TfOps, trace: ForwardTrace, input: tf.Tensor): Ops<tf.Tensor> {
  const values: tf.Tensor[] = [input];
  // Reads left per tensor object (an op may return its input: the reads of both add up).
  const left = new Map<tf.Tensor, number>([[input, Number.POSITIVE_INFINITY]]);
  let step = 0;
  const ops: Record<string, unknown> = { kind: inner.kind, shape: (x: tf.Tensor) => inner.shape(x) };
  for (const name of TENSOR_OPS) {
    const op = (inner[name] as (...a: unknown[]) => tf.Tensor).bind(inner);
    ops[name] = (...args: unknown[]) => {
      const k = step++;
      const ins = tensorArgs(args, isTensor);
      const ids = trace.inputs[k];
      if (trace.ops[k] !== name || !ids || ids.length !== ins.length || ins.some((t, j) => values[ids[j]!] !== t)) {
        throw new Error(
          `tfForward: op ${k} (${name}) differs from the traced forward (${trace.ops[k] ?? "end"}); the forward must depend only on shapes and training flags`,
        );
      }
      const out = tf.tidy(() => op(...args));
      values[k + 1] = out;
      left.set(out, (left.get(out) ?? 0) + trace.uses[k + 1]!);
      for (const t of ins) {
        const n = left.get(t)! - 1;
        left.set(t, n);
        if (n === 0 && t !== out) {
          t.dispose();
          left.delete(t);
        }
      }
      return out;
    };
  }
  return ops as unknown as Ops<tf.Tensor>;
}

/**
 * `model.forward` on the tfjs interpreter, freeing intermediates as it goes. `x` comes from
 * `ops.input` and stays the caller's; so does the result. A `tap` must read what it is given at once.
 */
export function tfForward(model: ForwardModule, ops: TfOps, x: tf.Tensor, tap?: Tap<tf.Tensor>): tf.Tensor {
  const trace = traceOf(model, ops.shape(x));
  return tf.tidy(() => model.forward(releasingOps(ops, trace, x), x, tap));
}
