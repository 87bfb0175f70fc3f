/**
 * Training with onnxruntime-node: the whole SGD step is one compiled ONNX graph (step-graph.ts).
 * Weights, momentum buffers and BN running statistics live as (flat) onnxruntime tensors owned here and
 * are fed back every step without copies. On the CPU, weights and momentum buffers are updated in
 * place (the run writes each new value over the one it read: the step graph orders every reader
 * of a weight before its update), like torch.optim.SGD: no second copy of the weights (~100 MiB on
 * bLVNet-TAM-50). So a step whose loss or gradient norm is not finite has already overwritten them
 * (`applied: false`): the trainer then refuses to step, save or hand out momenta until they are
 * restored (`reloadParams` after loading the Params, `setMomentumBuffers`; train() stops there and
 * resumes from the last good checkpoint). BN running statistics (small) still have a spare of the
 * same shape that the run writes into; the two swap after a finite step. The model's Params share
 * these arrays (no third copy): after each CPU step they point at the current values
 * (`syncToParams` does the same after device steps).
 *
 * Devices: the sessions run on the CPU EP (default), the WebGPU EP or the CUDA EP (`device`). On
 * WebGPU the state stays on the device between steps (`resident`, default on): the step's state
 * outputs are kept as GPU buffers (onnxruntime's IO binding, `preferredOutputLocation`) and fed to
 * the next step as they are, so a step copies only the batch, the labels and three scalars across
 * the bus; `download()` brings the state back to host memory (before `syncToParams`). onnxruntime-node
 * has no device-resident tensors for the CUDA EP: there the state makes a host round trip per step.
 */

import { availableParallelism } from "node:os";
import type { Module, Param, TensorMap } from "@blvnet/core";
import { dropoutMask, Rng, stateDict } from "@blvnet/core";
import type * as Ort from "onnxruntime-node";
import { FfiSession } from "../ort/ffi-session.js";
import type { OrtDevice } from "../ort/providers.js";
import { DeviceReadback } from "../ort/resident.js";
import { createDeviceSession, deviceSession, loadOrt } from "../ort/session.js";
import { freeArrayBuffer } from "./free-buffer.js";
import { findProfileFile } from "./profile.js";
import {
  buildForwardGraph,
  buildStepGraph,
  type ForwardGraph,
  type ForwardModel,
  type StepGraph,
  type StepGraphOptions,
} from "./step-graph.js";

export type TrainableForwardModel = ForwardModel & Module;

/** Per-step options of `OrtTrainer.step`. */
export interface StepOptions {
  /** Batch shape in the model's layout (default: the `inputShape` the trainer was created with). */
  shape?: number[];
  /** Seed of this step's dropout masks (default: opts.seed + steps done). */
  dropoutSeed?: number;
}

/** The step graph's options (`lr`: the rate of a `step` called without one) and the session's. */
export interface OrtTrainerOptions extends StepGraphOptions {
  /** Seed of the dropout masks (step s draws from seed + s unless `step` is given a seed). */
  seed?: number;
  /** Intra-op threads (default: every core). */
  threads?: number;
  graphOptimizationLevel?: "disabled" | "basic" | "extended" | "all";
  /** Write onnxruntime's profile of the step session (JSON) with this path prefix. */
  profilePrefix?: string;
  /** Execution provider of the step and forward sessions (default "cpu"). */
  device?: OrtDevice;
  /** WebGPU: keep weights, momentum buffers and BN statistics on the device between steps (default true). */
  resident?: boolean;
  /** onnxruntime's CPU memory arena (default on). */
  memArena?: boolean;
  /**
   * Free onnxruntime-node's copies of the state outputs right after each host step (default true;
   * false only for A/B: see `freeOutputCopies`). Moot on the C API path (`ffi`), which makes none.
   */
  freeOutputCopies?: boolean;
  /**
   * Run the CPU step through onnxruntime's C API (`FfiSession`) rather than onnxruntime-node's
   * binding, which copies every fetched output (default true where available; false for A/B).
   */
  ffi?: boolean;
  /**
   * onnxruntime's memory pattern (one pre-planned activation block per run; default off: on the
   * bLVNet-TAM-50 f8x2 112x112 step it raised peak RSS from ~1,240 to ~1,560 MiB at no measurable
   * speed gain; measure with packages/bench/src/perf/step-memory.bench.ts).
   */
  memPattern?: boolean;
}

export interface OrtStepResult {
  loss: number;
  /** Rows whose arg-max logit is the label. */
  correct: number;
  /** Global L2 norm of the gradients (before clipping). */
  gradNorm: number;
  /**
   * False when the loss or gradient norm was not finite: the step count and BN statistics are
   * unchanged, but on the CPU the weights and momentum buffers were overwritten (see the class).
   */
  applied: boolean;
}

