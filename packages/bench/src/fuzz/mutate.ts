/**
 * Mutations for fuzzing the file readers, as fast-check arbitraries so a failing case shrinks to
 * the fewest, smallest edits. Positions are fractions in [0, 1) of the input (or of its head or
 * tail, where the headers of binary formats live), so one edit list applies to any input.
 */
import fc from "fast-check";

type Region = "any" | "head" | "tail";
interface At {
  at: number;
  region: Region;
}
export type ByteEdit =
  | (At & { kind: "flip"; xor: number })
  | (At & { kind: "cut" })
  | (At & { kind: "delete"; length: number })
  | (At & { kind: "insert"; bytes: number[] })
  | (At & { kind: "set"; bytes: number[] })
  | (At & { kind: "copy"; length: number; to: number });

/** Bytes that make parsers take unusual paths: zeros, all-ones, signs, ASCII digits and quotes. */
const SPECIAL = [0x00, 0xff, 0x7f, 0x80, 0x01, 0x30, 0x39, 0x2d, 0x22, 0x0a];
const HOT = 4096;

const at = fc.record({
  at: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
  region: fc.constantFrom<Region>("any", "head", "tail"),
});
const someBytes = (max: number) =>
  fc.array(fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...SPECIAL)), { minLength: 1, maxLength: max });

const byteEdit: fc.Arbitrary<ByteEdit> = fc
  .oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant("flip" as const), xor: fc.integer({ min: 1, max: 255 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("cut" as const) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("delete" as const), length: fc.integer({ min: 1, max: 64 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("insert" as const), bytes: someBytes(16) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant("set" as const), bytes: someBytes(8) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("copy" as const),
        length: fc.integer({ min: 1, max: 256 }),
        to: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      }),
    },
  )
  .chain((e) => at.map((a) => ({ ...a, ...e }) as ByteEdit));

export const byteEdits = fc.array(byteEdit, { minLength: 1, maxLength: 6 });

function position(e: At, length: number): number {
  if (length === 0) return 0;
  const span = e.region === "any" ? length : Math.min(HOT, length);
  const offset = e.region === "tail" ? length - span : 0;
  return offset + Math.floor(e.at * span);
}

export function applyByteEdits(input: Uint8Array, edits: readonly ByteEdit[]): Uint8Array {
  let b = Uint8Array.from(input);
  for (const e of edits) {
    const p = position(e, b.length);
    switch (e.kind) {
      case "flip":
        if (p < b.length) b[p] ^= e.xor;
        break;
      case "cut":
        b = b.subarray(0, p);
        break;
      case "delete":
        b = Uint8Array.from([...b.subarray(0, p), ...b.subarray(p + e.length)]);
        break;
      case "insert":
        b = Uint8Array.from([...b.subarray(0, p), ...e.bytes, ...b.subarray(p)]);
        break;
      case "set":
        b.set(e.bytes.slice(0, Math.max(0, b.length - p)), p);
        break;
      case "copy": {
        const chunk = b.slice(p, p + e.length);
        const to = Math.floor(e.to * b.length);
        b.set(chunk.subarray(0, Math.max(0, b.length - to)), to);
        break;
      }
    }
  }
  return b;
}

// ---- JSON -----------------------------------------------------------------------------------

export type JsonEdit =
  | { kind: "delete"; node: number }
  | { kind: "replace"; node: number; value: unknown }
  | { kind: "scale"; node: number; by: number }
  | { kind: "truncate"; node: number; keep: number }
  | { kind: "duplicate"; node: number };

/** Values that break assumptions: wrong types, signs, sizes, non-integers, empty containers. */
const ODD_VALUES: unknown[] = [
  null,
  true,
  0,
  -1,
  1,
  0.5,
  1e308,
  -1e308,
  2 ** 53 + 2,
  2 ** 31,
  "",
  "x",
  "-1",
  "NaN",
  [],
  {},
  [[]],
  [0],
  [-1, 2],
  { shape: [1] },
];

const node = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const jsonEdit: fc.Arbitrary<JsonEdit> = fc.oneof(
  fc.record({ kind: fc.constant("delete" as const), node }),
  fc.record({
    kind: fc.constant("replace" as const),
    node,
    value: fc.oneof(fc.constantFrom(...ODD_VALUES), fc.integer(), fc.double({ noNaN: true }), fc.string({ maxLength: 8 })),
  }),
  fc.record({ kind: fc.constant("scale" as const), node, by: fc.constantFrom(-1, 0, 2, 0.5, 1e6, 1 + 1e-9) }),
  fc.record({ kind: fc.constant("truncate" as const), node, keep: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ kind: fc.constant("duplicate" as const), node }),
);
export const jsonEdits = fc.array(jsonEdit, { minLength: 1, maxLength: 4 });

