/**
 * safetensors read/write (https://github.com/huggingface/safetensors format):
 * u64 little-endian header length N, N bytes of JSON header, then raw little-endian tensor bytes.
 */
import { readFileSync } from "node:fs";
import type { TensorData, TensorMap } from "@blvnet/core";
import { UserError } from "@blvnet/core";
import { writeFileAtomic } from "./fsutil.js";

const DTYPE_OF = (d: TensorData): string => (d instanceof Float32Array ? "F32" : "I64");

export function encodeSafetensors(tensors: TensorMap, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    const bytes = t.data.byteLength;
    header[name] = { dtype: DTYPE_OF(t.data), shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, "utf8");
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let pos = 8 + headerBytes.length;
  for (const t of tensors.values()) {
    Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).copy(out, pos);
    pos += t.data.byteLength;
  }
  return out;
}

export function decodeSafetensors(buf: Buffer, source = "<buffer>"): { tensors: TensorMap; metadata: Record<string, string> } {
  const bad = (why: string) => new UserError(`${source}: not a valid safetensors file (${why})`);
  if (buf.length < 8) throw bad("too short");
  const n = Number(buf.readBigUInt64LE(0));
  if (n <= 0 || 8 + n > buf.length) throw bad("bad header length");
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString("utf8"));
  } catch {
    throw bad("header is not JSON");
  }
  const base = 8 + n;
  const tensors: TensorMap = new Map();
  let metadata: Record<string, string> = {};
  for (const [name, h] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = h as unknown as Record<string, string>;
      continue;
    }
    const [a, b] = h.data_offsets;
    if (!(a >= 0 && b >= a && base + b <= buf.length)) throw bad(`tensor ${name} lies outside the file (truncated?)`);
    const numel = h.shape.reduce((x, y) => x * y, 1);
    const bytes = buf.subarray(base + a, base + b);
    const copy = new Uint8Array(bytes); // aligned copy
    let data: TensorData;
    if (h.dtype === "F32") data = new Float32Array(copy.buffer);
    else if (h.dtype === "I64") data = new BigInt64Array(copy.buffer);
    else if (h.dtype === "F16") data = f16ToF32(new Uint16Array(copy.buffer));
    else throw bad(`tensor ${name} has unsupported dtype ${h.dtype}`);
    if (data.length !== numel) throw bad(`tensor ${name}: ${data.length} values for shape [${h.shape}]`);
    tensors.set(name, { shape: h.shape, data });
  }
  return { tensors, metadata };
}

export function writeSafetensors(path: string, tensors: TensorMap, metadata: Record<string, string> = {}): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

export function readSafetensors(path: string): { tensors: TensorMap; metadata: Record<string, string> } {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new UserError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return decodeSafetensors(buf, path);
}

/** IEEE half bits -> float32 values. */
export function f16ToF32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const f = h & 0x3ff;
    out[i] = e === 0 ? s * f * 2 ** -24 : e === 31 ? (f ? NaN : s * Infinity) : s * (1 + f / 1024) * 2 ** (e - 15);
  }
  return out;
}
