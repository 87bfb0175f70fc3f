/**
 * Conv3D as a sum over the kernel's temporal taps of 2-D convolutions over frames:
 *   y[n, to] = sum_a conv2d(x[n, to*st + a*dt - pt], w[a])   (frames outside [0, T) are zeros).
 *
 * Why: tfjs-backend-wasm 4.22's Conv3D kernel is a plain nested loop on one thread
 * (src/cc/conv3d_impl.h, NDHWCConv3DImpl; no XNNPACK, no threadpool), ~1 GMAC/s, while its Conv2D
 * runs XNNPACK's convolution on the pthread pool. tfjs-backend-cpu's Conv3D is a plain JS loop too.
 *
 * Exact (the same products, summed in another order). Each tap convolves only the input frames it
 * reaches (no zero frames are convolved), with the spatial padding given to conv2d (no padded copy);
 * taps that reach only some output frames are zero-padded in time before they are added. A kernel
 * of temporal extent 1 is a single conv2d on the [N*T, H, W, C] view. Only reshapes, rank-3/4 slices,
 * pads, adds and conv2d are used, so tf.grad goes through the conv2d rules of grads.ts.
 */
import * as tf from "@tensorflow/tfjs-core";

type Triple = [number, number, number];

/** Output frames [lo, hi) that temporal tap `a` reaches, and the input frame of output frame lo. */
export function tapRange(
  t: number,
  outT: number,
  a: number,
  st: number,
  pt: number,
  dt: number,
): { lo: number; hi: number; first: number } {
  const off = a * dt - pt; // input frame of output frame 0
  const lo = Math.max(0, Math.ceil(-off / st));
  const hi = Math.min(outT, Math.floor((t - 1 - off) / st) + 1);
  return { lo, hi, first: lo * st + off };
}

/** Frames first, first + st, ... (count of them) of a [N, T, R] tensor, as [N, count, R]. */
function frames(x3: tf.Tensor3D, first: number, count: number, st: number): tf.Tensor3D {
  if (st === 1 || count === 1) return tf.slice(x3, [0, first, 0], [-1, count, -1]);
  const [n, t, r] = x3.shape;
  const span = Math.min(count * st, t - first);
  let window: tf.Tensor3D = tf.slice(x3, [0, first, 0], [-1, span, -1]);
  if (span < count * st)
    window = tf.pad(window, [
      [0, 0],
      [0, count * st - span],
      [0, 0],
    ]);
  // [N, count, st, R]: the frames wanted are phase 0 of each group of st
  const phases = tf.reshape(window, [n, count, st, r]) as tf.Tensor4D;
  return tf.reshape(tf.slice(phases, [0, 0, 0, 0], [-1, -1, 1, -1]), [n, count, r]);
}

/**
 * PyTorch's conv3d (zero padding `pads` on both sides of T, H, W) of an NDHWC input with a DHWIO
 * filter, through conv2d. strides and dilations: as tf.conv3d (one of them 1 along H and W).
 */
export function conv3dByFrames(x: tf.Tensor5D, filter: tf.Tensor5D, strides: Triple, pads: Triple, dilations: Triple): tf.Tensor5D {
  const [n, t, h, w, cin] = x.shape;
  const [kt, kh, kw, , cout] = filter.shape;
  const [st, sh, sw] = strides;
  const [pt, ph, pw] = pads;
  const [dt, dh, dw] = dilations;
  const outT = Math.floor((t + 2 * pt - (kt - 1) * dt - 1) / st) + 1;
  if (outT < 1) throw new Error(`conv3d: input of ${t} frames is too short for the kernel (padding ${pt}, dilation ${dt})`);
  const pad2d: number | [[number, number], [number, number], [number, number], [number, number]] =
    ph === pw
      ? ph
      : [
          [0, 0],
          [ph, ph],
          [pw, pw],
          [0, 0],
        ];
  const spatial = (frames4: tf.Tensor4D, tap: tf.Tensor4D) => tf.conv2d(frames4, tap, [sh, sw], pad2d, "NHWC", [dh, dw]);
  const tapOf = (a: number) =>
    kt === 1
      ? (tf.reshape(filter, [kh, kw, cin, cout]) as tf.Tensor4D)
      : (tf.reshape(tf.slice(filter, [a, 0, 0, 0, 0], [1, -1, -1, -1, -1]), [kh, kw, cin, cout]) as tf.Tensor4D);

  if (kt === 1 && st === 1 && pt === 0) {
    const y = spatial(tf.reshape(x, [n * t, h, w, cin]) as tf.Tensor4D, tapOf(0));
    return tf.reshape(y, [n, t, y.shape[1], y.shape[2], cout]);
  }
  const x3 = tf.reshape(x, [n, t, h * w * cin]) as tf.Tensor3D;
  let sum: tf.Tensor3D | null = null;
  let oh = 0;
  let ow = 0;
  // Full-range taps first, so the running sum starts without a temporal pad.
  const taps = Array.from({ length: kt }, (_, a) => ({ a, ...tapRange(t, outT, a, st, pt, dt) }))
    .filter((r) => r.hi > r.lo)
    .sort((p, q) => q.hi - q.lo - (p.hi - p.lo));
  for (const { a, lo, hi, first } of taps) {
    const count = hi - lo;
    const input = tf.reshape(frames(x3, first, count, st), [n * count, h, w, cin]) as tf.Tensor4D;
    const y = spatial(input, tapOf(a));
    [, oh, ow] = y.shape;
    let part = tf.reshape(y, [n, count, oh * ow * cout]) as tf.Tensor3D;
    if (count < outT)
      part = tf.pad(part, [
        [0, 0],
        [lo, outT - hi],
        [0, 0],
      ]);
    sum = sum ? tf.add(sum, part) : part;
  }
  if (!sum) {
    // Every tap reads only padding: the output is zeros.
    const out = (size: number, k: number, p: number, s: number, d: number) => Math.floor((size + 2 * p - (k - 1) * d - 1) / s) + 1;
    return tf.zeros([n, outT, out(h, kh, ph, sh, dh), out(w, kw, pw, sw, dw), cout]);
  }
  return tf.reshape(sum, [n, outT, oh, ow, cout]);
}