type Slot = { parent: Record<string, unknown> | unknown[]; key: string | number };

/** Every (container, key) of a JSON tree, depth-first, long arrays sampled so edits reach all levels. */
function slots(v: unknown, out: Slot[] = []): Slot[] {
  if (Array.isArray(v)) {
    const step = Math.max(1, Math.floor(v.length / 8));
    for (let i = 0; i < v.length; i += step) {
      out.push({ parent: v, key: i });
      slots(v[i], out);
    }
  } else if (typeof v === "object" && v !== null) {
    for (const [k, c] of Object.entries(v)) {
      out.push({ parent: v as Record<string, unknown>, key: k });
      slots(c, out);
    }
  }
  return out;
}

export function applyJsonEdits(value: unknown, edits: readonly JsonEdit[]): unknown {
  const root = { v: structuredClone(value) };
  for (const e of edits) {
    const all = slots(root);
    const s = all[Math.floor(e.node * all.length)];
    if (!s) continue;
    const get = () => (s.parent as Record<string | number, unknown>)[s.key];
    const set = (x: unknown) => void ((s.parent as Record<string | number, unknown>)[s.key] = x);
    switch (e.kind) {
      case "delete":
        if (Array.isArray(s.parent)) s.parent.splice(s.key as number, 1);
        else delete s.parent[s.key as string];
        break;
      case "replace":
        set(structuredClone(e.value));
        break;
      case "scale": {
        const x = get();
        if (typeof x === "number") set(x * e.by);
        break;
      }
      case "truncate": {
        const x = get();
        if (Array.isArray(x)) x.length = Math.min(x.length, e.keep);
        else if (typeof x === "string") set(x.slice(0, e.keep));
        break;
      }
      case "duplicate": {
        const x = get();
        if (Array.isArray(x) && x.length > 0) x.push(structuredClone(x[x.length - 1]));
        break;
      }
    }
  }
  return root.v;
}

// ---- text files made of lines and columns (list files) ---------------------------------------

export type LineEdit =
  | { kind: "delete"; line: number }
  | { kind: "duplicate"; line: number }
  | { kind: "token"; line: number; column: number; token: string }
  | { kind: "append"; line: number; token: string }
  | { kind: "bytes"; edits: ByteEdit[] };

const TOKENS = [
  "-1",
  "0",
  "1",
  "99999999999999999999",
  "1e3",
  "0x10",
  "3.5",
  "NaN",
  "",
  " ",
  ";",
  "\t",
  "../..",
  "/",
  "ü",
  "a b",
  "-",
  "+1",
  "007",
];
const line = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const lineEdit: fc.Arbitrary<LineEdit> = fc.oneof(
  fc.record({ kind: fc.constant("delete" as const), line }),
  fc.record({ kind: fc.constant("duplicate" as const), line }),
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("token" as const),
      line,
      column: fc.integer({ min: 0, max: 4 }),
      token: fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 6 })),
    }),
  },
  fc.record({ kind: fc.constant("append" as const), line, token: fc.constantFrom(...TOKENS) }),
  fc.record({ kind: fc.constant("bytes" as const), edits: fc.array(byteEdit, { minLength: 1, maxLength: 2 }) }),
);
export const lineEdits = fc.array(lineEdit, { minLength: 1, maxLength: 4 });

export function applyLineEdits(text: string, edits: readonly LineEdit[]): string {
  let lines = text.split("\n");
  for (const e of edits) {
    if (e.kind === "bytes") {
      lines = Buffer.from(applyByteEdits(Buffer.from(lines.join("\n")), e.edits))
        .toString("latin1")
        .split("\n");
      continue;
    }
    const i = Math.floor(e.line * lines.length);
    if (e.kind === "delete") lines.splice(i, 1);
    else if (e.kind === "duplicate") lines.splice(i, 0, lines[i] ?? "");
    else if (e.kind === "append") lines[i] = `${lines[i] ?? ""} ${e.token}`;
    else {
      const cols = (lines[i] ?? "").split(" ");
      cols[Math.min(e.column, cols.length)] = e.token;
      lines[i] = cols.join(" ");
    }
  }
  return lines.join("\n");
}
