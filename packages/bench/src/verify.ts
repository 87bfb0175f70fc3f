/**
 * `verify`: rebuild the model a golden file describes, fill it with refgen-v1, run the golden input
 * through the tfjs interpreter and compare with the official output (max|out-golden| / max|golden|).
 * Also checks the state_dict listing (keys, shapes, order, generated values), which catches naming
 * bugs before any number is computed, and optionally compares stage tensors to find the first stage
 * that diverges.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import {
  createModel,
  fillDeterministic,
  inputShape,
  listModels,
  type ModelOptions,
  refgenInput,
  UserError,
  type VideoModel,
} from "@blvnet/core";
import { isOrtBackend, OrtEngine } from "@blvnet/engine-onnx";
import { initBackend, TfOps, tfForward } from "@blvnet/engine-tfjs";
import { loadWeights, readCheckpointFile } from "@blvnet/io";
import * as tf from "@tensorflow/tfjs-core";
import { type Golden, type GoldenParam, loadGolden, outputValues, recordData, type TensorRecord } from "./golden.js";
import "@blvnet/models";

export interface ParamCheck {
  ok: boolean;
  /** Entries compared (num_batches_tracked excluded, as in the golden listing). */
  count: number;
  /** First difference in key / shape / order / generated values. */
  firstMismatch?: string;
}

export interface StageResult {
  name: string;
  /** max|ours - golden| / max|golden| over the stored data (or the 64 samples when no data is stored). */
  maxRelErr: number;
  basis: "data" | "samples" | "missing";
  note?: string;
}

export interface VerifyResult {
  name: string;
  file?: string;
  /** Registry entry and canonical id of the model built. */
  model: string;
  id: string;
  options: ModelOptions;
  maxRelErr: number;
  tol: number;
  params: ParamCheck;
  passed: boolean;
  stages?: StageResult[];
  /** First stage above the tolerance (with --stages). */
  firstDiverging?: string;
  backend: string;
  /** Why the golden could not be run at all (no matching model, forward error). */
  error?: string;
}

export interface VerifyOptions {
  /** Compare the stored intermediates too. */
  stages?: boolean;
  /** onnxruntime ("ort", "ort-webgpu", "ort-cuda", default "ort") or a tfjs backend ("wasm", "cpu", "tensorflow"). */
  backend?: string;
  /** A checkpoint holding the golden's weights, loaded instead of generating them. */
  weights?: string;
  /** With `weights`: accept weights missing from the checkpoint (they keep their refgen-v1 values; a warning lists them). */
  allowMissing?: boolean;
  warn?: (message: string) => void;
}

/** The registry entry whose `goldenFamilies` has the golden's family and whose `fromGoldenConfig` accepts its config. */
export function resolveGoldenModel(g: Golden): { name: string; options: ModelOptions } {
  const candidates = listModels().filter((e) => e.goldenFamilies?.includes(g.family));
  for (const e of candidates) {
    const options = e.fromGoldenConfig?.(g.config);
    if (options) return { name: e.name, options };
  }
  const tried = candidates.map((e) => e.name).join(", ") || "none registered";
  throw new UserError(
    `${g.name}: no model builds golden family "${g.family}" with config ${JSON.stringify(g.config)} (candidates: ${tried})`,
  );
}

const shapeStr = (s: number[]) => `[${s.join(",")}]`;

/**
 * The model built from the golden's config must take the golden's input and give its output shape:
 * an incomplete config (a missing key falling back to a default) shows up here, before any numbers.
 */
export function checkGoldenShapes(g: Golden, model: VideoModel): void {
  const n = g.input.shape[0]!;
  const clips = model.inputSpec.layout === "(NT)CHW" ? n / model.inputSpec.frames : n;
  const want = inputShape(model.inputSpec, clips);
  if (!Number.isInteger(clips) || shapeStr(want) !== shapeStr(g.input.shape)) {
    throw new UserError(
      `${g.name}: its config builds ${model.id}, which takes input ${shapeStr(want)}, but the golden input is ${shapeStr(g.input.shape)}; is the config complete?`,
    );
  }
  const out = model.inputSpec.layout === "(NT)CHW" ? want : [clips, model.numClasses];
  if (shapeStr(out) !== shapeStr(g.output.shape)) {
    throw new UserError(
      `${g.name}: ${model.id} gives output ${shapeStr(out)}, but the golden output is ${shapeStr(g.output.shape)}; is the config complete?`,
    );
  }
}

