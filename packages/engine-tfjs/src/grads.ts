/**
 * Exact gradient rules for Conv2D, DepthwiseConv2dNative, Conv3D, MaxPool, BatchMatMul and GatherV2,
 * written with fast forward kernels.
 *
 * Why (tfjs 4.22): the wasm backend has no Conv2DBackpropFilter,
 * DepthwiseConv2dNativeBackprop{Input,Filter} or UnsortedSegmentSum kernels (training fails there);
 * its Conv3DBackpropInputV2 is wrong (and Conv3DBackpropFilterV2 when strided); its MaxPoolGrad
 * misroutes windows without a positive value; its Conv2DBackpropInput is ~12x a forward conv and its
 * transposed matMuls 10-20x a plain one. The cpu backend's Conv2DBackpropFilter is ~80x its forward
 * conv, and tfjs' conv gradients reject dilation > 1. The rules here:
 *   - conv weight grad: one matMul per kernel tap (taps are plain slices of the stride phases);
 *   - conv input grad: a stride-1 forward conv of the zero-upsampled output gradient with the
 *     flipped (for conv also in/out-swapped) filter, cropped to the input;
 *   - conv3d: the 2-D rules per temporal tap;
 *   - max pool: route to the first maximum of each window (PyTorch's choice), elementwise;
 *   - matMul: explicit transposes; gather: a matMul with the 0/1 scatter matrix of the indices.
 * `tf.registerGradient` is global, so these are exact on every backend; they are used on wasm and
 * cpu, while backends with native backprop kernels (tensorflow, webgl, webgpu) keep the stock rules
 * except where those cannot handle the case (dilation > 1). Every rule is tested against a naive
 * loop implementation on both backends (grads.test.ts).
 */
import * as tf from "@tensorflow/tfjs-core";
// Registers the stock gradient configs first (tfjs-core's CommonJS build alone has none); ours replace six.
import "@tensorflow/tfjs";

type Tensor4D = tf.Tensor4D;
type GradFunc = (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => Record<string, () => tf.Tensor>;

/** Backends whose stock backprop kernels are missing or slow: they always use the rules in this file. */
const REPLACED_ON = new Set(["wasm", "cpu"]);

/** Largest scatter matrix (indices x axis size) the gather rule builds before using the stock rule. */
const MAX_SCATTER_ELEMENTS = 1 << 22;

interface ConvGeometry {
  strides: [number, number];
  dilations: [number, number];
  /** Padding before/after along H and W, and the output size (as the forward op computed it). */
  top: number;
  left: number;
  outH: number;
  outW: number;
}

function convGeometry(xShape: number[], filterShape: number[], attrs: tf.NamedAttrMap, depthwise: boolean): ConvGeometry {
  const a = attrs as unknown as {
    strides: number | [number, number];
    pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
    dilations?: number | [number, number];
    dimRoundingMode?: "floor" | "round" | "ceil";
  };
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
    depthwise,
    "channelsLast",
  );
  return {
    strides: [info.strideHeight, info.strideWidth],
    dilations: [info.dilationHeight, info.dilationWidth],
    top: info.padInfo.top,
    left: info.padInfo.left,
    outH: info.outHeight,
    outW: info.outWidth,
  };
}

function tuple2(v: number | number[] | undefined): [number, number] {
  if (v === undefined) return [1, 1];
  return typeof v === "number" ? [v, v] : [v[0], v[1]];
}

/**
 * The strided taps of a conv as plain slices: x split into its stride phases x[:, a::sh, b::sw, :],
 * with rank-4 reshapes and transposes only (strided slices and rank-6 transposes are slow on wasm).
 * Layout: NHWC [P*N, Hq, Wq, C] or channels first [C, P*N, Hq, Wq] (ready for a matMul without
 * transposes), phase p = b*sh + a of P = sh*sw.
 */
interface Phases {
  t: Tensor4D;
  channelsFirst: boolean;
  n: number;
}

