/** Export a model (eval mode, current weights) to an ONNX file in memory. */
import { inputShape, type VideoModel } from "@blvnet/core";
import { DEFAULT_OPSET, MIN_OPSET, OnnxOps, type OnnxValue } from "./onnxops.js";

/** The newest default-domain opset the bundled onnxruntime-node (1.30) loads. */
export const MAX_OPSET = 23;

export interface ExportOptions {
  /** Default-domain opset, MIN_OPSET..MAX_OPSET (default 17). */
  opset?: number;
  /** Symbolic batch dim ("N") instead of a fixed one. */
  dynamicBatch?: boolean;
  /** Clips per batch for a static export (default 1); ignored with dynamicBatch. */
  clips?: number;
  /** Fold eval BN into convs (default true). */
  foldBatchNorm?: boolean;
  /** Also output every named intermediate the model taps (stage outputs), as `tap/<name>`. */
  taps?: boolean;
  /** Carry frame row maps lazily (bLVNet's duplicate / TAM / pick as blends; default true; false for A/B). */
  lazyRows?: boolean;
  /** TAM blends as one custom RowBlend node each (OnnxOpsOptions.rowBlend; for sessions that register native-ops.ts' library). */
  rowBlend?: boolean;
}

export interface OnnxExport {
  bytes: Uint8Array;
  inputName: string;
  outputName: string;
  /** Input shape; dim 0 is null when symbolic. */
  inputShape: (number | null)[];
  outputShape: (number | null)[];
  opset: number;
  /** Tapped intermediates in forward order: stage name and its graph output name. */
  taps: { stage: string; output: string }[];
  /** RowBlend custom-op nodes in the graph (ExportOptions.rowBlend): a session must register native-ops.ts' library. */
  rowBlends: number;
}

export const ONNX_INPUT_NAME = "input";
export const ONNX_OUTPUT_NAME = "output";

/** Clips the model is traced with when the batch is symbolic (2, so per-clip row patterns are checked). */
const DYNAMIC_TRACE_CLIPS = 2;

export function checkOpset(opset: number): number {
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new RangeError(`opset must be an integer in ${MIN_OPSET}..${MAX_OPSET}, got ${opset}`);
  }
  return opset;
}

export function buildOnnx(model: VideoModel, opts: ExportOptions = {}): OnnxExport {
  const opset = checkOpset(opts.opset ?? DEFAULT_OPSET);
  const dynamic = opts.dynamicBatch ?? false;
  const clips = dynamic ? DYNAMIC_TRACE_CLIPS : (opts.clips ?? 1);
  if (!Number.isInteger(clips) || clips < 1) throw new RangeError(`clips must be a positive integer, got ${clips}`);
  const shape = inputShape(model.inputSpec, clips);
  const wasTraining = model.training;
  model.eval();
  try {
    const ops = new OnnxOps({
      opset,
      dynamicClips: dynamic ? clips : null,
      foldBatchNorm: opts.foldBatchNorm,
      lazyRows: opts.lazyRows,
      rowBlend: opts.rowBlend,
    });
    const x = ops.input(ONNX_INPUT_NAME, shape);
    const tapped: { name: string; value: OnnxValue }[] = [];
    const taps: { stage: string; output: string }[] = [];
    const tap = opts.taps
      ? (stage: string, value: OnnxValue) => {
          taps.push({ stage, output: `tap/${stage}` });
          tapped.push({ name: `tap/${stage}`, value });
        }
      : undefined;
    const y = model.forward(ops, x, tap);
    const bytes = ops.finish(x, y, {
      inputName: ONNX_INPUT_NAME,
      outputName: ONNX_OUTPUT_NAME,
      extraOutputs: tapped,
      graphName: model.id,
      docString: `${model.id} (${model.inputSpec.layout} input, ${dynamic ? "dynamic" : clips} clips)`,
    });
    const outShape = ops.shape(y);
    return {
      bytes,
      inputName: ONNX_INPUT_NAME,
      outputName: ONNX_OUTPUT_NAME,
      inputShape: [dynamic ? null : shape[0], ...shape.slice(1)],
      outputShape: [dynamic ? null : outShape[0], ...outShape.slice(1)],
      opset,
      taps,
      rowBlends: ops.rowBlends,
    };
  } finally {
    if (wasTraining) model.train();
  }
}

/** The ONNX bytes of a model (see `buildOnnx` for the metadata). */
export function exportOnnx(model: VideoModel, opts: ExportOptions = {}): Uint8Array {
  return buildOnnx(model, opts).bytes;
}
