/**
 * Profiles as rows for the renderers: machine formats (csv, json) get raw units (elements, MACs,
 * bytes), human formats (table, md) get M / G / MiB.
 */
import { type ModelProfile, type ModuleCost, modulesAtDepth, sumFlops } from "@blvnet/core";
import type { Format, Rows } from "./format.js";
import type { MeasuredMemory } from "./measure.js";
import type { ReferenceCheck } from "./reference.js";

const MiB = 2 ** 20;
type Row = Rows[number];
export const isHuman = (f: Format) => f === "table" || f === "md";
const round = (v: number, d: number) => Number(v.toFixed(d));

/** One profile as quantity rows (human) or one flat record (machine). */
export function summaryRows(p: ModelProfile, format: Format): Rows {
  const b = p.clips;
  if (!isHuman(format)) {
    return [
      {
        model_id: p.modelId,
        input_shape: p.inputShape.join("x"),
        batch: b,
        params: p.params,
        param_bytes: p.paramBytes,
        macs: p.macs,
        other_flops: p.otherFlops,
        total_flops: p.totalFlops,
        saved_activation_bytes: p.savedActivationBytes,
        inference_peak_bytes: p.inferencePeakBytes,
        ...Object.fromEntries(Object.entries(p.flops).map(([k, v]) => [`flops_${k}`, v as number])),
      },
    ];
  }
  const batchCol = `per batch (${b})`;
  /** per clip: "scales" = batch value / clips, "same" = independent of the batch, "none" = not defined. */
  const q = (quantity: string, batchValue: number, scale: number, unit: string, perClip: "scales" | "same" | "none" = "scales") => ({
    quantity,
    "per clip": perClip === "none" ? "" : round(batchValue / (perClip === "scales" ? b : 1) / scale, 3),
    [batchCol]: round(batchValue / scale, 3),
    unit,
  });
  return [
    { quantity: `${p.modelId}, input ${p.inputShape.join("x")}`, "per clip": "", [batchCol]: "", unit: "" },
    q("parameters", p.params, 1e6, "M", "same"),
    q("parameters + buffers", p.paramBytes, MiB, "MiB", "same"),
    q("multiply-accumulates", p.macs, 1e9, "G"),
    ...Object.entries(p.flops).map(([k, v]) => q(`  other: ${k}`, v as number, 1e9, "GFLOP")),
    q("other FLOPs", p.otherFlops, 1e9, "GFLOP"),
    q("total FLOPs (2 MACs + other)", p.totalFlops, 1e9, "GFLOP"),
    q("saved for backward (train step)", p.savedActivationBytes, MiB, "MiB"),
    // liveness is not linear in the batch (the input is held throughout), so no per-clip figure
    q("inference peak (live activations)", p.inferencePeakBytes, MiB, "MiB", "none"),
  ];
}

/** fvcore-style per-module breakdown at `depth` path segments. */
export function moduleRows(p: ModelProfile, depth: number, format: Format): Rows {
  const human = isHuman(format);
  const costly = (m: ModuleCost) => m.path !== "" || m.params + m.macs + m.savedBytes + sumFlops(m.flops) > 0;
  return modulesAtDepth(p.modules, depth)
    .filter(costly)
    .map((m): Row => {
      const other = sumFlops(m.flops);
      return human
        ? {
            module: m.path || "(root)",
            "params (M)": round(m.params / 1e6, 3),
            GMACs: round(m.macs / 1e9, 3),
            "other GFLOP": round(other / 1e9, 4),
            "saved MiB": round(m.savedBytes / MiB, 2),
            "saved %": round((100 * m.savedBytes) / p.savedActivationBytes, 1),
          }
        : { module: m.path, params: m.params, macs: m.macs, other_flops: other, saved_activation_bytes: m.savedBytes, ops: m.ops };
    });
}

export function referenceRows(checks: ReferenceCheck[], format: Format, withCheck: boolean): Rows {
  const human = isHuman(format);
  const pct = (v: number) => `${(v * 100).toFixed(4)}%`;
  return checks.map(({ config, profile: p, reference: r, relErr, ok }): Row => {
    const ours: Row = human
      ? {
          config,
          "params (M)": round(p.params / 1e6, 6),
          GMACs: round(p.macs / 1e9, 6),
          "saved MiB": round(p.savedActivationBytes / MiB, 6),
        }
      : { config, params: p.params, macs: p.macs, saved_activation_bytes: p.savedActivationBytes };
    if (!withCheck) return ours;
    return human
      ? {
          config,
          "params (M)": round(p.params / 1e6, 6),
          "official params": round(r.params / 1e6, 6),
          "params err": pct(relErr.params),
          GMACs: round(p.macs / 1e9, 6),
          "official GMACs": round(r.macs / 1e9, 6),
          "MACs err": pct(relErr.macs),
          "saved MiB": round(p.savedActivationBytes / MiB, 3),
          "official saved MiB": round(r.savedActivationBytes / MiB, 3),
          "saved err": pct(relErr.saved_activation_bytes),
          "other GFLOP err": pct(relErr.other_flops),
          ok: ok ? "ok" : "FAIL",
        }
      : {
          ...ours,
          params_official: r.params,
          params_rel_err: relErr.params,
          macs_official: r.macs,
          macs_rel_err: relErr.macs,
          saved_activation_bytes_official: Math.round(r.savedActivationBytes),
          saved_activation_bytes_rel_err: relErr.saved_activation_bytes,
          other_flops: p.otherFlops,
          other_flops_official: r.otherFlops,
          other_flops_rel_err: relErr.other_flops,
          ok: ok ? 1 : 0,
        };
  });
}

/** Measured tfjs memory: quantity rows (human, same columns as the summary) or flat fields (machine). */
export function measuredRows(m: MeasuredMemory, clips: number, format: Format): Rows {
  if (!isHuman(format)) {
    return [
      {
        measured_backend: m.backend,
        measured_inference_peak_tensor_bytes: m.inferencePeakTensorBytes,
        measured_train_peak_tensor_bytes: m.trainPeakTensorBytes,
        measured_peak_rss_bytes: m.peakRssBytes,
        measured_inference_ms: round(m.inferenceMs, 1),
        measured_train_ms: round(m.trainMs, 1),
      },
    ];
  }
  const batchCol = `per batch (${clips})`;
  const q = (quantity: string, v: number, unit: string) => ({ quantity, "per clip": "", [batchCol]: round(v, 3), unit });
  return [
    q(`measured (tfjs ${m.backend}): inference peak tensors`, m.inferencePeakTensorBytes / MiB, "MiB"),
    q(`measured (tfjs ${m.backend}): train fwd+bwd peak tensors`, m.trainPeakTensorBytes / MiB, "MiB"),
    q("measured: process peak RSS", m.peakRssBytes / MiB, "MiB"),
    q("measured: inference time", m.inferenceMs / 1000, "s"),
    q("measured: train fwd+bwd time", m.trainMs / 1000, "s"),
  ];
}