function splitPhases(x: Tensor4D, g: ConvGeometry, channelsFirst: boolean): Phases {
  const [sh, sw] = g.strides;
  const [n, h, w, c] = x.shape;
  let t: Tensor4D = x;
  if (sh > 1 || sw > 1) {
    const hq = Math.ceil(h / sh);
    const wq = Math.ceil(w / sw);
    const full =
      hq * sh !== h || wq * sw !== w
        ? tf.pad(x, [
            [0, 0],
            [0, hq * sh - h],
            [0, wq * sw - w],
            [0, 0],
          ])
        : x;
    // rows: [N, Hq, sh, W*C] -> [sh, N, Hq, W*C]; columns: [sh*N*Hq, Wq, sw, C] -> [sw, sh*N*Hq, Wq, C]
    const rows = tf.transpose(tf.reshape(full, [n, hq, sh, wq * sw * c]), [2, 0, 1, 3]);
    const cols = tf.transpose(tf.reshape(rows, [sh * n * hq, wq, sw, c]), [2, 0, 1, 3]);
    t = tf.reshape(cols, [sw * sh * n, hq, wq, c]);
  }
  return { t: channelsFirst ? tf.transpose(t, [3, 0, 1, 2]) : t, channelsFirst, n };
}

/**
 * The input of tap (i, j): x_padded[:, i*dh + ho*sh, j*dw + wo*sw, :] for every output position,
 * as [N, outH, outW, C] (or [C, N, outH, outW] for channels-first phases).
 */
function tapInput(p: Phases, g: ConvGeometry, i: number, j: number): Tensor4D {
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  const phase = ((j * dw) % sw) * sh + ((i * dh) % sh);
  const r0 = Math.floor((i * dh) / sh);
  const c0 = Math.floor((j * dw) / sw);
  return p.channelsFirst
    ? tf.slice(p.t, [0, phase * p.n, r0, c0], [-1, p.n, g.outH, g.outW])
    : tf.slice(p.t, [phase * p.n, r0, c0, 0], [p.n, g.outH, g.outW, -1]);
}

/** filter[kh-1-i, kw-1-j] for all taps: one small matMul with the exchange matrix (tf.reverse is slow on wasm). */
function flipTaps(filter: Tensor4D): Tensor4D {
  const [kh, kw] = filter.shape;
  const k = kh * kw;
  if (k === 1) return filter;
  const exchange = new Float32Array(k * k);
  for (let t = 0; t < k; t++) exchange[t * k + (k - 1 - t)] = 1;
  return tf.reshape(tf.matMul(tf.tensor2d(exchange, [k, k]), tf.reshape(filter, [k, -1])), filter.shape);
}

/** Pad x so that every tap window of every output position lies inside it. */
function padForTaps(x: Tensor4D, g: ConvGeometry, kh: number, kw: number): Tensor4D {
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  const needH = (g.outH - 1) * sh + (kh - 1) * dh + 1;
  const needW = (g.outW - 1) * sw + (kw - 1) * dw + 1;
  const bottom = Math.max(0, needH - g.top - x.shape[1]);
  const right = Math.max(0, needW - g.left - x.shape[2]);
  if (!g.top && !g.left && !bottom && !right) return x;
  return tf.pad(x, [
    [0, 0],
    [g.top, bottom],
    [g.left, right],
    [0, 0],
  ]);
}

/**
 * Insert (stride - 1) zeros after every row/column of dy, then pad/crop so that a stride-1 "valid"
 * conv with a kernel of extent (k-1)*d+1 yields exactly the unpadded input rows/columns.
 */
function upsampleForInputGrad(dy: Tensor4D, g: ConvGeometry, inH: number, inW: number, kh: number, kw: number): Tensor4D {
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  const [n, oh, ow, c] = dy.shape;
  let u: Tensor4D = dy;
  if (sh > 1 || sw > 1) {
    const spread = tf.pad(tf.reshape(dy, [n, oh, 1, ow, 1, c]), [
      [0, 0],
      [0, 0],
      [0, sh - 1],
      [0, 0],
      [0, sw - 1],
      [0, 0],
    ]);
    u = tf.reshape(spread, [n, oh * sh, ow * sw, c]);
  }
  // u[q] holds the gradient of padded-input position q (for q a multiple of the stride).
  const before = [(kh - 1) * dh - g.top, (kw - 1) * dw - g.left];
  const after = [inH + g.top - u.shape[1], inW + g.left - u.shape[2]];
  return padOrCrop(u, before, after);
}