/** A value fed to the graph and (optionally) rewritten by it: current tensor plus a spare for the next value. */
interface StateTensor {
  cur: Ort.Tensor;
  spare: Ort.Tensor | null;
  /** Changed since the last syncToParams. */
  dirty: boolean;
}

/** What the trainer asks of a step session: onnxruntime-node's or the C API's (`FfiSession`). */
interface StepSession {
  run(feeds: Record<string, Ort.Tensor>, fetches: Record<string, Ort.Tensor | null>): Promise<Record<string, Ort.Tensor>>;
  endProfiling(): unknown;
  release(): Promise<void>;
}

interface CompiledStep {
  graph: StepGraph;
  session: StepSession;
  labels: Float32Array;
}

interface CompiledForward {
  graph: ForwardGraph;
  session: Ort.InferenceSession;
}

const shapeKey = (shape: number[]) => shape.join("x");

/**
 * onnxruntime-node (1.30) returns every fetched output as a NEW ArrayBuffer, copying even the
 * pre-allocated ones the run wrote into: each step hands JS a copy of all weights and momentum
 * buffers (~200 MiB on bLVNet-TAM-50) that nothing reads and V8 would free only at a later GC,
 * adding to the peak. Free those copies now (the pre-allocated tensors hold the same values).
 */
function freeOutputCopies(out: Ort.InferenceSession.ReturnType, fetches: Record<string, Ort.Tensor | null>): void {
  for (const [name, mine] of Object.entries(fetches)) {
    if (!mine) continue;
    const copy = out[name].data as Float32Array;
    if (copy.buffer !== (mine.data as Float32Array).buffer) freeArrayBuffer(copy.buffer as ArrayBuffer);
  }
}

export class OrtTrainer {
  private readonly values = new Map<Param, StateTensor>();
  private readonly momenta = new Map<Param, StateTensor>();
  private readonly stepGraphs = new Map<string, CompiledStep>();
  private readonly forwardGraphs = new Map<string, CompiledForward>();
  private steps = 0;
  /** A non-finite step wrote its (non-finite) momentum buffers in place: stepping on needs them restored. */
  private momentaLost = false;
  /** A non-finite step wrote its weights in place: stepping on needs them reloaded (`reloadParams`). */
  private weightsLost = false;
  readonly device: OrtDevice;
  /** State tensors stay on the device between steps (WebGPU only). */
  readonly resident: boolean;
  private readback: DeviceReadback | null = null;

  private constructor(
    private readonly ort: typeof Ort,
    readonly model: TrainableForwardModel,
    readonly opts: OrtTrainerOptions & { inputShape?: number[] },
  ) {
    this.device = opts.device ?? "cpu";
    this.resident = this.device === "webgpu" && opts.resident !== false;
    // The WebGPU EP has no Sum kernel: gradient sums as chained Adds keep them on the GPU (no host copies).
    // Its shaders take at most 16 storage buffers, so no packed update (its Concat/Split have hundreds of inputs/outputs).
    if (this.device === "webgpu")
      this.opts = {
        ...opts,
        lowering: { sumAsAdds: true, packUpdatesBelow: 0, ...opts.lowering },
      };
  }

  /** A trainer for `model`; the step graph is compiled for `inputShape` now (others on first use). */
  static async create(model: TrainableForwardModel, opts: OrtTrainerOptions & { inputShape?: number[] } = {}): Promise<OrtTrainer> {
    const t = new OrtTrainer(await loadOrt(), model, opts);
    if (opts.inputShape) await t.compileStep(opts.inputShape);
    return t;
  }

  /** Optimizer steps applied so far (the dropout stream position). */
  get stepCount(): number {
    return this.steps;
  }

  set stepCount(n: number) {
    this.steps = n;
  }

  /** The session settings every trainer session shares (binding or C API). */
  private get hostOptions() {
    return {
      threads: this.opts.threads ?? availableParallelism(),
      graphOptimizationLevel: this.opts.graphOptimizationLevel ?? "all",
      enableCpuMemArena: this.opts.memArena ?? true,
      enableMemPattern: this.opts.memPattern ?? false,
    };
  }

