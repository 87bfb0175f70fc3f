import { assignNames, Conv2d, Module, type Ops, type Tap } from "@blvnet/core";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "./backend.js";
import { tfForward } from "./forward.js";
import { TfOps } from "./tfops.js";

/** A deep chain: with release at last use, live tensors stay flat however deep it is. */
class Chain extends Module<{ depth: number }> {
  conv = new Conv2d(2, 2, 1);
  forward<T>(ops: Ops<T>, x: T, tap?: Tap<T>): T {
    let y = this.conv.forward(ops, x);
    for (let i = 0; i < this.cfg.depth; i++) {
      y = ops.relu(ops.add(y, y));
      tap?.(`step${i}`, y);
    }
    return y;
  }
}

/** Ops that may return their input (dropout off, zero shift, a one-term sum) and values read late. */
class Aliases extends Module {
  forward<T>(ops: Ops<T>, x: T): T {
    const same = ops.dropout(x, 0.5, false); // the model input itself
    const z = ops.relu(same);
    const w = ops.sum([ops.timeShift(ops.dropout(z, 0, true), 2, 0)]); // z again, three times over
    const late = ops.relu(x);
    return ops.add(ops.add(z, w), ops.add(late, x));
  }
}

const input = (ops: TfOps) =>
  ops.input(
    Float32Array.from({ length: 2 * 2 * 3 * 3 }, (_, i) => Math.sin(i)),
    [2, 2, 3, 3],
  );

describe("tfForward", () => {
  beforeAll(async () => {
    await initBackend("cpu");
  });

  it("gives the plain forward's values and frees every intermediate at its last use", () => {
    const model = new Chain({ depth: 12 });
    assignNames(model);
    const ops = new TfOps();
    const x = input(ops);
    const plain = tf.tidy(() => model.forward(ops, x));
    const before = tf.memory().numTensors;
    const live: number[] = [];
    const y = tfForward(model, ops, x, () => live.push(tf.memory().numTensors - before));
    expect(Math.max(...live)).toBeLessThanOrEqual(1); // the current value only (input and weights were there before)
    expect(Math.min(...live)).toBe(Math.max(...live));
    expect(tf.memory().numTensors - before).toBe(1); // the result, nothing leaked
    expect(Array.from(y.dataSync())).toEqual(Array.from(plain.dataSync()));
    expect(x.isDisposed).toBe(false);
    tf.dispose([x, y, plain]);
  });

  it("keeps tensors an op returned unchanged while they are still read, and never frees the input", () => {
    const model = new Aliases();
    const ops = new TfOps();
    const x = input(ops);
    const plain = tf.tidy(() => model.forward(ops, x));
    const before = tf.memory().numTensors;
    const y = tfForward(model, ops, x);
    expect(tf.memory().numTensors - before).toBe(1);
    expect(Array.from(y.dataSync())).toEqual(Array.from(plain.dataSync()));
    expect(x.isDisposed).toBe(false);
    tf.dispose([x, y, plain]);
  });

  it("refuses a forward that does not follow its trace", () => {
    let calls = 0;
    const model = new (class extends Module {
      forward<T>(ops: Ops<T>, x: T): T {
        return calls++ === 0 ? ops.relu(x) : ops.globalAvgPool(x);
      }
    })();
    const ops = new TfOps();
    const x = input(ops);
    expect(() => tfForward(model, ops, x)).toThrow(/differs from the traced forward/);
    x.dispose();
  });
});