/** Pad (positive) or crop (negative) along H and W. */
function padOrCrop(x: Tensor4D, before: number[], after: number[]): Tensor4D {
  const cropB = before.map((b) => Math.max(0, -b));
  const cropA = after.map((a) => Math.max(0, -a));
  let y = x;
  if (cropB.some(Boolean) || cropA.some(Boolean)) {
    y = tf.slice(y, [0, cropB[0], cropB[1], 0], [-1, y.shape[1] - cropB[0] - cropA[0], y.shape[2] - cropB[1] - cropA[1], -1]);
  }
  const padB = before.map((b) => Math.max(0, b));
  const padA = after.map((a) => Math.max(0, a));
  if (padB.some(Boolean) || padA.some(Boolean)) {
    y = tf.pad(y, [
      [0, 0],
      [padB[0], padA[0]],
      [padB[1], padA[1]],
      [0, 0],
    ]);
  }
  return y;
}

// ---- Conv2D ------------------------------------------------------------------------------------

/**
 * How the conv2d filter gradient is computed (kxk kernels; 1x1 always uses one matMul):
 *  - "conv": ONE conv2d with batch and channels swapped (see conv2dFilterGradByConv): a threaded
 *    XNNPACK kernel on wasm, plus two transposes;
 *  - "taps": one matMul per kernel tap, on tap inputs sliced in JS (single-threaded copies of the
 *    whole input per tap on wasm).
 */
export type FilterGradLowering = "conv" | "taps";
let filterGradLowering: FilterGradLowering = "conv";

/** Select the conv2d filter-gradient lowering (process-wide; for A/B benchmarks). */
export function useFilterGradLowering(l: FilterGradLowering): void {
  filterGradLowering = l;
}

/** dL/dfilter of an NHWC conv. */
export function conv2dFilterGrad(x: Tensor4D, dy: Tensor4D, filterShape: number[], g: ConvGeometry): Tensor4D {
  const [kh, kw] = filterShape;
  const strided = g.strides[0] > 1 || g.strides[1] > 1;
  const dilated = g.dilations[0] > 1 || g.dilations[1] > 1;
  // tfjs' conv2d takes strides or dilations > 1, not both; the swapped conv exchanges the two.
  if (filterGradLowering === "conv" && kh * kw > 1 && !(strided && dilated)) return conv2dFilterGradByConv(x, dy, filterShape, g);
  return conv2dFilterGradByTaps(x, dy, filterShape, g);
}

/**
 * dL/dfilter as one conv2d: dW[i, j, ci, co] = sum_{n, p, q} x_pad[n, i*dh + p*sh, j*dw + q*sw, ci] dy[n, p, q, co]
 * is a "valid" conv2d of x^T ([Cin, H, W, N]: channels as the batch, the batch as channels) with
 * dy^T ([outH, outW, N, Cout]) as the filter, dilated by the stride, strided by the dilation;
 * its output [Cin, kh, kw, Cout] is transposed back. x is padded (or cropped) to exactly the rows
 * and columns the taps read.
 */
export function conv2dFilterGradByConv(x: Tensor4D, dy: Tensor4D, filterShape: number[], g: ConvGeometry): Tensor4D {
  const [kh, kw] = filterShape;
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilations;
  const needH = (g.outH - 1) * sh + (kh - 1) * dh + 1;
  const needW = (g.outW - 1) * sw + (kw - 1) * dw + 1;
  const xp = padOrCrop(x, [g.top, g.left], [needH - g.top - x.shape[1], needW - g.left - x.shape[2]]);
  const xt = tf.transpose(xp, [3, 1, 2, 0]) as Tensor4D;
  const dyt = tf.transpose(dy, [1, 2, 0, 3]) as Tensor4D;
  const out = tf.conv2d(xt, dyt, [dh, dw], "valid", "NHWC", [sh, sw]);
  return tf.transpose(out, [1, 2, 0, 3]);
}

