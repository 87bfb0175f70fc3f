/**
 * A shape-only trace of one forward pass: the op sequence and which values each op reads, so an
 * interpreter that holds real memory can free each intermediate right after its last use
 * (engine-tfjs' `tfForward`) while the model code keeps no bookkeeping of its own.
 */
import type { Ops, TensorOp } from "../ops.js";
import { TENSOR_OPS } from "../ops.js";
import { ShapeOps } from "./shape-ops.js";
import type { ShapeTensor } from "./tensor.js";

export interface ForwardTrace {
  /** Op name of each call, in order. */
  ops: TensorOp[];
  /** Value ids each call reads (0 = the model input; call k makes value k + 1), in argument order. */
  inputs: number[][];
  /** Reads of each value by later calls, +1 for the result (so it never reaches 0). */
  uses: number[];
}

/** The tensors among an op's arguments (plain or in an array argument such as `sum`'s), in order. */
export function tensorArgs<T>(args: unknown[], isTensor: (a: unknown) => a is T): T[] {
  const out: T[] = [];
  for (const a of args) {
    if (isTensor(a)) out.push(a);
    else if (Array.isArray(a)) for (const b of a) if (isTensor(b)) out.push(b);
  }
  return out;
}

class Value {
  constructor(
    readonly id: number,
    readonly t: ShapeTensor,
  ) {}
}
const isValue = (a: unknown): a is Value => a instanceof Value;

/** Trace `forward` on an input of logical shape `shape`. Every call makes a fresh value, even where an interpreter would return its input. */
export function traceForward(forward: <T>(ops: Ops<T>, x: T) => T, shape: readonly number[]): ForwardTrace {
  const inner = new ShapeOps();
  const trace: ForwardTrace = { ops: [], inputs: [], uses: [0] };
  const unwrap = (a: unknown) => (isValue(a) ? a.t : Array.isArray(a) ? a.map((b) => (isValue(b) ? b.t : b)) : a);
  const ops: Record<string, unknown> = { kind: "trace", shape: (x: Value) => inner.shape(x.t) };
  for (const name of TENSOR_OPS) {
    ops[name] = (...args: unknown[]) => {
      const ids = tensorArgs(args, isValue).map((v) => v.id);
      for (const id of ids) trace.uses[id]!++;
      const out = (inner[name] as (...a: unknown[]) => ShapeTensor)(...args.map(unwrap));
      trace.ops.push(name);
      trace.inputs.push(ids);
      trace.uses.push(0);
      return new Value(trace.ops.length, out);
    };
  }
  const result = forward(ops as unknown as Ops<Value>, new Value(0, inner.input(shape)));
  trace.uses[result.id]!++;
  return trace;
}
