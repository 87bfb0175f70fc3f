/** A table as data, rendered to Markdown or HTML (tables are generated, never typed). */
import { markdownTable } from "../markdown.js";

export interface Table {
  title: string;
  headers: string[];
  rows: (string | number)[][];
  note?: string;
}

const cell = (v: string | number) => (typeof v === "number" ? formatNumber(v) : v);

export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return "";
  return String(+v.toPrecision(6)); // callers round to the digits they mean
}

export function toMarkdown(t: Table): string {
  const grid = markdownTable(
    t.headers,
    t.rows.map((r) => r.map(cell)),
  );
  return `### ${t.title}\n\n${grid}${t.note ? `\n${t.note}\n` : ""}`;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function toHtml(t: Table): string {
  const head = t.headers.map((h) => `<th>${esc(h)}</th>`).join("");
  const body = t.rows.map((r) => `<tr>${r.map((v) => `<td>${esc(cell(v))}</td>`).join("")}</tr>`).join("\n");
  const note = t.note ? `<p class="note">${esc(t.note)}</p>` : "";
  return `<h3>${esc(t.title)}</h3>\n<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>\n${note}\n`;
}
