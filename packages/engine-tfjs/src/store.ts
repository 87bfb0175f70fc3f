/**
 * Device copies of Params in tfjs layout, uploaded once per Param.version. In training the store
 * hands out tf.Variables (so tf.variableGrads sees them) and tracks values changed on the device
 * (optimizer steps, BN running statistics) until `syncToParams` copies them back.
 */

import type { Param } from "@blvnet/core";
import * as tf from "@tensorflow/tfjs-core";
import { fromNative, toNative, type WeightForm } from "./layouts.js";

interface Entry {
  form: WeightForm;
  version: number;
  tensor: tf.Tensor;
  dirty: boolean;
}

let storeCount = 0;
let variableCount = 0;

export class ParamStore {
  private readonly entries = new Map<Param, Entry>();
  /** Variable names are engine-global: a per-store prefix (and a counter) keep them unique. */
  private readonly prefix = `store${++storeCount}/`;
  /** When true, trainable params are tf.Variables. */
  constructor(readonly trainable = false) {}

  get(p: Param, form: WeightForm): tf.Tensor {
    const e = this.entries.get(p);
    if (e && (e.version === p.version || e.dirty)) {
      if (e.form !== form) throw new Error(`${p.name}: used as ${e.form} and as ${form}`);
      return e.tensor;
    }
    e?.tensor.dispose();
    const { data, shape } = toNative(form, p.f32, p.shape);
    const t =
      this.trainable && p.trainable
        ? tf.variable(tf.tensor(data, shape), true, `${this.prefix}${p.name || "param"}#${p.version}.${++variableCount}`)
        : tf.keep(tf.tensor(data, shape));
    this.entries.set(p, { form, version: p.version, tensor: t, dirty: false });
    return t;
  }

  /** Replace a value on the device (e.g. BN running stats); copied back by syncToParams. */
  replace(p: Param, value: tf.Tensor): void {
    const e = this.entries.get(p);
    if (!e) throw new Error(`${p.name}: replace before first use`);
    if (e.tensor instanceof tf.Variable) e.tensor.assign(value);
    else {
      e.tensor.dispose();
      e.tensor = tf.keep(value);
    }
    e.dirty = true;
  }

  /** Mark a variable updated in place (optimizer step). */
  markDirty(p: Param): void {
    const e = this.entries.get(p);
    if (e) e.dirty = true;
  }

  /** True when some cached copy is older than its Param (it will be re-created on next use). */
  hasStale(): boolean {
    for (const [p, e] of this.entries) if (!e.dirty && e.version !== p.version) return true;
    return false;
  }

  variables(): Map<Param, tf.Variable> {
    const out = new Map<Param, tf.Variable>();
    for (const [p, e] of this.entries) if (e.tensor instanceof tf.Variable) out.set(p, e.tensor);
    return out;
  }

  entryOf(p: Param): { form: WeightForm; tensor: tf.Tensor } | undefined {
    return this.entries.get(p);
  }

  /** Copy device-side changes back into the Params (PyTorch layout). */
  syncToParams(): void {
    for (const [p, e] of this.entries) {
      if (!e.dirty) continue;
      p.set(fromNative(e.form, e.tensor.dataSync() as Float32Array, p.shape).slice());
      e.version = p.version;
      e.dirty = false;
    }
  }

  dispose(): void {
    for (const e of this.entries.values()) e.tensor.dispose();
    this.entries.clear();
  }
}
