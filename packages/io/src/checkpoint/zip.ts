/**
 * A minimal zip reader for PyTorch's zip checkpoints (torch >= 1.6). It reads the central directory
 * itself (zip64 included) so that stored entries are returned without copying the file and every
 * entry is checked against its CRC-32: fflate's `unzipSync` neither verifies CRCs nor notices a
 * stored entry cut short by truncation. Deflated entries (a re-zipped checkpoint) go through fflate.
 */
import * as zlib from "node:zlib";
import { inflateSync } from "fflate";

/** Thrown for a malformed archive; the caller adds the file name. */
export class ZipFormatError extends Error {}

export interface ZipEntry {
  name: string;
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const U32_MAX = 0xffffffff;

export class ZipArchive {
  readonly entries = new Map<string, ZipEntry>();
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.readCentralDirectory();
  }

  /** The uncompressed bytes of an entry, CRC-checked (a view into the file for stored entries). */
  read(name: string): Uint8Array {
    const e = this.entries.get(name);
    if (!e) throw new ZipFormatError(`archive has no entry ${name}`);
    const lh = e.localHeaderOffset;
    this.need(lh, 30, `local header of ${name}`);
    if (this.view.getUint32(lh, true) !== SIG_LOCAL) throw new ZipFormatError(`bad local header for ${name}`);
    const start = lh + 30 + this.view.getUint16(lh + 26, true) + this.view.getUint16(lh + 28, true);
    this.need(start, e.compressedSize, `data of ${name}`);
    const raw = this.buf.subarray(start, start + e.compressedSize);
    let data: Uint8Array;
    if (e.method === 0) data = raw;
    else if (e.method === 8) {
      try {
        data = inflateSync(raw, { out: new Uint8Array(e.size) });
      } catch (err) {
        throw new ZipFormatError(`cannot inflate ${name} (${(err as Error).message})`);
      }
    } else throw new ZipFormatError(`entry ${name} uses unsupported compression method ${e.method}`);
    if (data.length !== e.size) throw new ZipFormatError(`entry ${name} has ${data.length} bytes, expected ${e.size}`);
    if (crc32(data) !== e.crc32) throw new ZipFormatError(`entry ${name} fails its CRC check (corrupt file)`);
    return data;
  }

  private need(offset: number, length: number, what: string): void {
    if (!(offset >= 0 && length >= 0 && offset + length <= this.buf.length)) {
      throw new ZipFormatError(`${what} lies past the end of the file (truncated?)`);
    }
  }

  private u64(offset: number): number {
    const v = this.view.getBigUint64(offset, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipFormatError("zip64 field out of range");
    return Number(v);
  }

  private findEndOfCentralDirectory(): number {
    const last = this.buf.length - 22;
    const first = Math.max(0, last - 0xffff); // the record is followed by at most a 64 KiB comment
    for (let e = last; e >= first; e--) if (this.view.getUint32(e, true) === SIG_EOCD) return e;
    throw new ZipFormatError("no end-of-central-directory record (truncated zip?)");
  }

  private readCentralDirectory(): void {
    if (this.buf.length < 22) throw new ZipFormatError("too short for a zip archive");
    const eocd = this.findEndOfCentralDirectory();
    let count = this.view.getUint16(eocd + 10, true);
    let size = this.view.getUint32(eocd + 12, true);
    let offset = this.view.getUint32(eocd + 16, true);
    const locator = eocd - 20;
    if (locator >= 0 && this.view.getUint32(locator, true) === SIG_ZIP64_LOCATOR) {
      const z = this.u64(locator + 8);
      this.need(z, 56, "zip64 end-of-central-directory record");
      if (this.view.getUint32(z, true) !== SIG_ZIP64_EOCD) throw new ZipFormatError("bad zip64 end-of-central-directory record");
      count = this.u64(z + 32);
      size = this.u64(z + 40);
      offset = this.u64(z + 48);
    }
    this.need(offset, size, "central directory");
    let p = offset;
    for (let i = 0; i < count; i++) {
      this.need(p, 46, "central directory entry");
      if (this.view.getUint32(p, true) !== SIG_CENTRAL) throw new ZipFormatError("bad central directory entry");
      const nameLen = this.view.getUint16(p + 28, true);
      const extraLen = this.view.getUint16(p + 30, true);
      const commentLen = this.view.getUint16(p + 32, true);
      this.need(p + 46, nameLen + extraLen, "central directory entry");
      const entry: ZipEntry = {
        name: new TextDecoder().decode(this.buf.subarray(p + 46, p + 46 + nameLen)),
        method: this.view.getUint16(p + 10, true),
        crc32: this.view.getUint32(p + 16, true),
        compressedSize: this.view.getUint32(p + 20, true),
        size: this.view.getUint32(p + 24, true),
        localHeaderOffset: this.view.getUint32(p + 42, true),
      };
      this.applyZip64Extra(entry, p + 46 + nameLen, extraLen);
      this.entries.set(entry.name, entry);
      p += 46 + nameLen + extraLen + commentLen;
    }
  }

  /** Zip64 extra field (id 1): 64-bit values for whichever 32-bit fields are 0xffffffff, in this order. */
  private applyZip64Extra(e: ZipEntry, start: number, length: number): void {
    for (let q = start; q + 4 <= start + length; ) {
      const id = this.view.getUint16(q, true);
      const len = this.view.getUint16(q + 2, true);
      if (id === 1) {
        let r = q + 4;
        const next = () => {
          if (r + 8 > q + 4 + len) throw new ZipFormatError(`bad zip64 extra field for ${e.name}`);
          const v = this.u64(r);
          r += 8;
          return v;
        };
        if (e.size === U32_MAX) e.size = next();
        if (e.compressedSize === U32_MAX) e.compressedSize = next();
        if (e.localHeaderOffset === U32_MAX) e.localHeaderOffset = next();
        return;
      }
      q += 4 + len;
    }
  }
}

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** Node's native CRC-32 where available (zlib.crc32: Node >= 20.15), ~15x faster than the table loop. */
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

export function crc32(data: Uint8Array): number {
  return nativeCrc32 ? nativeCrc32(data) >>> 0 : crc32Js(data);
}

export function crc32Js(data: Uint8Array): number {
  let c = -1;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