/** Keys, shapes and order of the model's state_dict against the golden listing (no values needed). */
export function checkParamList(model: VideoModel, expected: GoldenParam[]): ParamCheck {
  const ours = model.namedTensors().filter(([k]) => !k.endsWith("num_batches_tracked"));
  const n = Math.max(ours.length, expected.length);
  for (let i = 0; i < n; i++) {
    const e = expected[i];
    const o = ours[i];
    if (!e || !o) {
      const what = e ? `missing ${e.key} ${shapeStr(e.shape)}` : `unexpected ${o[0]} ${shapeStr(o[1].shape)}`;
      return {
        ok: false,
        count: ours.length,
        firstMismatch: `entry #${i}: ${what} (model has ${ours.length} entries, golden ${expected.length})`,
      };
    }
    if (o[0] !== e.key || shapeStr(o[1].shape) !== shapeStr(e.shape)) {
      return {
        ok: false,
        count: ours.length,
        firstMismatch: `entry #${i}: golden ${e.key} ${shapeStr(e.shape)}, model ${o[0]} ${shapeStr(o[1].shape)}`,
      };
    }
  }
  return { ok: true, count: ours.length };
}

/** After fillDeterministic: the generated values against the golden sums and first four values. */
export function checkParamValues(model: VideoModel, expected: GoldenParam[]): ParamCheck {
  const ours = new Map(model.namedTensors());
  for (const e of expected) {
    const p = ours.get(e.key);
    if (p?.dtype !== "float32") continue; // reported by checkParamList
    const v = p.f32;
    let sum = 0;
    let sumAbs = 0;
    for (let i = 0; i < v.length; i++) {
      sum += v[i];
      sumAbs += Math.abs(v[i]);
    }
    // float64 sums of the same float32 numbers differ only by summation order
    const slack = 1e-9 * Math.max(1, e.sum_abs);
    const firstOk = e.first4.every((x, i) => v[i] === x);
    if (Math.abs(sum - e.sum) > slack || Math.abs(sumAbs - e.sum_abs) > slack || !firstOk) {
      return {
        ok: false,
        count: expected.length,
        firstMismatch: `${e.key}: generated sum ${sum} (first ${[...v.subarray(0, 4)].join(", ")}), golden ${e.sum} (first ${e.first4.join(", ")})`,
      };
    }
  }
  return { ok: true, count: expected.length };
}

/** max|a - b| / max|b|; `scale` overrides max|b| (used when only samples of b are known). */
export function maxRelErr(ours: ArrayLike<number>, golden: ArrayLike<number>, scale?: number): number {
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < golden.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(ours[i] - golden[i]));
    maxRef = Math.max(maxRef, Math.abs(golden[i]));
  }
  const s = scale ?? maxRef;
  if (Number.isNaN(maxDiff)) return NaN;
  return s > 0 ? maxDiff / s : maxDiff;
}

/** Compare our full (logical layout) tensor with a golden record: stored rows, else the samples. */
export function compareRecord(name: string, ours: Float32Array, rec: TensorRecord): StageResult {
  if (ours.length !== rec.stats.numel) {
    return { name, maxRelErr: Infinity, basis: "data", note: `numel ${ours.length}, golden ${rec.stats.numel} ${shapeStr(rec.shape)}` };
  }
  const scale = Math.max(Math.abs(rec.stats.min), Math.abs(rec.stats.max));
  const data = recordData(rec);
  if (data) {
    const step = rec.data_rows?.step ?? 1;
    const start = rec.data_rows?.start ?? 0;
    const rowSize = ours.length / rec.shape[0];
    const picked = new Float32Array(data.length);
    for (let j = 0; j * rowSize < data.length; j++) {
      const src = (start + j * step) * rowSize;
      picked.set(ours.subarray(src, src + rowSize), j * rowSize);
    }
    return { name, maxRelErr: maxRelErr(picked, data, scale), basis: "data" };
  }
  const at = rec.samples.index.map((i) => ours[i]);
  return { name, maxRelErr: maxRelErr(at, rec.samples.values, scale), basis: "samples" };
}

/** The model's output (and its stage taps) for one input, on onnxruntime or a tfjs backend. */
async function runModel(
  model: VideoModel,
  input: Float32Array,
  shape: number[],
  backend: string,
  stages: boolean,
): Promise<{ output: Float32Array; taps: Map<string, Float32Array> }> {
  if (isOrtBackend(backend)) {
    const clips = model.inputSpec.layout === "(NT)CHW" ? shape[0]! / model.inputSpec.frames : shape[0]!;
    const engine = await OrtEngine.create(model, { backend, clips, taps: stages });
    try {
      const outputs = await engine.runAll(input, shape);
      const taps = new Map(engine.exported.taps.map((t) => [t.stage, outputs.get(t.output)!.data]));
      return { output: outputs.get(engine.exported.outputName)!.data, taps };
    } finally {
      await engine.release();
    }
  }
  const ops = new TfOps();
  const taps = new Map<string, Float32Array>();
  const tap = stages ? (stage: string, x: tf.Tensor) => void taps.set(stage, ops.readSync(x).data) : undefined;
  const out = tf.tidy(() => tfForward(model, ops, ops.input(input, shape), tap));
  try {
    return { output: (await ops.read(out)).data, taps };
  } finally {
    out.dispose();
    ops.store.dispose();
  }
}

