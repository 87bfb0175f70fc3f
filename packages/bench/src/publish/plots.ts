/** The report's plots: accuracy vs GFLOPs (the paper's figure 1), memory vs frames, throughput vs frames. */

import { readReference } from "../reference.js";
import type { Row } from "../sweep/rows.js";
import { summarize } from "./stats.js";
import { chart, type Series } from "./svg.js";
import { accuracyGroups, num } from "./tables.js";

export interface Plot {
  file: string;
  title: string;
  svg: string;
}

const MiB = 2 ** 20;

function groupSeries(rows: Row[], seriesKey: (r: Row) => string, x: (r: Row) => number, y: (r: Row) => number): Series[] {
  const m = new Map<string, Series>();
  for (const r of rows) {
    const k = seriesKey(r);
    const s = m.get(k) ?? { name: k, points: [], line: true };
    if (Number.isFinite(x(r)) && Number.isFinite(y(r))) s.points.push({ x: x(r), y: y(r) });
    m.set(k, s);
  }
  // a curve needs two points: single configurations (e.g. the 3D models) belong in the tables
  return [...m.values()].filter((s) => s.points.length >= 2);
}

/** Published accuracy vs official GMACs: the paper's figure 1 (Something-Something v1). */
function publishedSeries(referenceDir?: string): Series[] {
  const counts = readReference("counts.csv", referenceDir);
  const published = readReference("published-accuracy.csv", referenceDir).filter((p) => p.dataset === "something-something-v1");
  const series = new Map<string, Series>();
  for (const p of published) {
    const depth = /(\d+)/.exec(p.backbone)?.[1];
    const k = /^(\d+)x2$/.exec(p.frames);
    const name = p.model === "bLVNet-TAM" && k ? `blvnet-tam-${depth}-f${k[1]}x2` : `${p.model.toLowerCase()}-r${depth}-${p.frames}f`;
    const ref = counts.find((c) => c.model === name);
    if (!ref) continue;
    const s = series.get(p.model) ?? { name: `${p.model} (published, SSv1)`, points: [], line: p.model === "bLVNet-TAM", hollow: true };
    s.points.push({ x: Number(ref.GMACs), y: Number(p.top1), label: `${p.backbone} ${p.frames}` });
    series.set(p.model, s);
  }
  return [...series.values()];
}

export function buildPlots(rows: Row[], referenceDir?: string): Plot[] {
  const plots: Plot[] = [];
  const profile = rows.filter((r) => r.kind === "profile");
  const macsOf = (r: Row) => {
    const p = profile.find((x) => x.model_id === r.model_id && x.frames === r.frames && x.size === r.size);
    return p ? num(p, "macs") / 1e9 : NaN;
  };
  const ours: Series[] = [];
  for (const g of accuracyGroups(rows)) {
    const x = macsOf(g.row);
    if (!Number.isFinite(x)) continue;
    const name = `${g.row.model} (${g.row.dataset})`;
    let s = ours.find((o) => o.name === name);
    if (!s) ours.push((s = { name, points: [] }));
    const st = summarize(g.top1);
    s.points.push({
      x,
      y: st.mean,
      label: `${g.row.frames}f`,
      err: Number.isFinite(st.half) ? { lo: Math.max(0, st.lo), hi: Math.min(100, st.hi) } : undefined,
    });
  }
  const pub = publishedSeries(referenceDir);
  if (ours.length || pub.length) {
    plots.push({
      file: "accuracy-vs-gflops.svg",
      title: "Accuracy vs GFLOPs",
      svg: chart([...pub, ...ours], {
        title: "Top-1 accuracy vs GFLOPs (MACs) per clip (ours: mean, 95% CI over seeds)",
        xLabel: "GFLOPs (GMACs)",
        yLabel: "top-1 (%)",
        logX: true,
      }),
    });
  }
  if (profile.length) {
    const series = groupSeries(
      profile,
      (r) => `${r.model}-${r.depth} @${r.size}`,
      (r) => num(r, "frames"),
      (r) => num(r, "saved_activation_bytes") / MiB,
    );
    plots.push({
      file: "memory-vs-frames.svg",
      title: "Memory vs frames",
      svg: chart(series, { title: "Training memory (saved activations) vs frames", xLabel: "input frames", yLabel: "MiB per clip" }),
    });
  }
  const speed = rows.filter((r) => r.kind === "speed");
  if (speed.length) {
    const series = groupSeries(
      speed,
      (r) => `${r.model}-${r.depth} ${r.backend} b${r.batch} @${r.size}`,
      (r) => num(r, "frames"),
      (r) => num(r, "clips_per_s") * num(r, "frames"),
    );
    plots.push({
      file: "throughput-vs-frames.svg",
      title: "Throughput vs frames",
      svg: chart(series, { title: "Inference throughput vs frames", xLabel: "input frames per clip", yLabel: "frames/s" }),
    });
  }
  return plots;
}
