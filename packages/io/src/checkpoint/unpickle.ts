/**
 * Unpickling of `torch.save` payloads with pickleparser. Only what a checkpoint needs is given a
 * meaning: torch storage classes, tensor/parameter rebuild functions, OrderedDict and the persistent
 * ids that point at storages. Any other Python global becomes an inert placeholder object (it is
 * never executed), so optimizer states, numpy scalars and the like load as harmless data.
 */
import { BufferReader, NameRegistry, Parser } from "pickleparser";
import { CheckpointFormatError, STORAGE_CLASSES, type StorageDType, StorageRef, TensorRef } from "./storage.js";

/** What GLOBAL pushes for `torch.<X>Storage`: a marker carrying the element type. */
interface StorageClass {
  storageDType: StorageDType;
}

/** A pickled `torch.nn.Module` source record (legacy whole-model saves): never usable as weights. */
export class PickledModuleSource {}

const isStorageClass = (v: unknown): v is StorageClass =>
  (typeof v === "function" || typeof v === "object") && v !== null && "storageDType" in v;

class TorchNames extends NameRegistry {
  constructor() {
    super();
    for (const [name, dtype] of Object.entries(STORAGE_CLASSES)) {
      this.register(
        "torch",
        name,
        Object.assign(
          () => {
            throw new CheckpointFormatError(`torch.${name} called directly`);
          },
          { storageDType: dtype },
        ),
      );
    }
    this.register("collections", "OrderedDict", () => new Map());
    // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks[, metadata])
    const rebuild = (storage: unknown, offset: unknown, size: unknown, stride: unknown) => {
      if (!(storage instanceof StorageRef)) throw new CheckpointFormatError("tensor without a storage");
      return new TensorRef(storage, offset as number, size as number[], stride as number[]);
    };
    this.register("torch._utils", "_rebuild_tensor_v2", rebuild);
    this.register("torch._utils", "_rebuild_tensor", rebuild);
    // nn.Parameter(data, requires_grad, backward_hooks[, state]): the weights are its data.
    this.register("torch._utils", "_rebuild_parameter", (data: unknown) => data);
    this.register("torch._utils", "_rebuild_parameter_with_state", (data: unknown) => data);
    this.register("torch", "Size", (dims: unknown) => dims);
  }
}

/**
 * Reads the pickles of one checkpoint file. Storages are shared by key across the pickle, the way
 * torch shares them between tensors; `storages` lists every root storage met.
 */
export class TorchUnpickler {
  readonly storages = new Map<string, StorageRef>();
  private readonly parser: Parser;

  constructor() {
    this.parser = new Parser({
      nameResolver: new TorchNames(),
      persistentResolver: { resolve: (pid) => this.resolvePersistentId(pid) },
      unpicklingTypeOfDictionary: "Map",
    });
  }

  /** Read one pickle from the reader's position up to its STOP opcode. */
  read(reader: BufferReader): unknown {
    return this.parser.read(reader);
  }

  /**
   * Zip: `('storage', cls, key, location, numel)`. Legacy adds `view_metadata`: null or
   * `(view_key, offset, view_numel)` for a slice of the root storage `key`.
   */
  private resolvePersistentId(pid: unknown): unknown {
    if (!Array.isArray(pid)) throw new CheckpointFormatError("malformed persistent id");
    if (pid[0] === "module") return new PickledModuleSource();
    if (typeof pid[0] !== "string" || (pid[0] === "storage" && pid.length < 5)) throw new CheckpointFormatError("malformed persistent id");
    if (pid[0] !== "storage") throw new CheckpointFormatError(`unsupported persistent id type "${pid[0]}"`);
    const [, cls, rootKey, , numel, viewMeta] = pid;
    if (!isStorageClass(cls)) throw new CheckpointFormatError(`unsupported storage type ${pythonName(cls) ?? typeof cls}`);
    if (!Number.isSafeInteger(numel) || numel < 0) throw new CheckpointFormatError(`storage ${String(rootKey)} has a bad size`);
    const key = String(rootKey);
    let root = this.storages.get(key);
    if (!root) {
      root = new StorageRef(key, cls.storageDType, numel);
      this.storages.set(key, root);
    } else if (root.dtype !== cls.storageDType || root.numel !== numel) {
      throw new CheckpointFormatError(`storage ${key} is declared twice with different types or sizes`);
    }
    if (viewMeta === null || viewMeta === undefined) return root;
    const [viewKey, offset, viewNumel] = viewMeta as [unknown, number, number];
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(viewNumel) || offset < 0 || viewNumel < 0 || offset + viewNumel > numel) {
      throw new CheckpointFormatError(`storage view ${String(viewKey)} lies outside storage ${key}`);
    }
    return new StorageRef(String(viewKey), cls.storageDType, viewNumel, { root, offset });
  }
}

/** `module.Name` of a placeholder for an unknown Python global (a class, or an instance of one). */
export function pythonName(v: unknown): string | null {
  if (v === null || (typeof v !== "object" && typeof v !== "function")) return null;
  const holder = (typeof v === "function" ? v.prototype : v) as { __module__?: unknown; __name__?: unknown } | undefined;
  if (!holder || typeof holder.__name__ !== "string") return null;
  return typeof holder.__module__ === "string" ? `${holder.__module__}.${holder.__name__}` : holder.__name__;
}

/** pickleparser's reader, but an 8-byte length beyond 2^53 is a format error, not a console warning. */
class CheckedReader extends BufferReader {
  private readonly view: DataView;
  constructor(buffer: Uint8Array) {
    super(buffer);
    this.view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  override uint64(): number {
    const at = this.position;
    this.skip(8);
    const n = this.view.getUint32(at, true) + 2 ** 32 * this.view.getUint32(at + 4, true);
    if (!Number.isSafeInteger(n)) throw new CheckpointFormatError(`an 8-byte size in the pickle is ${n}: corrupt`);
    return n;
  }
}

export { CheckedReader as BufferReader };