/** dL/dfilter of an NHWC conv: for each tap, X_tap^T @ dy, as one matMul on channels-first taps. */
export function conv2dFilterGradByTaps(x: Tensor4D, dy: Tensor4D, filterShape: number[], g: ConvGeometry): Tensor4D {
  const [kh, kw, cin, cout] = filterShape;
  const phases = splitPhases(padForTaps(x, g, kh, kw), g, true);
  const dy2d = tf.reshape(dy, [-1, cout]);
  const taps: tf.Tensor[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) taps.push(tf.matMul(tf.reshape(tapInput(phases, g, i, j), [cin, -1]), dy2d));
  }
  return tf.reshape(taps.length === 1 ? taps[0] : tf.stack(taps), [kh, kw, cin, cout]);
}

/** dL/dx of an NHWC conv: a forward conv of the upsampled dy with the flipped, in/out-swapped filter. */
export function conv2dInputGrad(xShape: number[], dy: Tensor4D, filter: Tensor4D, g: ConvGeometry): Tensor4D {
  const [, inH, inW, cin] = xShape;
  const [kh, kw, , cout] = filter.shape;
  if (kh === 1 && kw === 1) {
    // A 1x1 conv commutes with the zero insertion: multiply first, on the small tensor.
    const dx = matMulExplicit(tf.reshape(dy, [-1, cout]), tf.reshape(filter, [cin, cout]), false, true);
    return upsampleForInputGrad(tf.reshape(dx, [dy.shape[0], dy.shape[1], dy.shape[2], cin]), g, inH, inW, 1, 1);
  }
  const u = upsampleForInputGrad(dy, g, inH, inW, kh, kw);
  const flipped = tf.transpose(flipTaps(filter), [0, 1, 3, 2]) as Tensor4D; // [kh, kw, Cout, Cin]
  return tf.conv2d(u, flipped, 1, "valid", "NHWC", g.dilations);
}

// ---- DepthwiseConv2dNative -----------------------------------------------------------------------

/** dL/dfilter of a depthwise conv ([kh, kw, C, mult]): per tap, sum over N, H, W of x_tap * dy. */
export function depthwiseFilterGrad(x: Tensor4D, dy: Tensor4D, filterShape: number[], g: ConvGeometry): Tensor4D {
  const [kh, kw, c, mult] = filterShape;
  const phases = splitPhases(padForTaps(x, g, kh, kw), g, false);
  const dy5 = tf.reshape(dy, [dy.shape[0], dy.shape[1], dy.shape[2], c, mult]);
  const taps: tf.Tensor[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const t = tapInput(phases, g, i, j);
      taps.push(mult === 1 ? tf.sum(tf.mul(t, dy), [0, 1, 2]) : tf.sum(tf.mul(tf.expandDims(t, 4), dy5), [0, 1, 2]));
    }
  }
  return tf.reshape(tf.stack(taps), [kh, kw, c, mult]);
}

/** dL/dx of a depthwise conv: a depthwise forward conv of the upsampled dy with the flipped filter. */
export function depthwiseInputGrad(xShape: number[], dy: Tensor4D, filter: Tensor4D, g: ConvGeometry): Tensor4D {
  const [, inH, inW, c] = xShape;
  const [kh, kw, , mult] = filter.shape;
  const flipped = flipTaps(filter);
  if (mult === 1) {
    return tf.depthwiseConv2d(upsampleForInputGrad(dy, g, inH, inW, kh, kw), flipped, 1, "valid", "NHWC", g.dilations);
  }
  // Channel multiplier m: output channel c*m + q comes from input channel c through filter[..., c, q].
  const dy5 = tf.reshape(dy, [dy.shape[0], dy.shape[1], dy.shape[2], c, mult]);
  let dx: Tensor4D | null = null;
  for (let q = 0; q < mult; q++) {
    const dyq = tf.reshape(tf.slice(dy5, [0, 0, 0, 0, q], [-1, -1, -1, -1, 1]), [dy.shape[0], dy.shape[1], dy.shape[2], c]);
    const fq = tf.slice(flipped, [0, 0, 0, q], [-1, -1, -1, 1]);
    const part = tf.depthwiseConv2d(upsampleForInputGrad(dyq as Tensor4D, g, inH, inW, kh, kw), fq, 1, "valid", "NHWC", g.dilations);
    dx = dx ? tf.add(dx, part) : part;
  }
  return dx!;
}

