/**
 * The tensors of the shape-only interpreter: a logical shape and the storage it lives in, no data.
 * Views (reshapes, channel slices) share their base's storage, so memory accounting can count each
 * storage once, the way PyTorch keeps a whole storage alive for as long as any view of it is held.
 */

export type ElementType = "float32" | "int64" | "bool";

export const ELEMENT_BYTES: Record<ElementType, number> = { float32: 4, int64: 8, bool: 1 };

/** One allocation. `id` is unique per interpreter run. */
export interface Storage {
  readonly id: number;
  readonly bytes: number;
  /** What made it, for debugging and breakdowns (e.g. "conv2d", "input", "bn-stats"). */
  readonly origin: string;
}

export function shapeNumel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export class ShapeTensor {
  constructor(
    readonly shape: readonly number[],
    readonly storage: Storage,
    readonly dtype: ElementType = "float32",
  ) {}

  get numel(): number {
    return shapeNumel(this.shape);
  }

  /** Bytes of this tensor's elements (a view may cover only part of its storage). */
  get bytes(): number {
    return this.numel * ELEMENT_BYTES[this.dtype];
  }
}
