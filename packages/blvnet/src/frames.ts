/**
 * Frame bookkeeping of bLVNet: rows of a (N*T, C, H, W) batch, frame t of clip n at row n*T + t.
 * Odd frames feed the big branch and even frames the little one; since T is even, that is simply
 * odd and even rows of the whole batch, and pair k = rows (2k, 2k+1).
 */
export function bigRows(rows: number): number[] {
  return Array.from({ length: rows / 2 }, (_, k) => 2 * k + 1);
}

export function littleRows(rows: number): number[] {
  return Array.from({ length: rows / 2 }, (_, k) => 2 * k);
}

/** Row k of a per-pair tensor copied to rows 2k and 2k+1 (the official code writes both frames). */
export function duplicatedRows(pairs: number): number[] {
  return Array.from({ length: 2 * pairs }, (_, r) => r >> 1);
}