// ---- Conv3D ----------------------------------------------------------------------------------------
// Decomposed over the temporal taps into the 2-D rules above (fast 2-D kernels; tfjs-backend-wasm
// 4.22's Conv3DBackpropInputV2 is wrong, and its Conv3DBackpropFilterV2 too when strided).

interface Conv3dGeometry {
  /** Temporal stride, dilation, front padding and output length. */
  st: number;
  dt: number;
  front: number;
  outT: number;
  /** The spatial part, as a 2-D conv over frames. */
  spatial: ConvGeometry;
}

function conv3dGeometry(xShape: number[], filterShape: number[], attrs: tf.NamedAttrMap): Conv3dGeometry {
  const a = attrs as unknown as {
    strides: number | [number, number, number];
    pad: "valid" | "same";
    dilations?: number | [number, number, number];
  };
  const info = tf.backend_util.computeConv3DInfo(
    xShape as [number, number, number, number, number],
    filterShape as [number, number, number, number, number],
    a.strides,
    a.dilations ?? 1,
    a.pad,
    false,
    "channelsLast",
  );
  return {
    st: info.strideDepth,
    dt: info.dilationDepth,
    front: info.padInfo.front,
    outT: info.outDepth,
    spatial: {
      strides: [info.strideHeight, info.strideWidth],
      dilations: [info.dilationHeight, info.dilationWidth],
      top: info.padInfo.top,
      left: info.padInfo.left,
      outH: info.outHeight,
      outW: info.outWidth,
    },
  };
}

/** filter[a] of a [kt, kh, kw, Cin, Cout] filter. */
function temporalTap(filter: tf.Tensor5D, a: number): Tensor4D {
  const [, kh, kw, cin, cout] = filter.shape;
  return tf.reshape(tf.slice(filter, [a, 0, 0, 0, 0], [1, -1, -1, -1, -1]), [kh, kw, cin, cout]);
}

/** Frames a*dt + t*st (t < outT) of a [N, T, rest] tensor already padded in time: [N, outT, rest]. */
function temporalFrames(x3: tf.Tensor3D, g: Conv3dGeometry, a: number): tf.Tensor3D {
  const [n, t, rest] = x3.shape;
  if (g.st === 1) return tf.slice(x3, [0, a * g.dt, 0], [-1, g.outT, -1]);
  const tq = Math.ceil(t / g.st);
  const full =
    tq * g.st === t
      ? x3
      : tf.pad(x3, [
          [0, 0],
          [0, tq * g.st - t],
          [0, 0],
        ]);
  const phases = tf.reshape(full, [n, tq, g.st, rest]);
  const start = Math.floor((a * g.dt) / g.st);
  return tf.reshape(tf.slice(phases, [0, start, (a * g.dt) % g.st, 0], [-1, g.outT, 1, -1]), [n, g.outT, rest]);
}

export function conv3dFilterGrad(x: tf.Tensor5D, dy: tf.Tensor5D, filterShape: number[], g: Conv3dGeometry): tf.Tensor5D {
  const [kt, kh, kw, cin, cout] = filterShape;
  const [n, t, h, w] = x.shape;
  const needT = (g.outT - 1) * g.st + (kt - 1) * g.dt + 1;
  const back = Math.max(0, needT - g.front - t);
  let x3 = tf.reshape(x, [n, t, h * w * cin]) as tf.Tensor3D;
  if (g.front || back)
    x3 = tf.pad(x3, [
      [0, 0],
      [g.front, back],
      [0, 0],
    ]);
  const dyFrames = tf.reshape(dy, [n * g.outT, dy.shape[2], dy.shape[3], cout]) as Tensor4D;
  const taps: tf.Tensor[] = [];
  for (let a = 0; a < kt; a++) {
    const frames = tf.reshape(temporalFrames(x3, g, a), [n * g.outT, h, w, cin]) as Tensor4D;
    taps.push(conv2dFilterGrad(frames, dyFrames, [kh, kw, cin, cout], g.spatial));
  }
  return tf.reshape(kt === 1 ? taps[0] : tf.stack(taps), filterShape as [number, number, number, number, number]);
}

