/** The training engines by name: tfjs (TfOps + tf.variableGrads) or ort (a whole SGD step as one ONNX graph). */
import type { SgdConfig, VideoModel } from "@blvnet/core";
import type { OrtDevice } from "@blvnet/engine-onnx";
import type { EngineKind, TrainingEngine } from "./engine.js";
import { OrtTrainingEngine } from "./engine-ort.js";
import { TfjsEngine } from "./tfjs-engine.js";

/** `device`: execution provider of the ort engine's step graph (cpu, webgpu, cuda); the tfjs engine has none. */
export function createTrainingEngine(
  kind: EngineKind,
  model: VideoModel,
  sgd: SgdConfig,
  seed: number,
  device?: OrtDevice,
): TrainingEngine {
  switch (kind) {
    case "tfjs":
      return new TfjsEngine(model, { ...sgd, seed });
    case "ort":
      return new OrtTrainingEngine(model, { ...sgd, seed, device });
  }
}
