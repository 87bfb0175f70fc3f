// Synthetic torch.save payloads written by a tiny pickle writer below, for the cases the real fixtures
// do not have: strided views, storage offsets, shared storages, broadcast strides, legacy storage
// views, float64/bfloat16, parameters, other containers, deflated zip entries.

import { UserError } from "@blvnet/core";
import { zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { decodeCheckpoint } from "./read.js";

// ---- a minimal protocol-2 pickle writer --------------------------------------------------------
class Global {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
}
class Reduce {
  constructor(
    readonly fn: unknown,
    readonly args: unknown[],
  ) {}
}
class PersId {
  constructor(readonly id: unknown[]) {}
}
class ODict {
  constructor(readonly entries: [string, unknown][]) {}
}
class Dict {
  constructor(readonly entries: [string, unknown][]) {}
}

function pickle(value: unknown): Uint8Array {
  const out: number[] = [0x80, 2];
  const u32 = (n: number) => out.push(n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255);
  const ascii = (s: string) => out.push(...Buffer.from(s, "latin1"));
  const setItems = (entries: [string, unknown][]) => {
    out.push(0x28); // MARK
    for (const [k, v] of entries) {
      emit(k);
      emit(v);
    }
    out.push(0x75); // SETITEMS
  };
  const emit = (v: unknown): void => {
    if (v === null) out.push(0x4e);
    else if (v === true) out.push(0x88);
    else if (v === false) out.push(0x89);
    else if (typeof v === "string") {
      const b = Buffer.from(v, "utf8");
      out.push(0x58);
      u32(b.length);
      out.push(...b);
    } else if (typeof v === "number" && Number.isInteger(v)) {
      if (v >= 0 && v < 256) out.push(0x4b, v);
      else {
        out.push(0x4a);
        u32(v);
      }
    } else if (typeof v === "number") {
      const b = Buffer.alloc(8);
      b.writeDoubleBE(v);
      out.push(0x47, ...b);
    } else if (Array.isArray(v)) {
      out.push(0x28);
      v.forEach(emit);
      out.push(0x74); // TUPLE
    } else if (v instanceof Global) {
      out.push(0x63);
      ascii(`${v.module}\n${v.name}\n`);
    } else if (v instanceof Reduce) {
      emit(v.fn);
      emit(v.args);
      out.push(0x52);
    } else if (v instanceof PersId) {
      emit(v.id);
      out.push(0x51);
    } else if (v instanceof ODict) {
      emit(new Global("collections", "OrderedDict"));
      out.push(0x29, 0x52); // EMPTY_TUPLE REDUCE
      setItems(v.entries);
    } else if (v instanceof Dict) {
      out.push(0x7d);
      setItems(v.entries);
    } else throw new Error(`cannot pickle ${String(v)}`);
  };
  emit(value);
  out.push(0x2e);
  return Uint8Array.from(out);
}

// ---- torch objects -----------------------------------------------------------------------------
interface Storage {
  key: string;
  cls: string;
  bytes: Uint8Array;
  numel: number;
}
const f32 = (key: string, v: number[]): Storage => ({
  key,
  cls: "FloatStorage",
  bytes: new Uint8Array(Float32Array.from(v).buffer),
  numel: v.length,
});
const raw = (key: string, cls: string, arr: ArrayBufferView & { length: number }): Storage => ({
  key,
  cls,
  bytes: new Uint8Array(arr.buffer.slice(arr.byteOffset, arr.byteOffset + arr.byteLength)),
  numel: arr.length,
});

function tensor(s: Storage, offset: number, shape: number[], stride: number[], view: unknown[] | null = null): Reduce {
  const pid = ["storage", new Global("torch", s.cls), s.key, "cpu", s.numel, ...(view ? [view] : [])];
  return new Reduce(new Global("torch._utils", "_rebuild_tensor_v2"), [new PersId(pid), offset, shape, stride, false, new ODict([])]);
}
const parameter = (t: Reduce) => new Reduce(new Global("torch._utils", "_rebuild_parameter"), [t, true, new ODict([])]);

function torchZip(obj: unknown, storages: Storage[], deflate = false): Uint8Array {
  const files: Record<string, [Uint8Array, { level: 0 | 6 }]> = { "archive/data.pkl": [pickle(obj), { level: deflate ? 6 : 0 }] };
  for (const s of storages) files[`archive/data/${s.key}`] = [s.bytes, { level: deflate ? 6 : 0 }];
  files["archive/version"] = [Buffer.from("3\n"), { level: 0 }];
  return zipSync(files);
}

function torchLegacy(obj: unknown, storages: Storage[]): Uint8Array {
  const magic = Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);
  const sysInfo = new Dict([
    ["protocol_version", 1001],
    ["little_endian", true],
    [
      "type_sizes",
      new Dict([
        ["int", 4],
        ["long", 8],
      ]),
    ],
  ]);
  const keys = storages.map((s) => s.key).sort();
  const parts: Uint8Array[] = [magic, pickle(1001), pickle(sysInfo), pickle(obj), pickle(keys)];
  for (const k of keys) {
    const s = storages.find((x) => x.key === k)!;
    const n = Buffer.alloc(8);
    n.writeBigInt64LE(BigInt(s.numel));
    parts.push(n, s.bytes);
  }
  return Buffer.concat(parts);
}

