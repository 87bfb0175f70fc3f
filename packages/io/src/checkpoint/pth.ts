/**
 * The two `torch.save` file formats.
 * - zip (torch >= 1.6): `<prefix>/data.pkl` (the pickled object; persistent ids name storages) and
 *   one entry `<prefix>/data/<key>` of raw little-endian bytes per storage.
 * - legacy (torch < 1.6, `_use_new_zipfile_serialization=False`): five consecutive pickles — magic
 *   number, protocol version (1001), sys_info, the object, the sorted list of storage keys — then for
 *   each key an int64 element count followed by the storage's raw bytes.
 * Both return the unpickled object, with every storage's bytes attached (tensors still lazy).
 */

import { CheckpointFormatError, ELEMENT_SIZE } from "./storage.js";
import { BufferReader, TorchUnpickler } from "./unpickle.js";
import { ZipArchive } from "./zip.js";

export function readTorchZip(buf: Uint8Array): unknown {
  const zip = new ZipArchive(buf);
  const pickles = [...zip.entries.keys()].filter((n) => n === "data.pkl" || n.endsWith("/data.pkl"));
  if (pickles.length !== 1) {
    throw new CheckpointFormatError(
      pickles.length ? "zip archive holds several data.pkl files" : "a zip archive but not a PyTorch checkpoint (no data.pkl)",
    );
  }
  const prefix = pickles[0].slice(0, -"data.pkl".length);
  const byteorder = zip.entries.has(`${prefix}byteorder`) ? new TextDecoder().decode(zip.read(`${prefix}byteorder`)).trim() : "little";
  if (byteorder !== "little")
    throw new CheckpointFormatError(`storages are stored ${byteorder}-endian; only little-endian checkpoints are supported`);

  const unpickler = new TorchUnpickler();
  const obj = unpickler.read(new BufferReader(zip.read(pickles[0])));
  for (const [key, storage] of unpickler.storages) {
    const name = `${prefix}data/${key}`;
    if (!zip.entries.has(name)) throw new CheckpointFormatError(`storage ${key} is missing from the archive (${name})`);
    storage.setBytes(() => zip.read(name)); // read (and CRC-checked) only if a state-dict tensor uses it
  }
  return obj;
}

/** The first pickle of a legacy file: the 10-byte LONG1 0x1950a86a20f9469cfc6c. */
const LEGACY_MAGIC = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
const PROTO = 0x80,
  FRAME = 0x95,
  LONG1 = 0x8a,
  STOP = 0x2e;

/**
 * Position just past the magic-number pickle, or -1 if the buffer does not start with it. Parsed by
 * hand: pickleparser refuses LONG1 values wider than 8 bytes.
 */
export function skipLegacyMagic(buf: Uint8Array): number {
  let p = 0;
  if (buf[p++] !== PROTO || !(buf[p++] >= 2)) return -1;
  if (buf[p] === FRAME) p += 9; // protocol 4+: FRAME + u64 length
  if (buf[p++] !== LONG1 || buf[p++] !== LEGACY_MAGIC.length) return -1;
  for (const b of LEGACY_MAGIC) if (buf[p++] !== b) return -1;
  return buf[p++] === STOP ? p : -1;
}

export function readTorchLegacy(buf: Uint8Array): unknown {
  const start = skipLegacyMagic(buf);
  if (start < 0) throw new CheckpointFormatError("a Python pickle but not a PyTorch checkpoint (no torch magic number)");
  const reader = new BufferReader(buf);
  reader.skip(start);
  const unpickler = new TorchUnpickler();
  const protocol = unpickler.read(reader);
  if (protocol !== 1001) throw new CheckpointFormatError(`unsupported legacy protocol version ${String(protocol)}`);
  const sysInfo = unpickler.read(reader);
  if (sysInfo instanceof Map && sysInfo.get("little_endian") === false) {
    throw new CheckpointFormatError("saved on a big-endian machine; only little-endian checkpoints are supported");
  }
  const obj = unpickler.read(reader);
  const keys = unpickler.read(reader);
  if (!Array.isArray(keys)) throw new CheckpointFormatError("storage key list is missing");

  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let p = reader.position;
  for (const k of keys) {
    const storage = unpickler.storages.get(String(k));
    if (!storage) throw new CheckpointFormatError(`the storage list names storage ${String(k)}, which no tensor uses (corrupt file?)`);
    if (p + 8 > buf.length) throw new CheckpointFormatError(`file ends before storage ${storage.key} (truncated)`);
    const numel = view.getBigInt64(p, true);
    if (numel !== BigInt(storage.numel))
      throw new CheckpointFormatError(`storage ${storage.key} has ${numel} elements in the data, ${storage.numel} in the pickle`);
    const bytes = storage.numel * ELEMENT_SIZE[storage.dtype];
    if (p + 8 + bytes > buf.length) throw new CheckpointFormatError(`file ends inside storage ${storage.key} (truncated)`);
    storage.setBytes(buf.subarray(p + 8, p + 8 + bytes));
    p += 8 + bytes;
  }
  for (const s of unpickler.storages.values()) {
    if (!s.hasBytes) throw new CheckpointFormatError(`storage ${s.key} has no data in the file (truncated?)`);
  }
  return obj;
}
