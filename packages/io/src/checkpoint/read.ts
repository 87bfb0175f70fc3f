/**
 * `readCheckpoint(path)`: weights from any file a user may hand us — our safetensors, a PyTorch zip
 * checkpoint or a legacy (pre-1.6) one — chosen by content, not by extension. Every failure is a
 * one-line UserError naming the file and what is wrong.
 */
import { readFileSync } from "node:fs";
import type { TensorMap } from "@blvnet/core";
import { UserError } from "@blvnet/core";
import { decodeSafetensors } from "../safetensors.js";
import { readTorchLegacy, readTorchZip } from "./pth.js";
import { CheckpointFormatError, materializeTensor, TensorRef } from "./storage.js";
import { PickledModuleSource, pythonName } from "./unpickle.js";
import { ZipFormatError } from "./zip.js";

export type CheckpointFormat = "safetensors" | "pytorch-zip" | "pytorch-legacy";

export interface CheckpointInfo {
  path: string;
  format: CheckpointFormat;
  /** Top-level key the state dict was nested under (`state_dict`, `model`, ...), or null if the file is one. */
  container: string | null;
  /** How many keys lost a DataParallel `module.` prefix. */
  strippedPrefix: number;
  /** Scalar top-level entries beside the state dict (`epoch`, `arch`, `best_top1`), or safetensors metadata. */
  extras: Record<string, string>;
  /** State-dict entries that are not tensors (left out). */
  skipped: string[];
}

export interface Checkpoint {
  tensors: TensorMap;
  info: CheckpointInfo;
}

/** Where training scripts nest the weights, in the order tried. */
const CONTAINER_KEYS = ["state_dict", "model", "state", "model_state_dict"];
const DATA_PARALLEL_PREFIX = "module.";

const FORMAT_LABEL: Record<CheckpointFormat, string> = {
  safetensors: "safetensors file",
  "pytorch-zip": "PyTorch zip checkpoint",
  "pytorch-legacy": "PyTorch legacy checkpoint",
};

/** The tensors of a checkpoint, keys without `module.`. */
export function readCheckpoint(path: string): TensorMap {
  return readCheckpointFile(path).tensors;
}

export function readCheckpointFile(path: string): Checkpoint {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`${path}: cannot read checkpoint (${code === "ENOENT" ? "no such file" : (code ?? String(e))})`);
  }
  return decodeCheckpoint(buf, path);
}

/** Parse a checkpoint already in memory; `source` names it in errors. */
export function decodeCheckpoint(buf: Uint8Array, source: string): Checkpoint {
  const format = detectFormat(buf, source);
  try {
    if (format === "safetensors") {
      const { tensors, metadata } = decodeSafetensors(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength), source);
      return { tensors, info: { path: source, format, container: null, strippedPrefix: 0, extras: metadata, skipped: [] } };
    }
    const obj = format === "pytorch-zip" ? readTorchZip(buf) : readTorchLegacy(buf);
    return extractStateDict(obj, source, format);
  } catch (e) {
    if (e instanceof UserError) throw e;
    const why = e instanceof CheckpointFormatError || e instanceof ZipFormatError ? e.message : `corrupt or truncated: ${errorText(e)}`;
    throw new UserError(`${source}: bad ${FORMAT_LABEL[format]} (${why})`);
  }
}

function errorText(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/\s+/g, " ").trim().slice(0, 200);
}

/** Decide the format from the first bytes; anything else is a UserError saying what it looks like. */
export function detectFormat(buf: Uint8Array, source: string): CheckpointFormat {
  const fail = (why: string) => new UserError(`${source}: not a PyTorch checkpoint or safetensors file (${why})`);
  if (buf.length === 0) throw fail("empty file");
  const head = (n: number) => new TextDecoder("latin1").decode(buf.subarray(0, n));
  if (head(2) === "PK") {
    if (buf.length < 22) throw new UserError(`${source}: bad PyTorch zip checkpoint (truncated: only ${buf.length} bytes)`);
    return "pytorch-zip";
  }
  // safetensors before pickles: its u64 header length may well start with byte 0x80.
  if (buf.length >= 10 && buf[8] === 0x7b /* { */) {
    const n = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getBigUint64(0, true);
    if (n >= 2n && n <= BigInt(buf.length - 8)) return "safetensors";
    if (n < 100_000_000n) throw new UserError(`${source}: bad safetensors file (header runs past the end of the file: truncated?)`);
  }
  if (buf[0] === 0x80) return "pytorch-legacy"; // a pickle; the torch magic number is checked on reading
  if (buf.length > 262 && head(262).slice(257) === "ustar")
    throw fail("a tar archive: the very old tar-based torch.save format is not supported");
  const text = head(64).toLowerCase();
  if (text.startsWith("version https://git-lfs")) throw fail("a Git LFS pointer, not the file itself: run `git lfs pull`");
  if (text.startsWith("<!doctype html") || text.startsWith("<html")) throw fail("an HTML page: the download probably failed");
  const hex = [...buf.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  throw fail(`unrecognised header bytes ${hex}`);
}

function describeObject(v: unknown): string {
  if (v instanceof Map) return "a dict";
  if (Array.isArray(v)) return "a list/tuple";
  if (v instanceof PickledModuleSource) return "a pickled module";
  const name = pythonName(v);
  if (name) return `a pickled ${name} object`;
  return v === null ? "None" : typeof v;
}

const hasTensors = (m: Map<unknown, unknown>) => [...m.values()].some((v) => v instanceof TensorRef);

/** Find the state dict in the unpickled object, rebuild its tensors and strip `module.` prefixes. */
function extractStateDict(obj: unknown, source: string, format: CheckpointFormat): Checkpoint {
  if (!(obj instanceof Map)) {
    throw new CheckpointFormatError(`holds ${describeObject(obj)}, not a state dict; save model.state_dict() instead`);
  }
  let dict: Map<unknown, unknown> | null = null;
  let container: string | null = null;
  for (const k of CONTAINER_KEYS) {
    const v = obj.get(k);
    if (v === undefined) continue;
    if (v instanceof Map && hasTensors(v)) {
      dict = v;
      container = k;
      break;
    }
    if (!(v instanceof Map)) throw new CheckpointFormatError(`"${k}" holds ${describeObject(v)}, not a state dict`);
  }
  if (!dict) {
    if (!hasTensors(obj)) {
      const keys = [...obj.keys()].slice(0, 10).map(String).join(", ");
      throw new CheckpointFormatError(`no state dict found (top-level keys: ${keys || "none"})`);
    }
    dict = obj;
  }

  const extras: Record<string, string> = {};
  if (container) {
    for (const [k, v] of obj) if (["string", "number", "boolean"].includes(typeof v)) extras[String(k)] = String(v);
  }
  const tensors: TensorMap = new Map();
  const skipped: string[] = [];
  let strippedPrefix = 0;
  for (const [rawKey, v] of dict) {
    let key = String(rawKey);
    if (key.startsWith(DATA_PARALLEL_PREFIX)) {
      key = key.slice(DATA_PARALLEL_PREFIX.length);
      strippedPrefix++;
    }
    if (!(v instanceof TensorRef)) {
      skipped.push(key);
      continue;
    }
    if (tensors.has(key)) throw new CheckpointFormatError(`key ${key} appears both with and without the "module." prefix`);
    tensors.set(key, materializeTensor(v, key));
  }
  return { tensors, info: { path: source, format, container, strippedPrefix, extras, skipped } };
}
