/** Initial weights for training from scratch: the model's own `initWeights`, seeded (see core/init.ts). */
import { Rng, type VideoModel } from "@blvnet/core";

export function initForTraining(model: VideoModel, seed: number): void {
  model.initWeights(new Rng(seed));
}