// ---- cases ---------------------------------------------------------------------------------------
const base = f32("0", [...Array(24).keys()]); // viewed as [2, 3, 4]
const half = raw("1", "HalfStorage", Uint16Array.from([0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001])); // 1, -2, .5, 65504, 2^-24
const long = raw("2", "LongStorage", BigInt64Array.from([7n]));
const double = raw("3", "DoubleStorage", Float64Array.from([1.5, -2.25]));
const bf16 = raw("4", "BFloat16Storage", Uint16Array.from([0x3f80, 0xc040])); // 1, -3
const entries = (prefix = ""): [string, unknown][] => [
  [`${prefix}full`, tensor(base, 0, [2, 3, 4], [12, 4, 1])],
  [`${prefix}full_again`, tensor(base, 0, [2, 3, 4], [12, 4, 1])],
  [`${prefix}transposed`, tensor(base, 12, [4, 3], [1, 4])], // base[1].T
  [`${prefix}row_slice`, tensor(base, 4, [2, 4], [12, 1])], // base[:, 1, :]
  [`${prefix}broadcast`, tensor(base, 1, [3], [0])],
  [`${prefix}param`, parameter(tensor(half, 0, [5], [1]))],
  [`${prefix}counter`, tensor(long, 0, [], [])],
  [`${prefix}double`, tensor(double, 0, [2], [1])],
  [`${prefix}bf16`, tensor(bf16, 0, [1, 2], [2, 1])],
];
const storages = [base, half, long, double, bf16];

function expectCases(tensors: Map<string, { shape: number[]; data: Float32Array | BigInt64Array }>) {
  const get = (k: string) => {
    const t = tensors.get(k);
    if (!t) throw new Error(`missing ${k}`);
    return { shape: t.shape, data: Array.from(t.data as Float32Array) };
  };
  expect(get("full")).toEqual({ shape: [2, 3, 4], data: [...Array(24).keys()] });
  expect(get("full_again")).toEqual(get("full"));
  expect(get("transposed")).toEqual({ shape: [4, 3], data: [12, 16, 20, 13, 17, 21, 14, 18, 22, 15, 19, 23] });
  expect(get("row_slice")).toEqual({ shape: [2, 4], data: [4, 5, 6, 7, 16, 17, 18, 19] });
  expect(get("broadcast")).toEqual({ shape: [3], data: [1, 1, 1] });
  expect(get("param")).toEqual({ shape: [5], data: [1, -2, 0.5, 65504, 2 ** -24] });
  expect(tensors.get("counter")).toEqual({ shape: [], data: BigInt64Array.from([7n]) });
  expect(get("double")).toEqual({ shape: [2], data: [1.5, -2.25] });
  expect(get("bf16")).toEqual({ shape: [1, 2], data: [1, -3] });
  // Two tensors over one storage must not share memory.
  expect(tensors.get("full")!.data).not.toBe(tensors.get("full_again")!.data);
}

