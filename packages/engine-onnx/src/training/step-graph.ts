/**
 * One whole SGD training step as ONE ONNX graph: forward (OnnxTrainOps), mean softmax
 * cross-entropy, backward (the tape's rules), global gradient norm (+ optional clipping, as
 * torch.nn.utils.clip_grad_norm_), and torch.optim.SGD's update (dampening 0):
 *   d = g*clip + wd*p;  buf = momentum*buf + d;  p -= lr * (nesterov ? d + momentum*buf : buf).
 * With zero-initialised buffers the first step gives buf = d, exactly torch's first-step clone.
 * Weights, momentum buffers and BN running statistics are graph inputs and their new values graph
 * outputs, fed back by the caller; the learning rate is an input (schedules stay in TypeScript).
 * The same builder makes forward-only graphs (logits) with the weights as inputs, for evaluation.
 */
import type { Ops, Param, SgdConfig } from "@blvnet/core";
import type { OnnxGraphIO, OnnxNode } from "../onnx/graph.js";
import { onnxAttr } from "../onnx/graph.js";
import type { OnnxValue } from "../onnx/onnxops.js";
import { type Emitter, TRAIN_OPSET } from "./emit.js";
import { type DropoutMask, OnnxTrainOps, PACK_UPDATES_BELOW, type RunningStatsUpdate, type TrainLowering } from "./trainops.js";

/** What the builders need of a model: a forward producing logits [N, K] (VideoModel fits). */
export interface ForwardModel {
  forward(ops: Ops<OnnxValue>, x: OnnxValue): OnnxValue;
}

/** The update's settings (momentum 0 = no buffers) and how the backward rules are lowered. */
export interface StepGraphOptions extends SgdConfig {
  /** Lowering choices of the backward rules (A/B timing); defaults are the fastest measured. */
  lowering?: TrainLowering;
}

/** A graph input fed from a Param's current value (flat, [numel]); `output` is the name of its next value (if updated). */
export interface ParamSlot {
  param: Param;
  input: string;
  output: string | null;
  /**
   * The output may be written over the input (fetch buffer = feed buffer): every node that reads
   * the param runs before its update (SGD-updated weights; see `readersTick`).
   */
  inPlace: boolean;
}

/** A momentum buffer of a trainable param. */
export interface MomentumSlot {
  param: Param;
  input: string;
  output: string;
}

export interface StepGraph {
  bytes: Uint8Array;
  inputName: string;
  inputShape: number[];
  /** One-hot labels [N, K] (float). Absent in forward-only graphs. */
  labelsName: string;
  lrName: string;
  lossName: string;
  logitsName: string;
  logitsShape: number[];
  gradNormName: string;
  /** Every Param the graph reads, in the model's state_dict order. */
  params: ParamSlot[];
  momentum: MomentumSlot[];
  runningStats: RunningStatsUpdate[];
  dropoutMasks: DropoutMask[];
}

export const STEP_IO = {
  input: "input",
  labels: "labels_onehot",
  lr: "lr",
  loss: "loss",
  logits: "logits",
  gradNorm: "grad_norm",
} as const;

const nextName = (name: string) => `${name}.next`;
const momentumName = (name: string) => `momentum_buffer.${name}`;

/** Params in state_dict order when the model is a Module, else first-use order. */
function orderedParams(model: ForwardModel, used: Map<Param, string>): [Param, string][] {
  const named = (model as { namedTensors?: () => [string, Param][] }).namedTensors?.();
  if (!named) return [...used];
  const out: [Param, string][] = [];
  for (const [, p] of named) if (used.has(p)) out.push([p, used.get(p)!]);
  return out;
}

/**
 * Trace `model` (with its current train/eval flags) on an input of `inputShape` and build the
 * training-step graph.
 */
