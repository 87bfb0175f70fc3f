/**
 * A confusion matrix as a hand-written SVG: rows = true class, columns = predicted class, cell
 * shade = fraction of the row's videos, counts written in the cells while they stay legible.
 */

export interface ConfusionSvgOptions {
  title?: string;
  /** Cell side in pixels (default: fits ~640 px, between 6 and 40). */
  cell?: number;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** White -> dark blue for fractions 0..1. */
function shade(f: number): string {
  const t = Math.max(0, Math.min(1, f));
  const mix = (a: number, b: number) => Math.round(a + (b - a) * t);
  return `rgb(${mix(255, 8)},${mix(255, 48)},${mix(255, 107)})`;
}

export function confusionSvg(matrix: number[][], classes: string[], opts: ConfusionSvgOptions = {}): string {
  const k = matrix.length;
  const cell = opts.cell ?? Math.max(6, Math.min(40, Math.floor(640 / Math.max(1, k))));
  const showLabels = cell >= 10;
  const labelW = showLabels ? Math.min(180, 8 + 6.5 * Math.max(...classes.map((c) => c.length), 1)) : 20;
  const top = 40 + labelW;
  const left = labelW + 10;
  const width = left + k * cell + 20;
  const height = top + k * cell + 40;
  const font = 'font-family="DejaVu Sans, sans-serif"';
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="20" ${font} font-size="14" font-weight="bold">${esc(opts.title ?? "Confusion matrix")}</text>`,
    `<text x="${left + (k * cell) / 2}" y="${top - labelW - 4}" ${font} font-size="11" text-anchor="middle">predicted class</text>`,
    `<text x="12" y="${top + (k * cell) / 2}" ${font} font-size="11" text-anchor="middle" transform="rotate(-90 12 ${top + (k * cell) / 2})">true class</text>`,
  ];
  const fontSize = Math.min(11, Math.max(6, cell * 0.4));
  for (let r = 0; r < k; r++) {
    const rowSum = matrix[r]!.reduce((a, b) => a + b, 0);
    for (let c = 0; c < k; c++) {
      const n = matrix[r]![c]!;
      const f = rowSum ? n / rowSum : 0;
      const x = left + c * cell;
      const y = top + r * cell;
      parts.push(
        `<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${shade(f)}" stroke="#ddd" stroke-width="0.5"><title>${esc(`${classes[r] ?? r} -> ${classes[c] ?? c}: ${n}`)}</title></rect>`,
      );
      if (n > 0 && cell >= 16) {
        parts.push(
          `<text x="${x + cell / 2}" y="${y + cell / 2 + fontSize / 3}" ${font} font-size="${fontSize}" text-anchor="middle" fill="${f > 0.5 ? "white" : "black"}">${n}</text>`,
        );
      }
    }
    if (showLabels) {
      parts.push(
        `<text x="${left - 4}" y="${top + r * cell + cell / 2 + 4}" ${font} font-size="${Math.min(11, cell - 2)}" text-anchor="end">${esc(classes[r] ?? String(r))}</text>`,
      );
    }
  }
  if (showLabels) {
    for (let c = 0; c < k; c++) {
      const x = left + c * cell + cell / 2 + 4;
      parts.push(
        `<text x="${x}" y="${top - 4}" ${font} font-size="${Math.min(11, cell - 2)}" text-anchor="start" transform="rotate(-90 ${x} ${top - 4})">${esc(classes[c] ?? String(c))}</text>`,
      );
    }
  }
  parts.push(`<rect x="${left}" y="${top}" width="${k * cell}" height="${k * cell}" fill="none" stroke="#333" stroke-width="1"/>`);
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
