/** What to profile: a registry model name or an official configuration name, plus option overrides. */
import { type ModelOptions, type ModelProfile, profileModel, UserError, type VideoModel } from "@blvnet/core";
import { createModel, listModels } from "@blvnet/models";
import { type ConfigTarget, parseConfigName } from "./configs.js";

/**
 * `blvnet-tam` (a registry name) or `blvnet-tam-50-f8x2` (an official configuration name);
 * `overrides` (from --opt, --frames, --size) win over what the name implies.
 */
export function resolveTarget(id: string, overrides: ModelOptions = {}): ConfigTarget {
  if (listModels().some((m) => m.name === id)) return { config: id, model: id, options: { ...overrides } };
  const parsed = parseConfigName(id);
  if (parsed) return { ...parsed, options: { ...parsed.options, ...overrides } };
  const known = listModels()
    .map((m) => m.name)
    .join(", ");
  throw new UserError(
    `unknown model "${id}": give a registered model (${known}) or an official configuration name such as blvnet-tam-50-f8x2, tsm-r50-16f, r3d_18-16f`,
  );
}

export function buildTarget(t: ConfigTarget): VideoModel {
  return createModel(t.model, t.options);
}

export function profileTarget(t: ConfigTarget, clips: number): ModelProfile {
  return profileModel(buildTarget(t), clips);
}
