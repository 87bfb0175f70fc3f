/** Build the model a sweep job describes (registry name + options + frames + size). */
import type { ModelOptions, VideoModel } from "@blvnet/core";
import { createModel, getModelEntry } from "@blvnet/models";
import type { Job } from "../sweep/spec.js";

export function jobModel(job: Job, extra: ModelOptions = {}): VideoModel {
  return createModel(job.model, jobOptions(job, extra));
}

/** The job's model options: its variant's, `extra`, and its frames and size where the model has those options. */
export function jobOptions(job: Job, extra: ModelOptions = {}): ModelOptions {
  const known = new Set(getModelEntry(job.model).options.map((o) => o.name));
  const opts: ModelOptions = { ...job.options, ...extra };
  if (known.has("frames")) opts.frames = job.frames;
  if (known.has("size")) opts.size = job.size;
  return opts;
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