  /** A session on the trainer's device; `deviceOutputs` stay on the device (resident state). */
  private session(bytes: Uint8Array, profile: boolean, deviceOutputs: string[] = []): Promise<Ort.InferenceSession> {
    return createDeviceSession(this.ort, this.device, bytes, {
      ...this.hostOptions,
      ...(deviceOutputs.length
        ? { preferredOutputLocation: Object.fromEntries(deviceOutputs.map((o) => [o, "gpu-buffer" as const])) }
        : {}),
      ...(profile && this.opts.profilePrefix ? { enableProfiling: true, profileFilePrefix: this.opts.profilePrefix } : {}),
    });
  }

  /**
   * The step on the CPU through onnxruntime's C API (`FfiSession`: outputs written in place, no
   * copies), unless turned off (`ffi: false`) or not available on this platform (null: the caller
   * uses onnxruntime-node's binding).
   */
  private hostStepSession(bytes: Uint8Array): StepSession | null {
    if (this.device !== "cpu" || this.opts.ffi === false) return null;
    return FfiSession.create(this.ort, bytes, { ...this.hostOptions, profileFilePrefix: this.opts.profilePrefix });
  }

  /** Build and load the step graph for a batch shape (traced with the model's current train/eval flags). */
  async compileStep(inputShape: number[]): Promise<StepGraph> {
    const key = shapeKey(inputShape);
    const known = this.stepGraphs.get(key);
    if (known) return known.graph;
    const graph = buildStepGraph(this.model, inputShape, this.opts);
    // Resident: every state output stays on the device (onnxruntime-node needs all outputs fetched then: step() does).
    const stateOutputs = this.resident
      ? [...graph.params.flatMap((s) => (s.output ? [s.output] : [])), ...graph.momentum.map((s) => s.output)]
      : [];
    const session = this.hostStepSession(graph.bytes) ?? ((await this.session(graph.bytes, true, stateOutputs)) as unknown as StepSession);
    this.stepGraphs.set(key, { graph, session, labels: new Float32Array(graph.logitsShape[0] * graph.logitsShape[1]) });
    return graph;
  }

  private tensor(data: Float32Array, shape: number[]): Ort.Tensor {
    return new this.ort.Tensor("float32", data, shape);
  }

  /** The state tensor of a Param, created from its current value on first use; `updated`: it gets a spare (written by the run, swapped after a finite step). */
  private valueOf(p: Param, updated: boolean): StateTensor {
    let s = this.values.get(p);
    if (!s) {
      // The Param's own array is the first value: no copy (after a step the Param points at the new value).
      s = { cur: this.tensor(p.f32, [p.numel]), spare: null, dirty: false };
      this.values.set(p, s);
    }
    if (updated && !s.spare && !this.resident) s.spare = this.tensor(new Float32Array(p.numel), [p.numel]);
    return s;
  }

  private momentumOf(p: Param): StateTensor {
    let s = this.momenta.get(p);
    if (!s) {
      // For momenta `dirty` means "holds a real buffer" (written by a step or restored). No spare:
      // the step updates a momentum buffer in place (only its own update reads it).
      s = { cur: this.tensor(new Float32Array(p.numel), [p.numel]), spare: null, dirty: false };
      this.momenta.set(p, s);
    }
    return s;
  }