describe("PyTorch checkpoint reader (synthetic files)", () => {
  it("reads views, offsets, broadcasts and every dtype from a zip checkpoint", () => {
    const cp = decodeCheckpoint(torchZip(new ODict(entries()), storages), "raw.pth");
    expect(cp.info).toMatchObject({ format: "pytorch-zip", container: null, strippedPrefix: 0 });
    expectCases(cp.tensors);
  });

  it("reads the same from a legacy checkpoint", () => {
    const cp = decodeCheckpoint(torchLegacy(new ODict(entries()), storages), "raw-legacy.pth");
    expect(cp.info.format).toBe("pytorch-legacy");
    expectCases(cp.tensors);
  });

  it("reads deflated zip entries (a re-zipped checkpoint)", () => {
    expectCases(decodeCheckpoint(torchZip(new ODict(entries()), storages, true), "deflated.pth").tensors);
  });

  it("finds the state dict under state_dict / model / state and strips module.", () => {
    for (const container of ["state_dict", "model", "state"]) {
      const obj = new Dict([
        ["epoch", 3],
        ["arch", "x"],
        [container, new ODict(entries("module."))],
        ["optimizer", new Dict([])],
      ]);
      const cp = decodeCheckpoint(torchZip(obj, storages), "nested.pth");
      expect(cp.info).toMatchObject({ container, strippedPrefix: entries().length, extras: { epoch: "3", arch: "x" } });
      expectCases(cp.tensors);
    }
  });

  it("never reads storages outside the state dict (optimizer buffers) from a zip", () => {
    const momentum = f32("9", [1, 2, 3, 4]);
    const broken = { ...momentum, bytes: momentum.bytes.subarray(0, 5) }; // would fail if decoded
    const obj = new Dict([
      ["state_dict", new ODict(entries())],
      ["optimizer", new Dict([["state", new Dict([["0", tensor(momentum, 0, [4], [1])]])]])],
    ]);
    expectCases(decodeCheckpoint(torchZip(obj, [...storages, broken]), "with-optimizer.pth").tensors);
  });

  it("reads legacy storage views (a slice of a root storage)", () => {
    const root = f32("5", [10, 11, 12, 13, 14]);
    const obj = new ODict([["v", tensor(root, 1, [2], [1], ["5v", 2, 3])]]); // view = root[2:5]; tensor = view[1:3]
    expect(Array.from(decodeCheckpoint(torchLegacy(obj, [root]), "view.pth").tensors.get("v")!.data as Float32Array)).toEqual([13, 14]);
  });

  const bad = (bytes: Uint8Array, source = "bad.pth") => {
    try {
      decodeCheckpoint(bytes, source);
    } catch (e) {
      expect(e).toBeInstanceOf(UserError);
      const msg = (e as Error).message;
      expect(msg.startsWith(`${source}: `)).toBe(true);
      expect(msg).not.toContain("\n");
      return msg;
    }
    throw new Error("expected a UserError");
  };

  it("explains checkpoints that hold no usable state dict", () => {
    const model = new Reduce(new Global("models.net", "Net"), []);
    expect(bad(torchZip(model, []))).toContain("pickled models.net.Net object, not a state dict");
    expect(bad(torchZip(new Dict([["model", model]]), []))).toContain('"model" holds a pickled models.net.Net object');
    expect(
      bad(
        torchZip(
          new Dict([
            ["epoch", 1],
            ["lr", 0.1],
          ]),
          [],
        ),
      ),
    ).toContain("no state dict found (top-level keys: epoch, lr)");
    const both = new ODict([
      ["module.a", tensor(base, 0, [1], [1])],
      ["a", tensor(base, 0, [1], [1])],
    ]);
    expect(bad(torchZip(both, [base]))).toContain('key a appears both with and without the "module." prefix');
  });

  it("rejects tensors that reach outside their storage and missing storages", () => {
    expect(bad(torchZip(new ODict([["x", tensor(base, 20, [2, 4], [4, 1])]]), [base]))).toContain("tensor x reaches outside its storage 0");
    expect(bad(torchZip(new ODict([["x", tensor(base, 0, [24], [1])]]), []))).toContain("storage 0 is missing from the archive");
    const short = { ...base, bytes: base.bytes.subarray(0, 40) };
    expect(bad(torchZip(new ODict([["x", tensor(base, 0, [24], [1])]]), [short]))).toContain("storage 0 has 40 bytes, expected 96");
    expect(bad(torchZip(new ODict([["x", tensor({ ...base, cls: "ComplexFloatStorage" }, 0, [1], [1])]]), [base]))).toContain(
      "unsupported storage type torch.ComplexFloatStorage",
    );
  });

  it("names the format of a plain pickle without the torch magic number", () => {
    expect(bad(pickle(new Dict([["a", 1]])))).toBe(
      "bad.pth: bad PyTorch legacy checkpoint (a Python pickle but not a PyTorch checkpoint (no torch magic number))",
    );
  });
});