export function buildStepGraph(model: ForwardModel, inputShape: number[], hyper: StepGraphOptions = {}): StepGraph {
  const ops = new OnnxTrainOps(hyper.lowering);
  const e = ops.e;
  const x = ops.input(STEP_IO.input, inputShape);
  const logits = model.forward(ops, x);
  if (logits.shape.length !== 2) throw new Error(`training graph: the model must return logits [N, K], got [${logits.shape}]`);
  const [n, k] = logits.shape;
  e.g.addNode("Identity", [logits.name], [STEP_IO.logits]);

  // Mean softmax cross-entropy and its gradient (softmax - onehot) / N.
  const logp = e.op("LogSoftmax", [logits.name], { axis: onnxAttr.int(1) });
  const picked = e.reduceSum(e.mul(logp, STEP_IO.labels), [0, 1], false);
  e.g.addNode("Mul", [picked, e.scalar(-1 / n)], [STEP_IO.loss]);
  const dLogits = e.scale(e.sub(e.op("Exp", [logp]), STEP_IO.labels), 1 / n);
  const { params: grads } = ops.tape.backward(e, logits.name, dLogits);

  const slots = orderedParams(model, ops.paramInputs);
  const trainable = slots.filter(([p]) => grads.has(p));
  if (trainable.length === 0) throw new Error("training graph: no trainable parameter reaches the loss");

  // The norm and the update run on flat views (see OnnxTrainOps: fast elementwise paths); Reshape is an alias.
  const flatGrads = new Map(trainable.map(([p]) => [p, p.shape.length === 1 ? grads.get(p)! : e.reshape(grads.get(p)!, [p.numel])]));
  // Small params are updated as one packed vector (TrainLowering.packUpdatesBelow); the others one by one.
  const packBelow = hyper.lowering?.packUpdatesBelow ?? PACK_UPDATES_BELOW;
  let packed = trainable.filter(([p]) => p.numel <= packBelow);
  if (packed.length < 2) packed = [];
  const single = packed.length ? trainable.filter(([p]) => p.numel > packBelow) : trainable;
  const packedGrad = packed.length
    ? e.concat(
        packed.map(([p]) => flatGrads.get(p)!),
        0,
      )
    : null;
  // Global gradient norm over every gradient, then the clip coefficient.
  const sumSquares = new Map(single.map(([p]) => [p, e.reduceSumSquare(flatGrads.get(p)!, null, false)]));
  const packedSumSquares = packedGrad ? e.reduceSumSquare(packedGrad, null, false) : null;
  e.g.addNode("Sqrt", [e.sum([...sumSquares.values(), ...(packedSumSquares ? [packedSumSquares] : [])])], [STEP_IO.gradNorm]);
  const clip = hyper.clipGradNorm ?? 0;
  const coef = clip > 0 ? e.op("Min", [e.op("Div", [e.scalar(clip), e.add(STEP_IO.gradNorm, e.scalar(1e-6))]), e.scalar(1)]) : null;

  const momentum = hyper.momentum ?? 0;
  const wd = hyper.weightDecay ?? 0;
  // Each packed param's gradient and reader ticks (`firsts`) also ride on the update of the single
  // param before it in state_dict order (in that update's tick): the DFS then computes them next to
  // that param's gradient, as with per-param updates, instead of at the end of the backward with
  // their (large) inputs kept alive until then (measured: +55 MiB peak without riders, +90 MiB with
  // the reader ticks but not the gradients).
  const ridersOf = new Map<Param, Param[]>();
  if (packed.length && single.length) {
    const isPacked = new Set(packed.map(([p]) => p));
    let host: Param = single[0][0];
    for (const [p] of trainable) {
      if (!isPacked.has(p)) host = p;
      else ridersOf.set(host, [...(ridersOf.get(host) ?? []), p]);
    }
  }
  const afterReaders = readersTick(e, new Map(trainable), STEP_IO.loss, new Set([...packed.map(([p]) => p), ...ridersOf.keys()]));
  const updated = new Map<Param, string>();
  const momentumSlots: MomentumSlot[] = [];
  // One SGD update of flat `w` (graph input or packed), grad `d0`, momentum input `m` (when momentum != 0);
  // returns the new weight and momentum values (the caller names them as outputs).
  const update = (w: string, d0: string, m: string | null, lr: string, outW?: string, outM?: string) => {
    let d = d0;
    if (coef) d = e.mul(d, coef);
    if (wd !== 0) d = e.add(d, e.scale(w, wd));
    let step = d;
    if (m !== null) {
      const m2 = outM ?? e.g.fresh("momentum_next");
      e.g.addNode("Add", [e.scale(m, momentum), d], [m2]);
      step = hyper.nesterov ? e.add(d, e.scale(m2, momentum)) : m2;
    }
    const w2 = outW ?? e.g.fresh("weight_next");
    e.g.addNode("Sub", [w, e.mul(step, lr)], [w2]);
  };
  if (packedGrad) {
    // The same update on the concatenation, split into the outputs. It waits for the backward readers
    // of every packed weight (their `firsts`, summed) before the Split writes the new weights over
    // them. Its nodes come before the single updates in the graph: onnxruntime's default order is a
    // reverse DFS from the leaf nodes, last one first, so the packed update runs last (after the
    // backward) and each single update as soon as its gradient is complete (measured: emitted after
    // them, the packed update pulls the whole backward in its own order, +110 MiB peak).
    let lr = coef ? STEP_IO.lr : e.add(STEP_IO.lr, e.scale(packedSumSquares!, 0));
    const firsts = packed.flatMap(([p]) => afterReaders.get(p)?.firsts ?? []);
    if (firsts.length) lr = e.add(lr, e.scale(e.reduceSum(e.concat(firsts, 0), [0], false), 0));
    const slots =
      momentum !== 0 ? packed.map(([p, name]) => ({ param: p, input: momentumName(name), output: nextName(momentumName(name)) })) : [];
    momentumSlots.push(...slots);
    const w = e.concat(
      packed.map(([, name]) => name),
      0,
    );
    const m = slots.length
      ? e.concat(
          slots.map((s) => s.input),
          0,
        )
      : null;
    const w2 = e.g.fresh("weight_next");
    const m2 = m ? e.g.fresh("momentum_next") : undefined;
    update(w, packedGrad, m, lr, w2, m2);
    const sizes = e.i64(packed.map(([p]) => p.numel));
    e.g.addNode(
      "Split",
      [w2, sizes],
      packed.map(([, name]) => nextName(name)),
      { axis: onnxAttr.int(0) },
    );
    if (m2)
      e.g.addNode(
        "Split",
        [m2, sizes],
        slots.map((s) => s.output),
        { axis: onnxAttr.int(0) },
      );
    for (const [p, name] of packed) updated.set(p, nextName(name));
  }
  for (const [p, name] of single) {
    // Without clipping, `lr + 0 * |g|^2` (== lr bit for bit while finite; a non-finite step is
    // discarded anyway) makes each update read its own norm term: onnxruntime orders execution by a
    // DFS from the graph outputs, so each parameter's norm term and update then run as soon as its
    // gradient is complete (still in cache, buffer freed early) instead of all after the backward.
    let lr = coef ? STEP_IO.lr : e.add(STEP_IO.lr, e.scale(sumSquares.get(p)!, 0));
    // The new weight is written over the old one: `lr + 0 * (one value of each backward reader of
    // the weight)` (== lr while finite) makes the update wait for them.
    let tick = afterReaders.get(p)?.tick;
    const riders = ridersOf.get(p);
    if (riders) {
      const firsts = [p, ...riders].flatMap((q) => afterReaders.get(q)?.firsts ?? []);
      // (whole small gradients: their sum is finite when their squares are, else the step is discarded anyway)
      for (const q of riders) firsts.push(flatGrads.get(q)!);
      tick = e.reduceSum(e.concat(firsts, 0), [0], false);
    }
    if (tick) lr = e.add(lr, e.scale(tick, 0));
    let slot: MomentumSlot | null = null;
    if (momentum !== 0) {
      slot = { param: p, input: momentumName(name), output: nextName(momentumName(name)) };
      momentumSlots.push(slot);
    }
    update(name, flatGrads.get(p)!, slot?.input ?? null, lr, nextName(name), slot?.output);
    updated.set(p, nextName(name));
  }
  const order = new Map(trainable.map(([p], i) => [p, i]));
  momentumSlots.sort((a, b) => order.get(a.param)! - order.get(b.param)!);
  const statsOut = new Map<Param, string>();
  for (const r of ops.runningStats) {
    statsOut.set(r.bn.runningMean, r.meanOut);
    statsOut.set(r.bn.runningVar, r.varOut);
  }
  const params: ParamSlot[] = slots.map(([param, input]) => {
    const out = updated.get(param) ?? (statsOut.has(param) ? nextName(input) : null);
    if (statsOut.has(param)) e.g.addNode("Identity", [statsOut.get(param)!], [out!]); // running stats are 1-D
    return { param, input, output: out, inPlace: updated.has(param) };
  });

  const inputs: OnnxGraphIO[] = [
    { name: STEP_IO.input, dims: inputShape },
    { name: STEP_IO.labels, dims: [n, k] },
    { name: STEP_IO.lr, dims: [] },
    ...params.map((s) => ({ name: s.input, dims: [s.param.numel] })),
    ...momentumSlots.map((s) => ({ name: s.input, dims: [s.param.numel] })),
    ...ops.dropoutMasks.map((m) => ({ name: m.name, dims: m.shape })),
  ];
  const outputs: OnnxGraphIO[] = [
    { name: STEP_IO.loss, dims: [] },
    { name: STEP_IO.logits, dims: [n, k] },
    { name: STEP_IO.gradNorm, dims: [] },
    ...params.filter((s) => s.output).map((s) => ({ name: s.output!, dims: [s.param.numel] })),
    ...momentumSlots.map((s) => ({ name: s.output, dims: [s.param.numel] })),
  ];
  const bytes = e.g.toBytes({
    opset: TRAIN_OPSET,
    graphName: "sgd_step",
    inputs,
    outputs,
    docString: "one SGD training step (forward, backward, update)",
  });
  return {
    bytes,
    inputName: STEP_IO.input,
    inputShape: [...inputShape],
    labelsName: STEP_IO.labels,
    lrName: STEP_IO.lr,
    lossName: STEP_IO.loss,
    logitsName: STEP_IO.logits,
    logitsShape: [n, k],
    gradNormName: STEP_IO.gradNorm,
    params,
    momentum: momentumSlots,
    runningStats: ops.runningStats,
    dropoutMasks: ops.dropoutMasks,
  };
}