/** Verify one golden file (already loaded). */
export async function verifyGolden(g: Golden, opts: VerifyOptions = {}, file?: string): Promise<VerifyResult> {
  const asked = opts.backend ?? "ort";
  const backend = isOrtBackend(asked) ? asked : await initBackend(asked);
  const { name, options } = resolveGoldenModel(g);
  const model = createModel(name, options);
  checkGoldenShapes(g, model);
  let params = checkParamList(model, g.params);
  // The golden's weights: generated (refgen-v1), or read over them from a checkpoint that holds them.
  fillDeterministic(model);
  if (opts.weights) loadWeights(model, opts.weights, { allowMissing: opts.allowMissing, warn: opts.warn });
  if (params.ok) params = checkParamValues(model, g.params);
  model.eval();

  const shape = g.input.shape;
  const { output: ours, taps } = await runModel(model, refgenInput(shape), shape, backend, opts.stages ?? false);
  const golden = outputValues(g);
  const tol = g.tolerance_hint.float32_impl;
  const err = ours.length === golden.length ? maxRelErr(ours, golden) : Infinity;
  const result: VerifyResult = {
    name: g.name,
    file,
    model: name,
    id: model.id,
    options,
    maxRelErr: err,
    tol,
    params,
    passed: params.ok && err <= tol,
    backend,
  };
  if (opts.stages) {
    result.stages = Object.entries(g.intermediates ?? {}).map(([stage, rec]) => {
      const t = taps.get(stage);
      return t ? compareRecord(stage, t, rec) : { name: stage, maxRelErr: NaN, basis: "missing" as const, note: "not tapped by the model" };
    });
    result.firstDiverging = result.stages.find((s) => s.basis !== "missing" && !(s.maxRelErr <= tol))?.name;
  }
  return result;
}

/**
 * Verify golden files by path. Unreadable files are a UserError up front; a golden that no model
 * can build (or whose forward throws) is a failed result carrying the error, so the rest still run.
 */
export async function verifyFiles(
  files: string[],
  opts: VerifyOptions = {},
  onResult?: (r: VerifyResult) => void,
): Promise<VerifyResult[]> {
  const goldens = files.map((f) => loadGolden(f));
  if (opts.weights) readCheckpointFile(opts.weights); // an unreadable checkpoint is an input error, up front
  const out: VerifyResult[] = [];
  for (const [i, g] of goldens.entries()) {
    let r: VerifyResult;
    try {
      r = await verifyGolden(g, opts, files[i]);
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      r = {
        name: g.name,
        file: files[i],
        model: "?",
        id: "?",
        options: {},
        maxRelErr: NaN,
        tol: g.tolerance_hint.float32_impl,
        params: { ok: false, count: 0 },
        passed: false,
        backend: opts.backend ?? "",
        error,
      };
    }
    onResult?.(r);
    out.push(r);
  }
  return out;
}

/** Every `*.json` golden of a folder (skipping index.json), sorted. */
export function goldenFilesIn(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    throw new UserError(`golden folder ${dir} not found; pass golden files as arguments`);
  }
  return names
    .filter((n) => n.endsWith(".json") && n !== "index.json")
    .sort()
    .map((n) => join(dir, n));
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toExponential(2) : String(x));

/** `PASS|FAIL name max_rel_err=... tol=...` plus the model and the first parameter mismatch, if any. */
export function formatResult(r: VerifyResult): string {
  if (r.error) return `FAIL ${r.name} max_rel_err=- tol=${fmt(r.tol)}\n    error: ${r.error}`;
  const head = `${r.passed ? "PASS" : "FAIL"} ${r.name} max_rel_err=${fmt(r.maxRelErr)} tol=${fmt(r.tol)} model=${r.id} backend=${r.backend}`;
  return r.params.ok ? head : `${head}\n    params: ${r.params.firstMismatch}`;
}

export function formatStages(r: VerifyResult): string[] {
  const lines = (r.stages ?? []).map((s) => {
    const mark = s.basis === "missing" ? "  -  " : s.maxRelErr <= r.tol ? " ok  " : "DIFF ";
    return `    ${mark}${s.name.padEnd(18)} ${s.basis === "missing" ? "" : `max_rel_err=${fmt(s.maxRelErr)} (${s.basis})`}${s.note ? ` ${s.note}` : ""}`;
  });
  if (r.stages) lines.push(r.firstDiverging ? `    first diverging stage: ${r.firstDiverging}` : "    no stage diverges");
  return lines;
}