export function conv3dInputGrad(xShape: number[], dy: tf.Tensor5D, filter: tf.Tensor5D, g: Conv3dGeometry): tf.Tensor5D {
  const [n, t, h, w, cin] = xShape;
  const kt = filter.shape[0];
  const dyFrames = tf.reshape(dy, [n * g.outT, dy.shape[2], dy.shape[3], dy.shape[4]]) as Tensor4D;
  const parts: tf.Tensor[] = [];
  for (let a = 0; a < kt; a++) {
    // spatial input gradient of every output frame through filter[a] ...
    const z = tf.reshape(conv2dInputGrad([n * g.outT, h, w, cin], dyFrames, temporalTap(filter, a), g.spatial), [n, g.outT, h * w * cin]);
    // ... lands on input frame to*st + a*dt - front
    let u: tf.Tensor = z;
    if (g.st > 1)
      u = tf.reshape(
        tf.pad(tf.reshape(z, [n, g.outT, 1, h * w * cin]), [
          [0, 0],
          [0, 0],
          [0, g.st - 1],
          [0, 0],
        ]),
        [n, g.outT * g.st, h * w * cin],
      );
    const before = a * g.dt - g.front;
    const after = t - before - u.shape[1]!;
    if (before < 0 || after < 0)
      u = tf.slice(u, [0, Math.max(0, -before), 0], [-1, u.shape[1]! - Math.max(0, -before) - Math.max(0, -after), -1]);
    if (before > 0 || after > 0)
      u = tf.pad(u, [
        [0, 0],
        [Math.max(0, before), Math.max(0, after)],
        [0, 0],
      ]);
    parts.push(u);
  }
  return tf.reshape(parts.length === 1 ? parts[0] : tf.addN(parts), xShape as [number, number, number, number, number]);
}

// ---- MaxPool --------------------------------------------------------------------------------------
// tfjs-backend-wasm 4.22's MaxPoolGrad starts its running max at FLT_MIN (the smallest positive
// float), so windows without a positive value route their gradient to the wrong element. This rule
// routes each output's gradient to the first maximal element of its window in row-major order (as
// PyTorch and the cpu backend do), using only elementwise ops, slices and pads.

export function maxPoolInputGrad(x: Tensor4D, y: Tensor4D, dy: Tensor4D, attrs: tf.NamedAttrMap): Tensor4D {
  const a = attrs as unknown as {
    filterSize: number | [number, number];
    strides: number | [number, number];
    pad: "valid" | "same" | number;
    dimRoundingMode?: "floor" | "round" | "ceil";
  };
  const info = tf.backend_util.computePool2DInfo(x.shape, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
  const g: ConvGeometry = {
    strides: [info.strideHeight, info.strideWidth],
    dilations: [1, 1],
    top: info.padInfo.top,
    left: info.padInfo.left,
    outH: info.outHeight,
    outW: info.outWidth,
  };
  const [kh, kw] = [info.filterHeight, info.filterWidth];
  const [, inH, inW] = x.shape;
  const [sh, sw] = g.strides;
  const needH = (g.outH - 1) * sh + kh;
  const needW = (g.outW - 1) * sw + kw;
  const bottom = Math.max(0, needH - g.top - inH);
  const right = Math.max(0, needW - g.left - inW);
  const xPadded = tf.pad(
    x,
    [
      [0, 0],
      [g.top, bottom],
      [g.left, right],
      [0, 0],
    ],
    -Infinity,
  );
  const phases = splitPhases(xPadded, g, false);
  let taken: tf.Tensor = tf.zerosLike(y);
  const parts: tf.Tensor[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const hit = tf.cast(tf.equal(tapInput(phases, g, i, j), y), "float32");
      const first = tf.mul(hit, tf.sub(1, taken));
      taken = tf.add(taken, first);
      parts.push(placeTap(tf.mul(first, dy) as Tensor4D, g, i, j, inH, inW));
    }
  }
  return tf.addN(parts) as Tensor4D;
}

