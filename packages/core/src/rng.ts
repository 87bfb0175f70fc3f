/**
 * A small seeded PRNG (mulberry32) plus a seed mixer (splitmix32 finaliser), so every random
 * choice in the data pipeline is reproducible from one integer seed. Per-sample streams are derived
 * from (seed, epoch, position) rather than drawn from one shared stream, so results do not depend on
 * the order in which concurrent decodes finish.
 */

/** Mix an integer into a well-spread 32-bit value (the splitmix32 finaliser). */
function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad);
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97);
  return (x ^ (x >>> 15)) >>> 0;
}

/** A 32-bit seed derived from a base seed and any number of integer keys (order matters). */
export function deriveSeed(seed: number, ...keys: number[]): number {
  let h = mix32(seed >>> 0);
  for (const k of keys) h = mix32((h ^ mix32(k >>> 0)) + 0x632be5ab);
  return h;
}

export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A new independent stream for the given keys, leaving this one untouched. */
  fork(...keys: number[]): Rng {
    return new Rng(deriveSeed(this.state, ...keys));
  }

  /** Next raw 32-bit unsigned integer (mulberry32). */
  nextU32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n) (numpy's `randint(n)`). */
  int(n: number): number {
    if (!(n >= 1)) throw new RangeError(`Rng.int needs n >= 1, got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** Uniform float in [a, b). */
  uniform(a: number, b: number): number {
    return a + (b - a) * this.next();
  }

  /** One element chosen uniformly (Python's `random.choice`). */
  choice<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** True with probability p. */
  bool(p = 0.5): boolean {
    return this.next() < p;
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp;
    }
    return items;
  }
}

/**
 * An inverted-dropout mask: 0 or 1/(1-p) per element, one uniform each, in order. Every engine
 * draws its masks with this from the same seed, so they drop the same units.
 */
export function dropoutMask(rng: Rng, size: number, p: number): Float32Array {
  const keep = new Float32Array(size);
  const scale = 1 / (1 - p);
  for (let i = 0; i < size; i++) keep[i] = rng.next() >= p ? scale : 0;
  return keep;
}
