/**
 * PyTorch storages and tensor views as they come out of a checkpoint's pickle, and their decoding
 * into our two tensor types (floats -> Float32Array, integers and bools -> BigInt64Array).
 * Tensors are rebuilt lazily: the pickle is read before the storage bytes are known (legacy format).
 */
import type { TensorData } from "@blvnet/core";
import { f16ToF32 } from "../safetensors.js";

/** Thrown for a malformed checkpoint; the caller adds the file name. */
export class CheckpointFormatError extends Error {}

export type StorageDType = "float32" | "float64" | "float16" | "bfloat16" | "int64" | "int32" | "int16" | "int8" | "uint8" | "bool";

/** `torch.<Name>Storage` class name -> element type. */
export const STORAGE_CLASSES: Record<string, StorageDType> = {
  FloatStorage: "float32",
  DoubleStorage: "float64",
  HalfStorage: "float16",
  BFloat16Storage: "bfloat16",
  LongStorage: "int64",
  IntStorage: "int32",
  ShortStorage: "int16",
  CharStorage: "int8",
  ByteStorage: "uint8",
  BoolStorage: "bool",
};

export const ELEMENT_SIZE: Record<StorageDType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

const isFloat = (d: StorageDType) => d === "float32" || d === "float64" || d === "float16" || d === "bfloat16";

/** One storage of the checkpoint. Legacy files may also hold views: a slice of a root storage. */
export class StorageRef {
  private bytes: Uint8Array | (() => Uint8Array) | null = null;
  private decoded: TensorData | null = null;
  /** Set once a tensor took `decoded` itself, so later tensors on this storage get copies. */
  private handedOut = false;

  constructor(
    readonly key: string,
    readonly dtype: StorageDType,
    readonly numel: number,
    readonly view: { root: StorageRef; offset: number } | null = null,
  ) {}

  get byteLength(): number {
    return this.numel * ELEMENT_SIZE[this.dtype];
  }

  /**
   * Attach the raw little-endian bytes of a root storage, or a function that reads them when first
   * needed (so storages no state-dict tensor uses, such as optimizer buffers, are never read).
   */
  setBytes(bytes: Uint8Array | (() => Uint8Array)): void {
    if (typeof bytes !== "function") this.checkLength(bytes);
    this.bytes = bytes;
  }

  private checkLength(bytes: Uint8Array): void {
    if (bytes.length !== this.byteLength) {
      throw new CheckpointFormatError(
        `storage ${this.key} has ${bytes.length} bytes, expected ${this.byteLength} (${this.numel} x ${this.dtype})`,
      );
    }
  }

  get hasBytes(): boolean {
    return this.view ? this.view.root.hasBytes : this.bytes !== null;
  }

  /** All elements, decoded once. For a view: the root's elements from its offset. */
  values(): TensorData {
    if (this.view) {
      const all = this.view.root.values();
      const { offset } = this.view;
      if (offset + this.numel > all.length)
        throw new CheckpointFormatError(`storage view ${this.key} reaches outside storage ${this.view.root.key}`);
      return all.subarray(offset, offset + this.numel);
    }
    if (!this.decoded) {
      if (!this.bytes) throw new CheckpointFormatError(`storage ${this.key} has no data in the file`);
      const bytes = typeof this.bytes === "function" ? this.bytes() : this.bytes;
      this.checkLength(bytes);
      this.decoded = decodeStorage(bytes, this.dtype);
      this.bytes = null;
    }
    return this.decoded;
  }

  /** `values()` for a tensor that covers the whole storage: hand it over once, copy after that. */
  takeValues(): TensorData {
    const v = this.values();
    if (this.view || this.handedOut) return v.slice();
    this.handedOut = true;
    return v;
  }

  get isFloat(): boolean {
    return isFloat(this.dtype);
  }
}

/** Raw bytes -> values. Always copies first: the bytes may sit at any offset of the file buffer. */
export function decodeStorage(bytes: Uint8Array, dtype: StorageDType): TensorData {
  const buf = new Uint8Array(bytes).buffer;
  switch (dtype) {
    case "float32":
      return new Float32Array(buf);
    case "float64":
      return Float32Array.from(new Float64Array(buf));
    case "float16":
      return f16ToF32(new Uint16Array(buf));
    case "bfloat16": {
      const half = new Uint16Array(buf);
      const bits = new Uint32Array(half.length);
      for (let i = 0; i < half.length; i++) bits[i] = half[i] << 16;
      return new Float32Array(bits.buffer);
    }
    case "int64":
      return new BigInt64Array(buf);
    case "int32":
      return BigInt64Array.from(new Int32Array(buf), (v) => BigInt(v));
    case "int16":
      return BigInt64Array.from(new Int16Array(buf), (v) => BigInt(v));
    case "int8":
      return BigInt64Array.from(new Int8Array(buf), (v) => BigInt(v));
    case "uint8":
    case "bool":
      return BigInt64Array.from(new Uint8Array(buf), (v) => BigInt(v));
  }
}

/** A tensor of the pickle: `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

const MAX_BROADCAST_NUMEL = 1 << 26;

/** Copy a tensor's elements out of its storage in row-major order (handles views, offsets, strides). */
export function materializeTensor(t: TensorRef, key: string): { shape: number[]; data: TensorData } {
  const { storage, offset, shape, stride } = t;
  const isIndex = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
  if (
    !isIndex(offset) ||
    !Array.isArray(shape) ||
    !Array.isArray(stride) ||
    shape.length !== stride.length ||
    ![...shape, ...stride].every(isIndex)
  ) {
    throw new CheckpointFormatError(`tensor ${key} has a malformed size/stride/offset`);
  }
  const numel = shape.reduce((a, b) => a * b, 1);
  const values = storage.values();
  if (numel === 0) return { shape, data: storage.isFloat ? new Float32Array(0) : new BigInt64Array(0) };
  const last = offset + shape.reduce((acc, s, i) => acc + (s - 1) * stride[i], 0);
  if (last >= values.length) throw new CheckpointFormatError(`tensor ${key} reaches outside its storage ${storage.key}`);
  // Broadcast views (stride 0) may legally hold more elements than their storage; bound them anyway.
  if (numel > values.length && numel > MAX_BROADCAST_NUMEL)
    throw new CheckpointFormatError(`tensor ${key} has an implausible size [${shape}]`);

  let contiguous = true;
  for (let i = shape.length - 1, expect = 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expect) contiguous = false;
    expect *= shape[i];
  }
  if (contiguous) {
    const data = offset === 0 && numel === values.length ? storage.takeValues() : values.slice(offset, offset + numel);
    return { shape, data };
  }
  const data = storage.isFloat ? new Float32Array(numel) : new BigInt64Array(numel);
  stridedCopy(values, data, offset, shape, stride);
  return { shape, data };
}

/** out[i] = src[offset + sum(index_d * stride_d)] over the row-major index of `shape`. */
function stridedCopy(src: TensorData, out: TensorData, offset: number, shape: number[], stride: number[]): void {
  const nd = shape.length;
  const idx = new Array<number>(nd).fill(0);
  const inner = shape[nd - 1];
  const innerStride = stride[nd - 1];
  let pos = offset;
  for (let o = 0; o < out.length; o += inner) {
    for (let j = 0; j < inner; j++) (out as Float32Array)[o + j] = (src as Float32Array)[pos + j * innerStride];
    // advance the outer dimensions like an odometer
    for (let d = nd - 2; d >= 0; d--) {
      idx[d]++;
      pos += stride[d];
      if (idx[d] < shape[d]) break;
      pos -= stride[d] * shape[d];
      idx[d] = 0;
    }
  }
}