/** The transpose of tapInput: put tap (i, j)'s values back at their input positions (zeros elsewhere). */
function placeTap(v: Tensor4D, g: ConvGeometry, i: number, j: number, inH: number, inW: number): Tensor4D {
  const [sh, sw] = g.strides;
  const [n, oh, ow, c] = v.shape;
  let u: Tensor4D = v;
  if (sh > 1 || sw > 1) {
    u = tf.reshape(
      tf.pad(tf.reshape(v, [n, oh, 1, ow, 1, c]), [
        [0, 0],
        [0, 0],
        [0, sh - 1],
        [0, 0],
        [0, sw - 1],
        [0, 0],
      ]),
      [n, oh * sh, ow * sw, c],
    );
  }
  // u[q] belongs at padded position q + i*dh, i.e. input position q + i*dh - top
  const before = [i * g.dilations[0] - g.top, j * g.dilations[1] - g.left];
  return padOrCrop(u, before, [inH - before[0] - u.shape[1], inW - before[1] - u.shape[2]]);
}

// ---- BatchMatMul -----------------------------------------------------------------------------------
// The stock rule multiplies with transposeA / transposeB, which the wasm backend runs 10-20x slower
// than a plain matMul after an explicit transpose (measured on [256, 512] x [512, 256]).

/** op(x) @ op(y), transposing explicitly (last two axes) instead of through matMul's flags. */
function matMulExplicit(x: tf.Tensor, y: tf.Tensor, tx: boolean, ty: boolean): tf.Tensor {
  const t = (v: tf.Tensor) => tf.transpose(v, [...range(v.rank - 2), v.rank - 1, v.rank - 2]);
  return tf.matMul(tx ? t(x) : x, ty ? t(y) : y);
}

// ---- GatherV2 ------------------------------------------------------------------------------------

