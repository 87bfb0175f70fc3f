/** Engine selection for `blvnet train --engine`: tfjs (TfOps + tf.variableGrads) or ort (a whole SGD step as one ONNX graph). */
import { UserError, type SgdConfig, type VideoModel } from "@blvnet/core";
import { ENGINES, type EngineKind, type TrainingEngine } from "./engine.js";
import { TfjsEngine } from "./tfjs-engine.js";
import { OrtTrainingEngine } from "./engine-ort.js";

export function parseEngine(name: string): EngineKind {
  if (!(ENGINES as readonly string[]).includes(name)) throw new UserError(`--engine must be one of ${ENGINES.join(", ")}, got "${name}"`);
  return name as EngineKind;
}

export function createTrainingEngine(kind: EngineKind, model: VideoModel, sgd: SgdConfig, seed: number): TrainingEngine {
  switch (kind) {
    case "tfjs":
      return new TfjsEngine(model, { ...sgd, seed });
    case "ort":
      return new OrtTrainingEngine(model, { ...sgd, seed });
  }
}
