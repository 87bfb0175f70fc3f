/**
 * Dropout masks for the training graph, drawn with the same generator and order as TfOps
 * (mulberry32 from the seed, one uniform per element, masks in forward order), so both engines
 * drop the same units for the same seed. Elements are in logical order, which equals TfOps'
 * physical order for the [N, features] tensors the models drop out.
 */
export class MaskGenerator {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** 0 or 1/(1-p) per element (inverted dropout). */
  mask(size: number, p: number): Float32Array {
    const keep = new Float32Array(size);
    const scale = 1 / (1 - p);
    for (let i = 0; i < size; i++) keep[i] = this.next() >= p ? scale : 0;
    return keep;
  }

  private next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}
