/**
 * `loadWeights(model, path)`: read a checkpoint and copy it into the model with a strict report.
 * Unexpected keys and shape mismatches are always errors; missing weights are an error unless the
 * caller allows them (then a warning lists them). Keys are never renamed by guesswork: known
 * official layouts that differ (fc vs new_fc) are explained in the error instead.
 */
import type { Module } from "@blvnet/core";
import { UserError } from "@blvnet/core";
import { formatLoadReport, type LoadReport, loadStateDict } from "../statedict.js";
import { type CheckpointInfo, readCheckpointFile } from "./read.js";

export interface LoadWeightsOptions {
  /** Accept weights absent from the checkpoint (they keep their current values) with a warning. */
  allowMissing?: boolean;
  /** Where the warning goes (default: console.error). */
  warn?: (message: string) => void;
}

export interface LoadWeightsResult {
  report: LoadReport;
  checkpoint: CheckpointInfo;
  /**
   * Missing BatchNorm `num_batches_tracked` counters. PyTorch itself accepts checkpoints without
   * them (saved before torch 0.4.1); they do not change the forward pass, so they are not counted
   * as missing weights.
   */
  missingCounters: string[];
}

const modelName = (m: Module) => ("id" in m && typeof m.id === "string" ? `model ${m.id}` : "the model");
const isCounter = (key: string) => key.endsWith("num_batches_tracked");

/**
 * Load `path` into `model`. Throws a UserError (the model may then be partly loaded) when keys are
 * unexpected, shapes differ, or weights are missing and `allowMissing` is not set.
 */
export function loadWeights(model: Module, path: string, opts: LoadWeightsOptions = {}): LoadWeightsResult {
  const { tensors, info } = readCheckpointFile(path);
  const full = loadStateDict(model, tensors, { strict: false, source: path });
  const missingCounters = full.missing.filter(isCounter);
  const report: LoadReport = { ...full, missing: full.missing.filter((k) => !isCounter(k)) };

  const hints = explainMismatch(report);
  if (report.unexpected.length || report.shapeMismatch.length) {
    throw new UserError([formatLoadReport(report, path), `the checkpoint does not fit ${modelName(model)}`, ...hints].join("; "));
  }
  if (report.missing.length) {
    const text = [formatLoadReport(report, path), ...hints].join("; ");
    if (!opts.allowMissing) {
      throw new UserError(`${text}; refusing to run with ${report.missing.length} weights left uninitialised (allow with --allow-missing)`);
    }
    (opts.warn ?? console.error)(`warning: ${text}; these ${report.missing.length} weights keep their initial values`);
  }
  return { report, checkpoint: info, missingCounters };
}

/** Plain-language notes for mismatches with a known cause (no key is renamed). */
export function explainMismatch(r: LoadReport): string[] {
  const hints: string[] = [];
  const missing = new Set(r.missing);
  const swap = (k: string, from: string, to: string) => k.replace(new RegExp(`(^|\\.)${from}\\.`), `$1${to}.`);
  const newFcInFile = r.unexpected.filter((k) => /(^|\.)new_fc\./.test(k) && missing.has(swap(k, "new_fc", "fc")));
  const fcInFile = r.unexpected.filter((k) => /(^|\.)fc\./.test(k) && missing.has(swap(k, "fc", "new_fc")));
  if (newFcInFile.length) {
    hints.push(
      `the checkpoint keeps its classifier in new_fc.* (the official training layout with dropout > 0, where fc becomes Dropout) ` +
        `but the model expects fc.*; keys are not renamed automatically: build the model with dropout > 0 (e.g. --opt dropout=0.5) ` +
        `if it follows that layout, or rename ${newFcInFile.join(", ")} yourself`,
    );
  }
  if (fcInFile.length) {
    hints.push(
      `the checkpoint keeps its classifier in fc.* but the model expects new_fc.* (the dropout > 0 layout); ` +
        `keys are not renamed automatically: build the model with --opt dropout=0 if that gives fc.*, or rename ${fcInFile.join(", ")} yourself`,
    );
  }
  for (const m of r.shapeMismatch) {
    if (/(^|\.)(new_)?fc\.weight$/.test(m.key) && m.expected.length === 2 && m.got.length === 2 && m.expected[1] === m.got[1]) {
      hints.push(
        `${m.key} has ${m.got[0]} classes in the checkpoint and ${m.expected[0]} in the model: build the model with numClasses=${m.got[0]}`,
      );
    }
  }
  return hints;
}