  /** One SGD step on a batch (input in the model's layout, one label per clip) at learning rate `lr`. */
  async step(input: Float32Array, labels: ArrayLike<number>, lr = this.opts.lr, stepOpts: StepOptions = {}): Promise<OrtStepResult> {
    if (lr === undefined) throw new Error("OrtTrainer.step: no learning rate (pass one or set opts.lr)");
    const inputShape = stepOpts.shape ?? this.opts.inputShape;
    if (!inputShape) throw new Error("OrtTrainer.step: no batch shape (pass { shape } or create the trainer with inputShape)");
    await this.compileStep(inputShape);
    const c = this.stepGraphs.get(shapeKey(inputShape))!;
    const g = c.graph;
    const [n, k] = g.logitsShape;
    if (labels.length !== n) throw new Error(`OrtTrainer.step: ${labels.length} labels for ${n} logit rows`);
    c.labels.fill(0);
    for (let i = 0; i < n; i++) {
      const l = labels[i];
      if (!Number.isInteger(l) || l < 0 || l >= k) throw new Error(`OrtTrainer.step: label ${l} outside [0, ${k})`);
      c.labels[i * k + l] = 1;
    }
    const feeds: Record<string, Ort.Tensor> = {
      [g.inputName]: this.tensor(input, inputShape),
      [g.labelsName]: this.tensor(c.labels, [n, k]),
      [g.lrName]: this.tensor(Float32Array.of(lr), []),
    };
    const fetches: Record<string, Ort.Tensor | null> = { [g.lossName]: null, [g.logitsName]: null, [g.gradNormName]: null };
    if (this.weightsLost || this.momentaLost)
      throw new Error(
        `OrtTrainer.step: a non-finite step overwrote the ${this.lostWhat()} (updated in place); restore them (reloadParams after loading the Params, setMomentumBuffers) or resume from a checkpoint`,
      );
    const swaps: StateTensor[] = [];
    const inPlace: StateTensor[] = [];
    for (const slot of g.params) {
      // In place on the host: the run writes the new value over the one it read (no spare).
      const overwrite = slot.inPlace && !this.resident;
      const s = this.valueOf(slot.param, slot.output !== null && !overwrite);
      feeds[slot.input] = s.cur;
      if (slot.output && overwrite) {
        fetches[slot.output] = s.cur;
        inPlace.push(s);
      } else if (slot.output) {
        fetches[slot.output] = s.spare;
        swaps.push(s);
      }
    }
    const momenta = g.momentum.map((slot) => this.momentumOf(slot.param));
    g.momentum.forEach((slot, i) => {
      feeds[slot.input] = momenta[i].cur;
      // In place on the host: the run writes the new buffer over the one it read.
      fetches[slot.output] = this.resident ? null : momenta[i].cur;
      if (this.resident) swaps.push(momenta[i]);
    });
    // One stream for the step's masks, in forward order: TfOps draws the same units for the same seed.
    const masks = new Rng(stepOpts.dropoutSeed ?? (this.opts.seed ?? 0) + this.steps);
    for (const m of g.dropoutMasks)
      feeds[m.name] = this.tensor(
        dropoutMask(
          masks,
          m.shape.reduce((a, b) => a * b, 1),
          m.p,
        ),
        m.shape,
      );

    // Resident state: no pre-allocated outputs (onnxruntime allocates them on the device).
    if (this.resident) for (const k of Object.keys(fetches)) fetches[k] = null;
    const out = await c.session.run(feeds, fetches);
    if (!this.resident && this.opts.freeOutputCopies !== false) freeOutputCopies(out, fetches);
    const loss = (out[g.lossName].data as Float32Array)[0];
    const gradNorm = (out[g.gradNormName].data as Float32Array)[0];
    const logits = out[g.logitsName].data as Float32Array;
    let correct = 0;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let j = 1; j < k; j++) if (logits[i * k + j] > logits[i * k + best]) best = j;
      if (best === labels[i]) correct++;
    }
    const applied = Number.isFinite(loss) && Number.isFinite(gradNorm);
    if (!this.resident && momenta.length) {
      if (applied) for (const m of momenta) m.dirty = true;
      else this.momentaLost = true;
    }
    if (inPlace.length) {
      if (applied) for (const s of inPlace) s.dirty = true;
      else this.weightsLost = true;
    }
    if (this.resident) {
      const outputs = [...g.params.flatMap((slot) => (slot.output ? [slot.output] : [])), ...g.momentum.map((slot) => slot.output)];
      outputs.forEach((name, i) => {
        const s = swaps[i];
        const next = out[name];
        if (!applied) return next.dispose();
        if (s.cur.location === "gpu-buffer") s.cur.dispose();
        s.cur = next;
        s.dirty = true;
      });
    }
    if (applied) {
      if (!this.resident) {
        for (const s of swaps) {
          [s.cur, s.spare] = [s.spare!, s.cur];
          s.dirty = true;
        }
        // Each Param reads its current value (the other array is the spare the next step overwrites).
        this.syncToParams();
      }
      for (const r of g.runningStats) (r.bn.numBatchesTracked.data as BigInt64Array)[0] += 1n;
      this.steps++;
    }
    return { loss, correct, gradNorm, applied };
  }

  /** Logits of a batch with the current weights, traced with the model's current flags (use model.eval() for evaluation). */
  async logits(input: Float32Array, inputShape: number[]): Promise<Float32Array> {
    const key = shapeKey(inputShape);
    let c = this.forwardGraphs.get(key);
    if (!c) {
      const graph = buildForwardGraph(this.model, inputShape);
      c = { graph, session: await this.session(graph.bytes, false) };
      this.forwardGraphs.set(key, c);
    }
    const feeds: Record<string, Ort.Tensor> = { [c.graph.inputName]: this.tensor(input, inputShape) };
    for (const slot of c.graph.params) feeds[slot.input] = this.valueOf(slot.param, false).cur;
    const out = await c.session.run(feeds);
    return out[c.graph.logitsName].data as Float32Array;
  }

  /** Whether some state is on the device now (resident WebGPU state after a step): `download()` first to read it. */
  get onDevice(): boolean {
    for (const m of [this.values, this.momenta]) for (const s of m.values()) if (s.cur.location !== "cpu") return true;
    return false;
  }

  /**
   * Bring device-resident state to host memory (one read-back run); the next step moves it to the
   * device again. Needed before `syncToParams`, `stateDict` and `momentumBuffers` on a resident trainer.
   */
  async download(): Promise<void> {
    const states = [...this.values.values(), ...this.momenta.values()].filter((s) => s.cur.location !== "cpu");
    if (!states.length) return;
    this.readback ??= new DeviceReadback(this.ort, await deviceSession(this.device, new Uint8Array(), { threads: 1 }));
    const data = await this.readback.read(states.map((s) => s.cur));
    states.forEach((s, i) => {
      s.cur.dispose();
      s.cur = this.tensor(data[i], [data[i].length]);
    });
  }

  private hostData(s: StateTensor): Float32Array {
    if (s.cur.location !== "cpu") throw new Error("OrtTrainer: the state is on the device; await trainer.download() first");
    return s.cur.data as Float32Array;
  }

  /**
   * Point the model's Params at the current weights and running statistics (host arrays, PyTorch
   * layout; no copy). On the CPU every step does this; the next step overwrites a weight's array in
   * place, and a running statistic's array is valid until the step after next (it then becomes the
   * spare that step writes into): copy them to keep them longer.
   */
  syncToParams(): void {
    for (const [p, s] of this.values) {
      if (!s.dirty) continue;
      const data = this.hostData(s);
      if (p.data !== data) p.set(data);
      s.dirty = false;
    }
  }

  /** The model's state_dict after syncing. */
  stateDict(): TensorMap {
    if (this.weightsLost) throw new Error("OrtTrainer: the weights were overwritten by a non-finite step");
    this.syncToParams();
    return stateDict(this.model);
  }

  /** What a non-finite step overwrote (empty when nothing is lost). */
  private lostWhat(): string {
    return [this.weightsLost ? "weights" : "", this.momentaLost ? "momentum buffers" : ""].filter(Boolean).join(" and ");
  }

  /** A non-finite step overwrote state that must be restored before stepping or saving (see the class). */
  get stateLost(): boolean {
    return this.weightsLost || this.momentaLost;
  }

  /** Momentum buffers of the params updated so far (copies, PyTorch layout). */
  momentumBuffers(): Map<Param, Float32Array> {
    if (this.momentaLost) throw new Error("OrtTrainer: the momentum buffers were overwritten by a non-finite step");
    const out = new Map<Param, Float32Array>();
    for (const [p, s] of this.momenta) if (s.dirty) out.set(p, this.hostData(s).slice());
    return out;
  }

  /** Restore momentum buffers (e.g. from a checkpoint); params not listed start from zero. */
  setMomentumBuffers(buffers: Map<Param, Float32Array>): void {
    this.disposeDevice(this.momenta);
    this.momenta.clear();
    this.momentaLost = false;
    for (const [p, data] of buffers) {
      if (data.length !== p.numel) throw new Error(`${p.name}: momentum buffer has ${data.length} values, expected ${p.numel}`);
      const s = this.momentumOf(p);
      (s.cur.data as Float32Array).set(data);
      s.dirty = true;
    }
  }

  /** Forget the device copies of the Params: the next run re-reads them (after the Params were loaded). */
  reloadParams(): void {
    this.disposeDevice(this.values);
    this.values.clear();
    this.weightsLost = false;
  }

  /** Free the device buffers of resident state (onnxruntime-node does not garbage-collect them). */
  private disposeDevice(states: Map<Param, StateTensor>): void {
    for (const s of states.values()) if (s.cur.location !== "cpu") s.cur.dispose();
  }

  /** Stop profiling and return the profile file (onnxruntime writes it in the working directory or at the prefix path). */
  endProfiling(): string | null {
    if (!this.opts.profilePrefix) return null;
    for (const c of this.stepGraphs.values()) c.session.endProfiling();
    return findProfileFile(this.opts.profilePrefix);
  }

  async release(): Promise<void> {
    for (const c of this.stepGraphs.values()) await c.session.release();
    for (const c of this.forwardGraphs.values()) await c.session.release();
    this.stepGraphs.clear();
    this.forwardGraphs.clear();
    this.disposeDevice(this.values);
    this.disposeDevice(this.momenta);
    await this.readback?.release();
    this.readback = null;
  }
}

/** `OrtTrainer.create` under the name the issue gives it. */
export function createOrtTrainer(
  model: TrainableForwardModel,
  opts: OrtTrainerOptions & { inputShape?: number[] } = {},
): Promise<OrtTrainer> {
  return OrtTrainer.create(model, opts);
}
