/**
 * The official counts (results/reference/counts.csv) and the check of our analytic profile against
 * them: params, MACs and other-op FLOPs within 0.1%, saved activation bytes within 5%.
 */
import { existsSync } from "node:fs";
import { type ModelProfile, UserError } from "@blvnet/core";
import { readCsv } from "../reference.js";
import { type ConfigTarget, parseConfigName } from "./configs.js";
import { profileTarget } from "./target.js";

const MB = 2 ** 20;

export interface ReferenceCount {
  config: string;
  /** Frames x H x W, as the counts file writes it. */
  input: string;
  params: number;
  macs: number;
  otherFlops: number;
  savedActivationBytes: number;
}

/** Relative tolerance per checked column. */
export const TOLERANCE = { params: 1e-3, macs: 1e-3, other_flops: 1e-3, saved_activation_bytes: 0.05 } as const;
export type CheckedColumn = keyof typeof TOLERANCE;

export function readCounts(file: string): ReferenceCount[] {
  if (!existsSync(file)) throw new UserError(`counts file ${file} does not exist`);
  const records = readCsv(file);
  return records.map((r, i) => {
    const num = (col: string, scale: number) => {
      const v = Number(r[col]);
      if (r[col] === undefined || r[col] === "" || !Number.isFinite(v)) throw new UserError(`${file}: row ${i + 2} has no numeric ${col}`);
      return v * scale;
    };
    return {
      config: r.model,
      input: r.input,
      params: num("params_M", 1e6),
      macs: num("GMACs", 1e9),
      otherFlops: num("G_other_ops", 1e9),
      savedActivationBytes: num("saved_for_bwd_MB", MB),
    };
  });
}

/**
 * The registry target of a counts row: the model and frames from its name, the input size from its
 * `input` column (frames x H x W) when present. Throws a UserError if either cannot be read.
 */
export function referenceTarget(ref: ReferenceCount): ConfigTarget {
  const t = parseConfigName(ref.config);
  if (!t) throw new UserError(`cannot parse the configuration name "${ref.config}" of the counts file`);
  if (!ref.input) return t;
  const m = /^(\d+)x(\d+)x(\d+)$/.exec(ref.input.trim());
  if (!m || m[2] !== m[3]) throw new UserError(`${ref.config}: input "${ref.input}" is not FRAMESxSIZExSIZE`);
  if (Number(m[1]) !== t.options.frames)
    throw new UserError(`${ref.config}: input "${ref.input}" has ${m[1]} frames, the name says ${t.options.frames}`);
  return { ...t, options: { ...t.options, size: Number(m[2]) } };
}

export interface ReferenceCheck {
  config: string;
  profile: ModelProfile;
  reference: ReferenceCount;
  /** Relative error (ours - official) / official per checked column. */
  relErr: Record<CheckedColumn, number>;
  ok: boolean;
}

export function checkAgainstReference(ref: ReferenceCount, profile: ModelProfile): ReferenceCheck {
  const rel = (ours: number, official: number) => (ours - official) / official;
  const relErr = {
    params: rel(profile.params, ref.params),
    macs: rel(profile.macs, ref.macs),
    other_flops: rel(profile.otherFlops, ref.otherFlops),
    saved_activation_bytes: rel(profile.savedActivationBytes, ref.savedActivationBytes),
  };
  const ok = (Object.keys(TOLERANCE) as CheckedColumn[]).every((c) => Math.abs(relErr[c]) <= TOLERANCE[c]);
  return { config: ref.config, profile, reference: ref, relErr, ok };
}

/** Profile every configuration of a counts file and compare with the official figures. */
export function checkReferenceConfigs(refs: ReferenceCount[]): ReferenceCheck[] {
  return refs.map((ref) => {
    return checkAgainstReference(ref, profileTarget(referenceTarget(ref), 1));
  });
}
