/**
 * The reverse-mode tape of a traced forward: each recorded op remembers how to emit its backward
 * nodes. `backward` walks the tape in reverse, summing (ONNX Sum) the gradient contributions of a
 * value used more than once before handing the total to its producer's rule.
 */
import type { Param } from "@blvnet/core";
import type { Emitter } from "./emit.js";

export interface TapeEntry {
  /** Name of the value this op produced. */
  output: string;
  /** Emit the gradient nodes of this op's inputs and params, given the output gradient. */
  backward(dy: string): void;
}

export class Tape {
  private readonly entries: TapeEntry[] = [];
  /** Values whose gradient is wanted (they depend on a trainable param or were marked). */
  private readonly live = new Set<string>();
  private readonly valueGrads = new Map<string, string[]>();
  private readonly paramGrads = new Map<Param, string[]>();

  /** Mark a value as needing a gradient (e.g. a graph input under a gradient check). */
  markLive(name: string): void {
    this.live.add(name);
  }

  needs(name: string): boolean {
    return this.live.has(name);
  }

  /**
   * Record an op whose output needs a gradient when one of its inputs does or it reads a trainable
   * param. Returns whether it was recorded.
   */
  record(output: string, inputs: string[], params: (Param | null)[], backward: (dy: string) => void): boolean {
    if (inputs.includes(output)) return false; // an identity op returned its input: nothing to do
    const needed = inputs.some((i) => this.live.has(i)) || params.some((p) => p?.trainable);
    if (!needed) return false;
    this.live.add(output);
    this.entries.push({ output, backward });
    return true;
  }

  /** Add a gradient contribution for a value (ignored for values that need none). */
  toValue(name: string, grad: string): void {
    if (!this.live.has(name)) return;
    const list = this.valueGrads.get(name);
    if (list) list.push(grad);
    else this.valueGrads.set(name, [grad]);
  }

  toParam(p: Param | null, grad: () => string): void {
    if (!p?.trainable) return;
    const g = grad();
    const list = this.paramGrads.get(p);
    if (list) list.push(g);
    else this.paramGrads.set(p, [g]);
  }

  /**
   * Run the rules in reverse from `seedGrad` (dL/d`output`); returns dL/dp per trainable param
   * reached and the collected gradients of `wanted` values (e.g. marked graph inputs).
   */
  backward(
    e: Emitter,
    output: string,
    seedGrad: string,
    wanted: string[] = [],
  ): { params: Map<Param, string>; values: Map<string, string> } {
    this.valueGrads.set(output, [seedGrad]);
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const entry = this.entries[i];
      const grads = this.valueGrads.get(entry.output);
      if (!grads) continue; // does not reach the loss
      this.valueGrads.delete(entry.output);
      entry.backward(e.sum(grads));
    }
    const params = new Map<Param, string>();
    for (const [p, gs] of this.paramGrads) params.set(p, e.sum(gs));
    const values = new Map<string, string>();
    for (const w of wanted) {
      const gs = this.valueGrads.get(w);
      if (gs) values.set(w, e.sum(gs));
    }
    return { params, values };
  }
}