/**
 * For each param, values [1] that are computed only after every node that reads the param (its flat
 * input or a Reshape/Identity view of it) and is not an ancestor of `loss` (forward readers come
 * before the loss, hence before any update): one element of each such reader's first output
 * (`firsts`, [1] each), summed into `tick` unless the param is in `untallied`. Params without such
 * readers are absent. onnxruntime only orders nodes by data
 * dependencies, so an update that reads this value cannot overwrite the weight while the backward
 * still needs it (e.g. an input-gradient ConvTranspose or MatMul reading W).
 */
function readersTick(
  e: Emitter,
  params: Map<Param, string>,
  loss: string,
  untallied: Set<Param>,
): Map<Param, { tick?: string; firsts: string[] }> {
  const { producer, readers: consumers } = e.g.links();
  // Ancestors of the loss (the forward and the loss itself).
  const beforeLoss = new Set<OnnxNode>();
  const stack = [producer.get(loss)!];
  while (stack.length) {
    const n = stack.pop()!;
    if (beforeLoss.has(n)) continue;
    beforeLoss.add(n);
    for (const i of n.inputs) {
      const p = producer.get(i);
      if (p && !beforeLoss.has(p)) stack.push(p);
    }
  }
  const out = new Map<Param, { tick?: string; firsts: string[] }>();
  for (const [p, input] of params) {
    const readers: OnnxNode[] = [];
    const views = [input];
    while (views.length) {
      for (const n of consumers.get(views.pop()!) ?? []) {
        if (n.opType === "Reshape" || n.opType === "Identity") views.push(n.outputs[0]);
        else if (!beforeLoss.has(n) && !readers.includes(n)) readers.push(n);
      }
    }
    if (!readers.length) continue;
    const firsts = readers.map((n) => e.slice(e.reshape(n.outputs[0], [-1]), [0], [1], [0]));
    out.set(p, { firsts, tick: untallied.has(p) ? undefined : e.reduceSum(e.sum(firsts), [0], false) });
  }
  return out;
}

