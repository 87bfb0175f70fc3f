/**
 * TSM's temporal shift (Lin et al., ICCV 2019), as in the official `ops/temporal_shift.py`:
 * with fold = C // shiftDiv, channels [0, fold) take frame t+1, channels [fold, 2*fold) take
 * frame t-1, the rest stay; zeros where the source frame falls outside the clip.
 */
import { type Layer, Module, type Ops } from "@blvnet/core";

/** Shift 1/shiftDiv of the channels forward and 1/shiftDiv backward in time, per clip of `frames` rows. */
export function temporalShift<T>(ops: Ops<T>, x: T, frames: number, shiftDiv: number): T {
  if (!Number.isInteger(shiftDiv) || shiftDiv < 2) throw new Error(`temporal shift: shiftDiv must be an integer >= 2, got ${shiftDiv}`);
  const channels = ops.shape(x)[1];
  const fold = Math.floor(channels / shiftDiv);
  if (fold === 0) return x; // nothing to shift (C < shiftDiv), as the official slicing does
  const parts = [ops.timeShift(ops.sliceChannels(x, 0, fold), frames, +1), ops.timeShift(ops.sliceChannels(x, fold, 2 * fold), frames, -1)];
  if (2 * fold < channels) parts.push(ops.sliceChannels(x, 2 * fold, channels));
  return ops.concatChannels(parts);
}

/** The official `TemporalShift(net)` wrapper: shift, then run `net` (state_dict prefix `net.`). */
export class TemporalShift<M extends Layer = Layer> extends Module<{ net: M; frames: number; shiftDiv: number }> {
  net = this.cfg.net;

  constructor(net: M, frames: number, shiftDiv: number) {
    super({ net, frames, shiftDiv });
  }

  forward<T>(ops: Ops<T>, x: T): T {
    return this.net.forward(ops, temporalShift(ops, x, this.cfg.frames, this.cfg.shiftDiv));
  }
}
