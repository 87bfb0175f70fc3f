/**
 * Flag value parsers: plain decimal text only ("0x10", "1e1" and " 8" are not integers here, though
 * Number() would take them), range-checked, each failure a one-line UserError naming the flag.
 * Each returns a commander argument parser; call it directly on a string for values read in an action.
 */
import { UserError } from "@blvnet/core";

/** A bad flag value: main() adds a pointer to the command's help. */
export class FlagError extends UserError {}

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function range(min: number, max?: number): string {
  if (max !== undefined) return ` in ${min}..${max}`;
  return min === 1 ? "" : ` >= ${min}`;
}

/** An integer in [min, max] (default: a positive integer). */
export function int(flag: string, opts: { min?: number; max?: number } = {}): (value: string) => number {
  const { min = 1, max } = opts;
  const what = max === undefined && min === 1 ? "a positive integer" : `an integer${range(min, max)}`;
  return (value) => {
    const n = INTEGER.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < min || (max !== undefined && n > max))
      throw new FlagError(`${flag} must be ${what}, got "${value}"`);
    return n;
  };
}

/** A finite decimal number >= min, or > above, and < below when given (exponents allowed: 5e-4). */
export function num(flag: string, opts: { min?: number; above?: number; below?: number } = {}): (value: string) => number {
  const { min = 0, above, below } = opts;
  const low = above !== undefined ? `> ${above}` : `>= ${min}`;
  const what =
    below !== undefined ? `a number ${above !== undefined ? `in (${above}, ${below})` : `in [${min}, ${below})`}` : `a number ${low}`;
  return (value) => {
    const n = DECIMAL.test(value) ? Number(value) : NaN;
    const ok = Number.isFinite(n) && (above !== undefined ? n > above : n >= min) && (below === undefined || n < below);
    if (!ok) throw new FlagError(`${flag} must be ${what}, got "${value}"`);
    return n;
  };
}

/** A limit given as a count ("3"), a fraction ("0.01") or a percentage ("1%"): returns a count (>= 1) or a fraction (< 1). */
export function countOrFraction(flag: string): (value: string) => number {
  return (value) => {
    const pct = /^(\d+(\.\d+)?)%$/.exec(value.trim());
    const n = pct ? Number(pct[1]) / 100 : DECIMAL.test(value) ? Number(value) : NaN;
    if (!Number.isFinite(n) || n < 0 || (n >= 1 && !Number.isInteger(n)) || (pct && n >= 1)) {
      throw new FlagError(`${flag} must be a count (3), a fraction (0.01) or a percentage (1%), got "${value}"`);
    }
    return n;
  };
}

/** A comma-separated list of integers >= min (empty items ignored). */
export function intList(flag: string, opts: { min?: number } = {}): (value: string) => number[] {
  const { min = 0 } = opts;
  return (value) => {
    const items = value
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
    const ns = items.map((s) => (INTEGER.test(s) ? Number(s) : NaN));
    if (!ns.length || ns.some((n) => !Number.isSafeInteger(n) || n < min)) {
      throw new FlagError(`${flag} must be comma-separated integers >= ${min}, got "${value}"`);
    }
    return ns;
  };
}

/** A comma-separated list of finite decimal numbers (empty items ignored). */
export function numList(flag: string): (value: string) => number[] {
  return (value) => {
    const ns = value
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "")
      .map((s) => (DECIMAL.test(s) ? Number(s) : NaN));
    if (!ns.length || ns.some((n) => !Number.isFinite(n))) throw new FlagError(`${flag} must be comma-separated numbers, got "${value}"`);
    return ns;
  };
}

/** One of `allowed`. */
export function choice<T extends string>(flag: string, allowed: readonly T[]): (value: string) => T {
  return (value) => {
    if (!(allowed as readonly string[]).includes(value))
      throw new FlagError(`${flag} must be one of ${allowed.join(", ")}, got "${value}"`);
    return value as T;
  };
}

/** Comma-separated items, each one of `allowed`. */
export function choiceList<T extends string>(flag: string, allowed: readonly T[]): (value: string) => T[] {
  return (value) => {
    const items = value
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    for (const i of items)
      if (!(allowed as readonly string[]).includes(i)) throw new FlagError(`${flag}: "${i}" is not one of ${allowed.join(", ")}`);
    return items as T[];
  };
}