export interface ForwardGraph {
  bytes: Uint8Array;
  inputName: string;
  inputShape: number[];
  logitsName: string;
  logitsShape: number[];
  params: ParamSlot[];
}

/** Forward-only graph (logits) with the params as inputs, traced with the model's current flags (call model.eval() first). */
export function buildForwardGraph(model: ForwardModel, inputShape: number[]): ForwardGraph {
  const ops = new OnnxTrainOps();
  const x = ops.input(STEP_IO.input, inputShape);
  const logits = model.forward(ops, x);
  if (ops.dropoutMasks.length || ops.runningStats.length) throw new Error("forward graph: trace the model in eval mode");
  ops.e.g.addNode("Identity", [logits.name], [STEP_IO.logits]);
  const params = orderedParams(model, ops.paramInputs).map(([param, input]) => ({ param, input, output: null, inPlace: false }));
  const bytes = ops.e.g.toBytes({
    opset: TRAIN_OPSET,
    graphName: "forward",
    inputs: [{ name: STEP_IO.input, dims: inputShape }, ...params.map((s) => ({ name: s.input, dims: [s.param.numel] }))],
    outputs: [{ name: STEP_IO.logits, dims: [...logits.shape] }],
  });
  return {
    bytes,
    inputName: STEP_IO.input,
    inputShape: [...inputShape],
    logitsName: STEP_IO.logits,
    logitsShape: [...logits.shape],
    params,
  };
}
