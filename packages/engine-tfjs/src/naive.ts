/**
 * Naive reference implementations of the ops, in PyTorch's logical layouts (NCHW / NCTHW),
 * written as plain loops straight from the definitions. Slow on purpose; tests only.
 */

export interface Arr {
  data: Float32Array;
  shape: number[];
}

export function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export interface NaiveConvOpts {
  stride?: [number, number];
  padding?: [number, number];
  dilation?: [number, number];
  groups?: number;
}

/** Visit every (output, input, weight) index triple of a grouped 2-D convolution. */
function forEachConvTerm(
  x: number[],
  w: number[],
  o: NaiveConvOpts,
  visit: (outIdx: number, inIdx: number, wIdx: number) => void,
): number[] {
  const [n, cin, h, wd] = x;
  const [cout, cpg, kh, kw] = w;
  const [sh, sw] = o.stride ?? [1, 1];
  const [ph, pw] = o.padding ?? [0, 0];
  const [dh, dw] = o.dilation ?? [1, 1];
  const groups = o.groups ?? 1;
  const oh = Math.floor((h + 2 * ph - dh * (kh - 1) - 1) / sh) + 1;
  const ow = Math.floor((wd + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
  const opg = cout / groups;
  for (let b = 0; b < n; b++)
    for (let co = 0; co < cout; co++) {
      const g = Math.floor(co / opg);
      for (let y = 0; y < oh; y++)
        for (let xx = 0; xx < ow; xx++)
          for (let ci = 0; ci < cpg; ci++)
            for (let i = 0; i < kh; i++)
              for (let j = 0; j < kw; j++) {
                const iy = y * sh - ph + i * dh;
                const ix = xx * sw - pw + j * dw;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                const c = g * cpg + ci;
                visit(((b * cout + co) * oh + y) * ow + xx, ((b * cin + c) * h + iy) * wd + ix, ((co * cpg + ci) * kh + i) * kw + j);
              }
    }
  return [n, cout, oh, ow];
}

export function conv2d(x: Arr, w: Arr, o: NaiveConvOpts = {}): Arr {
  const shape = forEachConvTerm(x.shape, w.shape, o, () => {});
  const acc = new Float64Array(numel(shape));
  forEachConvTerm(x.shape, w.shape, o, (oi, ii, wi) => (acc[oi] += x.data[ii] * w.data[wi]));
  return { data: Float32Array.from(acc), shape };
}

/** Gradients of sum(conv2d(x, w) * dy) with respect to x and w. */
export function conv2dGrads(x: Arr, w: Arr, dy: Arr, o: NaiveConvOpts = {}): { dx: Arr; dw: Arr } {
  const dx = new Float64Array(x.data.length);
  const dw = new Float64Array(w.data.length);
  forEachConvTerm(x.shape, w.shape, o, (oi, ii, wi) => {
    dx[ii] += dy.data[oi] * w.data[wi];
    dw[wi] += dy.data[oi] * x.data[ii];
  });
  return { dx: { data: Float32Array.from(dx), shape: x.shape }, dw: { data: Float32Array.from(dw), shape: w.shape } };
}

/** Visit every (output, input, weight) index triple of a 3-D convolution (groups 1). */
function forEachConv3dTerm(
  x: number[],
  w: number[],
  stride: number[],
  padding: number[],
  dilation: number[],
  visit: (o: number, i: number, k: number) => void,
): number[] {
  const [n, cin, t, h, wd] = x;
  const [cout, , kt, kh, kw] = w;
  const [ot, oh, ow] = [t, h, wd].map((s, a) => Math.floor((s + 2 * padding[a] - dilation[a] * ([kt, kh, kw][a] - 1) - 1) / stride[a]) + 1);
  let o = 0;
  for (let b = 0; b < n; b++)
    for (let co = 0; co < cout; co++)
      for (let z = 0; z < ot; z++)
        for (let r = 0; r < oh; r++)
          for (let c = 0; c < ow; c++, o++)
            for (let ci = 0; ci < cin; ci++)
              for (let a = 0; a < kt; a++)
                for (let i = 0; i < kh; i++)
                  for (let j = 0; j < kw; j++) {
                    const it = z * stride[0] - padding[0] + a * dilation[0];
                    const iy = r * stride[1] - padding[1] + i * dilation[1];
                    const ix = c * stride[2] - padding[2] + j * dilation[2];
                    if (it < 0 || it >= t || iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                    visit(o, (((b * cin + ci) * t + it) * h + iy) * wd + ix, (((co * cin + ci) * kt + a) * kh + i) * kw + j);
                  }
  return [n, cout, ot, oh, ow];
}

/** Conv3d, groups 1: x [N, C, T, H, W], w [O, C, kt, kh, kw]. */
export function conv3d(x: Arr, w: Arr, stride: number[], padding: number[], dilation = [1, 1, 1]): Arr {
  const shape = forEachConv3dTerm(x.shape, w.shape, stride, padding, dilation, () => {});
  const acc = new Float64Array(numel(shape));
  forEachConv3dTerm(x.shape, w.shape, stride, padding, dilation, (o, i, k) => (acc[o] += x.data[i] * w.data[k]));
  return { data: Float32Array.from(acc), shape };
}

/** Gradients of sum(conv3d(x, w) * dy) with respect to x and w. */
export function conv3dGrads(x: Arr, w: Arr, dy: Arr, stride: number[], padding: number[], dilation = [1, 1, 1]): { dx: Arr; dw: Arr } {
  const dx = new Float64Array(x.data.length);
  const dw = new Float64Array(w.data.length);
  forEachConv3dTerm(x.shape, w.shape, stride, padding, dilation, (o, i, k) => {
    dx[i] += dy.data[o] * w.data[k];
    dw[k] += dy.data[o] * x.data[i];
  });
  return { dx: { data: Float32Array.from(dx), shape: x.shape }, dw: { data: Float32Array.from(dw), shape: w.shape } };
}

/**
 * Pooling over the trailing `k.length` dims of an [N, C, ...spatial] array (PyTorch semantics:
 * max ignores padding; avg divides by the window size when countIncludePad, else by the in-bounds count).
 */
export function pool(x: Arr, mode: "max" | "avg", k: number[], s: number[], p: number[], countIncludePad = true): Arr {
  const d = k.length;
  const lead = x.shape.slice(0, x.shape.length - d);
  const sp = x.shape.slice(x.shape.length - d);
  const out = sp.map((n, a) => Math.floor((n + 2 * p[a] - k[a]) / s[a]) + 1);
  const planes = numel(lead);
  const inPlane = numel(sp);
  const y = new Float32Array(planes * numel(out));
  let idx = 0;
  const outPos = new Array<number>(d).fill(0);
  for (let pl = 0; pl < planes; pl++) {
    for (let o = 0; o < numel(out); o++) {
      let rem = o;
      for (let a = d - 1; a >= 0; a--) {
        outPos[a] = rem % out[a];
        rem = Math.floor(rem / out[a]);
      }
      let best = -Infinity;
      let sum = 0;
      let count = 0;
      for (let t = 0; t < numel(k); t++) {
        let r = t;
        let off = 0;
        let inside = true;
        for (let a = d - 1, stride = 1; a >= 0; a--) {
          const ka = r % k[a];
          r = Math.floor(r / k[a]);
          const pos = outPos[a] * s[a] - p[a] + ka;
          if (pos < 0 || pos >= sp[a]) inside = false;
          off += pos * stride;
          stride *= sp[a];
        }
        if (!inside) continue;
        const v = x.data[pl * inPlane + off];
        best = Math.max(best, v);
        sum += v;
        count++;
      }
      y[idx++] = mode === "max" ? best : sum / (countIncludePad ? numel(k) : count);
    }
  }
  return { data: y, shape: [...lead, ...out] };
}

/** PyTorch nearest: src = floor(dst * float32(in / out)). */
export function resizeNearest(x: Arr, oh: number, ow: number): Arr {
  const [n, c, h, w] = x.shape;
  const sh = Math.fround(h / oh);
  const sw = Math.fround(w / ow);
  const y = new Float32Array(n * c * oh * ow);
  let k = 0;
  for (let p = 0; p < n * c; p++)
    for (let r = 0; r < oh; r++)
      for (let q = 0; q < ow; q++) {
        const sr = Math.min(Math.floor(Math.fround(r * sh)), h - 1);
        const sq = Math.min(Math.floor(Math.fround(q * sw)), w - 1);
        y[k++] = x.data[(p * h + sr) * w + sq];
      }
  return { data: y, shape: [n, c, oh, ow] };
}

/** Rows of dim 0 in the given order. */
export function gatherRows(x: Arr, rows: number[]): Arr {
  const inner = numel(x.shape.slice(1));
  const y = new Float32Array(rows.length * inner);
  rows.forEach((r, i) => y.set(x.data.subarray(r * inner, (r + 1) * inner), i * inner));
  return { data: y, shape: [rows.length, ...x.shape.slice(1)] };
}

/** out[n*T + t] = x[n*T + t + offset], zero outside the clip. */
export function timeShift(x: Arr, frames: number, offset: number): Arr {
  const inner = numel(x.shape.slice(1));
  const y = new Float32Array(x.data.length);
  for (let row = 0; row < x.shape[0]; row++) {
    const t = row % frames;
    const src = t + offset;
    if (src < 0 || src >= frames) continue;
    y.set(x.data.subarray((row + offset) * inner, (row + offset + 1) * inner), row * inner);
  }
  return { data: y, shape: [...x.shape] };
}

/** [N, T*C, H, W] -> [N*T, C, H, W]. */
export function clipsToFrames(x: Arr, frames: number): Arr {
  const [n, tc, h, w] = x.shape;
  // channel t*C + c of clip n is channel c of frame row n*T + t: the memory order is unchanged
  return { data: Float32Array.from(x.data), shape: [n * frames, tc / frames, h, w] };
}

/** [N*S, K] -> [N, K]: mean of each run of S rows. */
export function segmentMean(x: Arr, segments: number): Arr {
  const [rows, k] = x.shape;
  const y = new Float32Array((rows / segments) * k);
  for (let r = 0; r < rows; r++) for (let j = 0; j < k; j++) y[Math.floor(r / segments) * k + j] += x.data[r * k + j] / segments;
  return { data: y, shape: [rows / segments, k] };
}

/** Per-channel statistics over every dim but 1: mean, biased and unbiased variance. */
export function channelStats(x: Arr): { mean: Float64Array; biased: Float64Array; unbiased: Float64Array } {
  const c = x.shape[1];
  const inner = numel(x.shape.slice(2));
  const n = x.shape[0] * inner;
  const mean = new Float64Array(c);
  const sq = new Float64Array(c);
  for (let b = 0; b < x.shape[0]; b++)
    for (let ch = 0; ch < c; ch++) for (let i = 0; i < inner; i++) mean[ch] += x.data[(b * c + ch) * inner + i] / n;
  for (let b = 0; b < x.shape[0]; b++)
    for (let ch = 0; ch < c; ch++) for (let i = 0; i < inner; i++) sq[ch] += (x.data[(b * c + ch) * inner + i] - mean[ch]) ** 2;
  return { mean, biased: sq.map((v) => v / n), unbiased: sq.map((v) => v / Math.max(1, n - 1)) };
}

/** y = (x - mean) / sqrt(var + eps) * gamma + beta, per channel (dim 1). */
export function normalize(
  x: Arr,
  mean: ArrayLike<number>,
  variance: ArrayLike<number>,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  eps: number,
): Arr {
  const c = x.shape[1];
  const inner = numel(x.shape.slice(2));
  const y = new Float32Array(x.data.length);
  for (let b = 0; b < x.shape[0]; b++)
    for (let ch = 0; ch < c; ch++)
      for (let i = 0; i < inner; i++) {
        const k = (b * c + ch) * inner + i;
        y[k] = ((x.data[k] - mean[ch]) / Math.sqrt(variance[ch] + eps)) * gamma[ch] + beta[ch];
      }
  return { data: y, shape: [...x.shape] };
}

/** Deterministic test values in [-1, 1). */
export function seeded(shape: number[], seed: number): Arr {
  let s = seed >>> 0 || 1;
  const data = new Float32Array(numel(shape));
  for (let i = 0; i < data.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    data[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return { data, shape };
}

/** max |a - b| / max(1, max |b|): the error relative to the reference's scale. */
export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let scale = 1;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  let err = 0;
  for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i] - b[i]));
  return err / scale;
}
