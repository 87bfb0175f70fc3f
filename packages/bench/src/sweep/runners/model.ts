/** Build the model a sweep job describes (registry name + options + frames + size). */
import type { VideoModel } from "@blvnet/core";
import { createModel, getModelEntry } from "@blvnet/models";
import type { Job } from "../spec.js";

export function jobModel(job: Job, extra: Record<string, number | string | boolean> = {}): VideoModel {
  const known = new Set(getModelEntry(job.model).options.map((o) => o.name));
  const opts: Record<string, unknown> = { ...job.options, ...extra };
  if (known.has("frames")) opts.frames = job.frames;
  if (known.has("size")) opts.size = job.size;
  return createModel(job.model, opts);
}

/** What the results rows call the temporal module of a model. */
export function temporalOf(model: VideoModel): string {
  switch (model.family) {
    case "blvnet-tam":
    case "tam-resnet":
      return "tam";
    case "tsm":
      return "tsm";
    case "blvnet":
    case "tsn":
      return "none";
    default:
      return "3d";
  }
}

export function depthOf(model: VideoModel): number | undefined {
  const d = model.options.depth;
  return typeof d === "number" ? d : undefined;
}
