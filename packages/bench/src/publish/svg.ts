/**
 * Small hand-written SVG charts (scatter with labels, multi-series lines): deterministic output,
 * readable without a browser, no dependencies.
 */
export interface Point {
  x: number;
  y: number;
  label?: string;
  /** Vertical error bar from `lo` to `hi` (e.g. a 95% confidence interval over seeds). */
  err?: { lo: number; hi: number };
}

export interface Series {
  name: string;
  points: Point[];
  /** Draw a line through the points (sorted by x). */
  line?: boolean;
  /** Hollow markers (e.g. published figures) vs filled (ours). */
  hollow?: boolean;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
  logX?: boolean;
}

const PALETTE = [
  "#1f77b4",
  "#d62728",
  "#2ca02c",
  "#ff7f0e",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#17becf",
  "#7f7f7f",
  "#bcbd22",
  "#393b79",
  "#ad494a",
];
const FONT = 'font-family="DejaVu Sans, sans-serif"';

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** About five round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

/** Ticks 1-2-5 per decade inside [10^lo, 10^hi] (log axes). */
export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++)
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (Math.log10(v) >= lo && Math.log10(v) <= hi) out.push(+v.toPrecision(6));
    }
  return out.length >= 2 ? out : niceTicks(10 ** lo, 10 ** hi);
}

const fmt = (v: number) => (Math.abs(v) >= 1e6 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(1) : String(+v.toPrecision(4)));

export function chart(series: Series[], o: ChartOptions): string {
  const W = o.width ?? 640;
  const H = o.height ?? 420;
  const m = { l: 70, r: 240, t: 40, b: 55 };
  const pts = series.flatMap((s) => s.points);
  const tx = (v: number) => (o.logX ? Math.log10(v) : v);
  const xs = pts.map((p) => tx(p.x));
  const ys = pts.flatMap((p) => (p.err && Number.isFinite(p.err.lo) && Number.isFinite(p.err.hi) ? [p.y, p.err.lo, p.err.hi] : [p.y]));
  const pad = (lo: number, hi: number) => (hi > lo ? [lo - (hi - lo) * 0.05, hi + (hi - lo) * 0.05] : [lo - 1, hi + 1]);
  const [x0, x1] = pts.length ? pad(Math.min(...xs), Math.max(...xs)) : [0, 1];
  const [y0, y1] = pts.length ? pad(Math.min(0, ...ys), Math.max(...ys)) : [0, 1];
  const sx = (v: number) => m.l + ((tx(v) - x0) / (x1 - x0)) * (W - m.l - m.r);
  const sy = (v: number) => H - m.b - ((v - y0) / (y1 - y0)) * (H - m.t - m.b);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT} font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2 - m.r / 2}" y="22" text-anchor="middle" font-size="15">${esc(o.title)}</text>`);
  // axes and ticks
  const xTicks = o.logX ? logTicks(x0, x1) : niceTicks(x0, x1);
  for (const v of xTicks) {
    const x = sx(v);
    out.push(`<line x1="${x}" y1="${m.t}" x2="${x}" y2="${H - m.b}" stroke="#eee"/>`);
    out.push(`<text x="${x}" y="${H - m.b + 16}" text-anchor="middle">${fmt(v)}</text>`);
  }
  for (const v of niceTicks(y0, y1)) {
    const y = sy(v);
    out.push(`<line x1="${m.l}" y1="${y}" x2="${W - m.r}" y2="${y}" stroke="#eee"/>`);
    out.push(`<text x="${m.l - 6}" y="${y + 4}" text-anchor="end">${fmt(v)}</text>`);
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 15}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  // series
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const sorted = [...s.points].sort((a, b) => a.x - b.x);
    if (s.line && sorted.length > 1) {
      out.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2" points="${sorted.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(" ")}"/>`,
      );
    }
    sorted.forEach((p, k) => {
      const fill = s.hollow ? "white" : color;
      if (p.err && Number.isFinite(p.err.lo) && Number.isFinite(p.err.hi)) {
        const x = sx(p.x).toFixed(1);
        const [lo, hi] = [sy(p.err.lo).toFixed(1), sy(p.err.hi).toFixed(1)];
        const cap = (y: string) =>
          `<line x1="${(sx(p.x) - 4).toFixed(1)}" y1="${y}" x2="${(sx(p.x) + 4).toFixed(1)}" y2="${y}" stroke="${color}" stroke-width="1.5"/>`;
        out.push(`<line x1="${x}" y1="${lo}" x2="${x}" y2="${hi}" stroke="${color}" stroke-width="1.5"/>`, cap(lo), cap(hi));
      }
      out.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="4.5" fill="${fill}" stroke="${color}" stroke-width="2"/>`);
      if (p.label) {
        const dy = k % 2 ? 14 : -8; // alternate label side so close points stay readable
        out.push(
          `<text x="${(sx(p.x) + 6).toFixed(1)}" y="${(sy(p.y) + dy).toFixed(1)}" font-size="10" fill="${color}">${esc(p.label)}</text>`,
        );
      }
    });
    const ly = m.t + 10 + i * 18;
    out.push(`<circle cx="${W - m.r + 16}" cy="${ly}" r="4.5" fill="${s.hollow ? "white" : color}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${W - m.r + 26}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