/** dL/dx of gather(x, indices, axis): S @ dy with S[i, k] = (indices[k] == i), along `axis`. */
export function gatherGrad(xShape: number[], indices: tf.Tensor, dy: tf.Tensor, axis: number): tf.Tensor {
  const idx = indices.dataSync();
  const size = xShape[axis];
  const scatter = new Float32Array(size * idx.length);
  idx.forEach((v, k) => (scatter[v * idx.length + k] = 1));
  const s = tf.tensor2d(scatter, [size, idx.length]);
  const rank = dy.rank;
  const front = axis === 0 ? dy : tf.transpose(dy, [axis, ...range(rank).filter((a) => a !== axis)]);
  const grad = tf.matMul(s, tf.reshape(front, [idx.length, -1]));
  const frontShape = [size, ...front.shape.slice(1)];
  const back = tf.reshape(grad, frontShape);
  if (axis === 0) return back;
  // back's axis 0 is x's `axis`; the other axes keep their order.
  return tf.transpose(
    back,
    range(rank).map((a) => (a === axis ? 0 : a < axis ? a + 1 : a)),
  );
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

// ---- registration --------------------------------------------------------------------------------

const stock = new Map<string, GradFunc>();

function useStock(dilations: [number, number]): boolean {
  return !REPLACED_ON.has(tf.getBackend()) && dilations[0] === 1 && dilations[1] === 1;
}

const REPLACED_KERNELS = ["Conv2D", "DepthwiseConv2dNative", "Conv3D", "MaxPool", "BatchMatMul", "GatherV2"];
const stockConfigs = new Map<string, tf.GradConfig>();
const fastConfigs = new Map<string, tf.GradConfig>();

/** Switch between these rules ("fast", the default) and tfjs' own ("stock"), e.g. to benchmark them. */
export function useGradientRules(rules: "fast" | "stock"): void {
  registerFastGradients();
  for (const cfg of (rules === "fast" ? fastConfigs : stockConfigs).values()) tf.registerGradient(cfg);
}

let registered = false;

/** Replace the gradient rules (idempotent; called on import of this module). */
export function registerFastGradients(): void {
  if (registered) return;
  registered = true;
  for (const name of REPLACED_KERNELS) {
    const cfg = tf.getGradient(name);
    if (!cfg) throw new Error(`tfjs has no stock gradient for ${name}: import "@tensorflow/tfjs" first`);
    stockConfigs.set(name, cfg);
    stock.set(name, cfg.gradFunc as GradFunc);
  }

  tf.registerGradient({
    kernelName: "Conv2D",
    inputsToSave: ["x", "filter"],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved as [Tensor4D, Tensor4D];
      const dilations = tuple2(attrs.dilations as number | number[]);
      if (attrs.dataFormat === "NCHW" || useStock(dilations)) return stock.get("Conv2D")!(dy, saved, attrs);
      const g = convGeometry(x.shape, filter.shape, attrs, false);
      return {
        x: () => conv2dInputGrad(x.shape, dy as Tensor4D, filter, g),
        filter: () => conv2dFilterGrad(x, dy as Tensor4D, filter.shape, g),
      };
    },
  });

  tf.registerGradient({
    kernelName: "DepthwiseConv2dNative",
    inputsToSave: ["x", "filter"],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved as [Tensor4D, Tensor4D];
      const dilations = tuple2(attrs.dilations as number | number[]);
      if (useStock(dilations)) return stock.get("DepthwiseConv2dNative")!(dy, saved, attrs);
      const g = convGeometry(x.shape, filter.shape, attrs, true);
      return {
        x: () => depthwiseInputGrad(x.shape, dy as Tensor4D, filter, g),
        filter: () => depthwiseFilterGrad(x, dy as Tensor4D, filter.shape, g),
      };
    },
  });

  tf.registerGradient({
    kernelName: "Conv3D",
    inputsToSave: ["x", "filter"],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved as [tf.Tensor5D, tf.Tensor5D];
      const d = attrs.dilations as number | number[] | undefined;
      const dilated = d !== undefined && (typeof d === "number" ? d !== 1 : d.some((v) => v !== 1));
      if (attrs.dataFormat === "NCDHW" || (!REPLACED_ON.has(tf.getBackend()) && !dilated)) return stock.get("Conv3D")!(dy, saved, attrs);
      const g = conv3dGeometry(x.shape, filter.shape, attrs);
      return {
        x: () => conv3dInputGrad(x.shape, dy as tf.Tensor5D, filter, g),
        filter: () => conv3dFilterGrad(x, dy as tf.Tensor5D, filter.shape, g),
      };
    },
  });

  tf.registerGradient({
    kernelName: "MaxPool",
    inputsToSave: ["x"],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, y] = saved as [Tensor4D, Tensor4D];
      if (!REPLACED_ON.has(tf.getBackend())) return stock.get("MaxPool")!(dy, saved, attrs);
      return { x: () => maxPoolInputGrad(x, y, dy as Tensor4D, attrs) };
    },
  });

  tf.registerGradient({
    kernelName: "BatchMatMul",
    inputsToSave: ["a", "b"],
    gradFunc: (dy, saved, attrs) => {
      const [a, b] = saved;
      const d = dy as tf.Tensor;
      if (!REPLACED_ON.has(tf.getBackend()) || a.rank !== b.rank) return stock.get("BatchMatMul")!(dy, saved, attrs);
      // y = op(a) @ op(b): the same algebra as the stock rule
      const ta = attrs.transposeA === true;
      const tb = attrs.transposeB === true;
      if (!ta && !tb) return { a: () => matMulExplicit(d, b, false, true), b: () => matMulExplicit(a, d, true, false) };
      if (!ta && tb) return { a: () => matMulExplicit(d, b, false, false), b: () => matMulExplicit(d, a, true, false) };
      if (ta && !tb) return { a: () => matMulExplicit(b, d, false, true), b: () => matMulExplicit(a, d, false, false) };
      return { a: () => matMulExplicit(b, d, true, true), b: () => matMulExplicit(d, a, true, true) };
    },
  });

  tf.registerGradient({
    kernelName: "GatherV2",
    inputsToSave: ["x", "indices"],
    gradFunc: (dy, saved, attrs) => {
      const [x, indices] = saved;
      const axis = tf.util.parseAxisParam(attrs.axis as number, x.shape)[0];
      const batchDims = (attrs.batchDims as number | undefined) ?? 0;
      const small = x.shape[axis] * indices.size <= MAX_SCATTER_ELEMENTS;
      if (batchDims !== 0 || !small || !REPLACED_ON.has(tf.getBackend())) return stock.get("GatherV2")!(dy, saved, attrs);
      return { x: () => gatherGrad(x.shape, indices, dy as tf.Tensor, axis), indices: () => tf.zerosLike(indices) };
    },
  });
  for (const name of REPLACED_KERNELS) fastConfigs.set(name, tf.getGradient(name)!);
}

registerFastGradients();
