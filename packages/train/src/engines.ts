/** The training engines by name: tfjs (TfOps + tf.variableGrads) or ort (a whole SGD step as one ONNX graph). */
import type { SgdConfig, VideoModel } from "@blvnet/core";
import type { EngineKind, TrainingEngine } from "./engine.js";
import { TfjsEngine } from "./tfjs-engine.js";
import { OrtTrainingEngine } from "./engine-ort.js";

export function createTrainingEngine(kind: EngineKind, model: VideoModel, sgd: SgdConfig, seed: number): TrainingEngine {
  switch (kind) {
    case "tfjs":
      return new TfjsEngine(model, { ...sgd, seed });
    case "ort":
      return new OrtTrainingEngine(model, { ...sgd, seed });
  }
}
