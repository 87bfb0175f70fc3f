// Its own module: timing scripts import it without loading tfjs (measure.ts does; ~90 MiB of RSS).

/**
 * Idle time before each engine's turn when two engines alternate: onnxruntime's intra-op workers spin for
 * ~30 ms after a run (26-32 ms of CPU after each TSM-R50 run on 2 threads) and PyTorch's OpenMP ones
 * likewise, so on a small machine the next engine's first run would share a core with that spin.
 */
export const SETTLE_MS = 100;
export const settle = (ms = SETTLE_MS) => new Promise<void>((r) => setTimeout(r, ms));
