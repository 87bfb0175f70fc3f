/**
 * Reverse-mode lowering of N-d convolution (2-D and 3-D, any stride/padding/dilation/groups) in
 * standard ONNX ops.
 *   - weight gradient: an explicit im2col of the input in "channels first, then batch" order
 *     ([Cin*taps, N*P], one strided Slice per kernel tap, rows ordered (cin, tap) so the result
 *     needs no transpose) and ONE Gemm against the output gradient [Cout, N*P] with transB: a
 *     single large GEMM instead of N*Cin skinny ones;
 *   - input gradient of a 1x1 stride-1 conv: one Gemm W^T x dy on the same channels-first dy
 *     (onnxruntime's ConvTranspose runs one small GEMM + col2im per image);
 *   - input gradient of other stride-1 convs with large maps: a forward Conv of dy with the flipped,
 *     in/out-swapped weight (full padding), up to 1.6x faster than onnxruntime's ConvTranspose (GEMM
 *     + col2im per image) at 56x56; on small maps with large weights the per-step weight flip costs
 *     more than it saves (see `FlipWeight`: even a cache-blocked swap + exact flip lost in the model);
 *   - input gradient of kxk convs (any stride) on small maps with many channels ("auto-scatter"):
 *     ONE Gemm W^T x dy over every image and col2im as ONE MatMul with a constant 0/1 scatter
 *     matrix (`gemmScatter`), ~2x faster than ConvTranspose on 4x4 maps;
 *   - other strided (and grouped) convs: ConvTranspose of dy with the forward weight, whose layout
 *     (O, I/groups, k...) is exactly ConvTranspose's (C_in, C_out/groups, k...).
 */
import { onnxAttr } from "../onnx/graph.js";
import type { Emitter } from "./emit.js";
import { numel } from "./emit.js";

/** Geometry of one forward convolution (all arrays per spatial axis). */
export interface ConvGeometry {
  /** Input shape [N, Cin, ...spatial]. */
  inShape: number[];
  /** Output shape [N, Cout, ...spatial]. */
  outShape: number[];
  kernel: number[];
  stride: number[];
  pad: number[];
  dilation: number[];
  groups: number;
}

/** Input channels up to which a conv's weight gradient is one Conv (see `weightBySwappedConv`), not im2col + Gemm. */
const SWAP_MAX_CIN = 4;

/** "slice" flip: weight elements per output position below which the flipped-weight Conv beats ConvTranspose. */
const FLIP_CROSSOVER = 32;

/**
 * How the flipped-weight Conv (input gradient of stride-1 convs) builds its kernel each step:
 *  - "slice": Transpose + negative-step Slice of the weight, and only where the weight is small
 *    next to the maps (`FLIP_CROSSOVER`): onnxruntime's Transpose of [O, I, 3, 3] moves 36-byte
 *    blocks with a large stride (~2 GB/s) and its reversing Slice copies one element at a time
 *    (9.5 ms for 512x512x3x3), which ate the Conv's gain on the small late-stage maps;
 *  - "blocked": every stride-1 conv; the in/out swap as two cache-friendly Transposes (3.1 vs
 *    4.6 ms at 512x512x3x3, 0.3 vs 1.0 ms at 256x256x3x3, one op per session) and the flip as an
 *    exact MatMul with the taps x taps anti-identity (x*1 + 0*y...) or, when the maps are smaller
 *    than the weight, as reversed dy and dx (flip(Conv(flip(dy), W')) with symmetric padding).
 *    In the bLVNet-TAM-50 step it LOST (kernel time 799 -> 855 ms, medians of 5 alternated rounds):
 *    the weight Transposes ran slower in the step (cold weights: 4.7 ms for 512x512x3x3) and the
 *    Conv gained ~6 ms only on the 8x512x4x4 maps; kept for A/B;
 *  - "off": ConvTranspose for every kxk conv input gradient.
 */
export type FlipWeight = "slice" | "blocked" | "off";

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => i + from);

/** Every kernel offset (row-major over the spatial axes). */
function kernelTaps(kernel: number[]): number[][] {
  let taps: number[][] = [[]];
  for (const k of kernel) taps = taps.flatMap((t) => range(k).map((i) => [...t, i]));
  return taps;
}

const isPointwise = (g: ConvGeometry) => g.kernel.every((k) => k === 1) && g.stride.every((s) => s === 1) && g.pad.every((p) => p === 0);

/** [C, N, ...] view of an [N, C, ...] tensor (a free reshape when N == 1). */
export function channelsFirst(e: Emitter, x: string, shape: number[]): string {
  const [n, c, ...rest] = shape;
  if (n === 1) return e.reshape(x, [c, 1, ...rest]);
  return e.transpose(x, [1, 0, ...range(rest.length, 2)]);
}

/** [N, C, ...spatial] from a [C, N*P] matrix. */
function channelsLast(e: Emitter, m: string, shape: number[]): string {
  const [n, c, ...rest] = shape;
  if (n === 1) return e.reshape(m, shape);
  return e.transpose(e.reshape(m, [c, n, ...rest]), [1, 0, ...range(rest.length, 2)]);
}

/**
 * im2col of the input for the weight gradient: [Cin*taps, N*P] with rows ordered (cin, tap) and
 * columns (n, output position), P = output spatial size. Each tap is one Slice of the padded map.
 * A step on the innermost axis makes onnxruntime's Slice copy element by element, so with a
 * strided last axis the taps slice its phases (one strided Slice per phase, then whole rows):
 * 2 element-wise copies of half the map instead of 9 of a quarter (3x3, stride 2; -4.5 ms of
 * Slice kernel time per bLVNet-TAM-50 step, measured).
 */
export function im2colChannelsFirst(e: Emitter, x: string, g: ConvGeometry, transposed = channelsFirst): string {
  const [n, cin, ...inSpatial] = g.inShape;
  const outSpatial = g.outShape.slice(2);
  const s = g.kernel.length;
  const p = numel(outSpatial);
  const xT = transposed(e, x, g.inShape);
  if (isPointwise(g)) return e.reshape(xT, [cin, n * p]);
  const padded = e.pad(xT, [0, 0, ...g.pad, 0, 0, ...g.pad]);
  const paddedSpatial = inSpatial.map((v, i) => v + 2 * g.pad[i]);
  const axes = range(s, 2);
  const last = s - 1;
  const sw = g.stride[last];
  const byPhase = sw > 1 && g.dilation[last] === 1;
  const phases = new Map<number, string>();
  const phase = (q: number) => {
    let v = phases.get(q);
    if (!v) phases.set(q, (v = e.slice(padded, [q], [paddedSpatial[last]], [2 + last], [sw])));
    return v;
  };
  // in a phase, the last axis is read with step 1 from the tap's offset within the phase
  const lastInPhase = (i: number) => byPhase && i === last;
  const cols = kernelTaps(g.kernel).map((tap) => {
    const starts = tap.map((t, i) => (lastInPhase(i) ? Math.floor(t / sw) : t * g.dilation[i]));
    const ends = starts.map((st, i) => st + (outSpatial[i] - 1) * (lastInPhase(i) ? 1 : g.stride[i]) + 1);
    const steps = g.stride.map((v, i) => (lastInPhase(i) ? 1 : v));
    const source = byPhase ? phase(tap[last] % sw) : padded;
    const whole = !byPhase && starts.every((st, i) => st === 0 && ends[i] === paddedSpatial[i] && g.stride[i] === 1);
    // [Cin, 1, N*P]: stacked on axis 1 so rows come out (cin, tap)
    return e.reshape(whole ? padded : e.slice(source, starts, ends, axes, steps), [cin, 1, n * p]);
  });
  return e.reshape(e.concat(cols, 1), [cin * cols.length, n * p]);
}

/**
 * How input gradients of kxk convs are lowered. "auto": a flipped-weight Conv for stride-1 convs on
 * large maps, one Gemm + col2im (`gemmCol2im`) for small maps, ConvTranspose for the rest;
 * "auto-no-gemm": the flipped Conv where it pays, else ConvTranspose (the lowering before the Gemm
 * path; A/B timing); "auto-scatter": the flipped Conv where it pays, one Gemm + a scatter-matrix
 * MatMul (`gemmScatter`) on small maps with many channels, else ConvTranspose;
 * "convtranspose" / "gemm" / "gemm-scatter": always that lowering (A/B timing and tests).
 */
export type InputGradLowering = "auto" | "auto-no-gemm" | "auto-scatter" | "convtranspose" | "gemm" | "gemm-scatter";

/**
 * "auto-scatter" takes `gemmScatter` where ConvTranspose's per-image GEMM is skinny (at most
 * SCATTER_MAX_P output positions per image: 4x4 maps), where its col2im MatMul is cheap next to
 * the Gemm (input positions Q <= Cout / SCATTER_MIN_RATIO: its MACs are Q/Cout of the Gemm's), and
 * the scatter matrix (taps*P x Q) has at most SCATTER_MAX_ELEMS. At 8x256x7x7 (P = 49) the two
 * lowerings were even (micro 5.0 vs 4.6 and 8.6 vs 10.5 ms; in the step 6.1 vs 6.2 ms), so 7x7
 * outputs keep ConvTranspose.
 */
const SCATTER_MAX_P = 16;
const SCATTER_MIN_RATIO = 4;
const SCATTER_MAX_ELEMS = 2 ** 20;

/** Scatter matrices already emitted, per graph and geometry (the same late-stage shape repeats). */
const scatterConsts = new WeakMap<Emitter, Map<string, string>>();

/** Largest column tensor (Cin*taps x N*P, times stride^2 when strided) the Gemm + col2im lowering builds. */
const GEMM_COL2IM_MAX_ELEMS = 4 * 2 ** 20;

/** `channelsFirst`, possibly memoised by the caller (a value read by several convs is transposed once). */
export type ChannelsFirst = (e: Emitter, x: string, shape: number[]) => string;

/** Gradients of one conv; `dy` is read once in channels-first form for both GEMMs. */
export class ConvGrad {
  private dyT: string | null = null;

  constructor(
    private readonly e: Emitter,
    private readonly dy: string,
    private readonly g: ConvGeometry,
    // the Gemm + col2im path ("auto") is opt-in: on the bLVNet-TAM-50 f8x2 112x112 step it was 18-38% slower
    // than "auto-no-gemm" in 4 alternated runs (perf/step-memory.bench.ts --lowering auto|auto-no-gemm);
    // "auto-scatter" (auto-no-gemm + `gemmScatter` on the 8 convs with 4x4 outputs) cut the conv input
    // gradients by ~14 ms kernel time per step (perf/lowering-ab.bench.ts, see the flip21 commit)
    private readonly lowering: InputGradLowering = "auto-scatter",
    private readonly transposed: ChannelsFirst = channelsFirst,
    /** Weight gradients of convs with few input channels as one Conv (`weightBySwappedConv`); off = im2col always (A/B). */
    private readonly swapFewChannels = true,
    private readonly flipWeight: FlipWeight = "slice",
  ) {}

  /** dy as [Cout, N*P]. */
  private dyMatrix(): string {
    const [n, cout] = this.g.outShape;
    this.dyT ??= this.e.reshape(channelsFirst(this.e, this.dy, this.g.outShape), [cout, n * numel(this.g.outShape.slice(2))]);
    return this.dyT;
  }

  /** dL/dW in PyTorch layout [Cout, Cin/groups, ...kernel]. */
  weight(x: string): string {
    const { e, g } = this;
    const [n, cin] = g.inShape;
    const cout = g.outShape[1];
    const p = numel(g.outShape.slice(2));
    const taps = numel(g.kernel);
    if (this.swapFewChannels && g.groups === 1 && cin <= SWAP_MAX_CIN && !isPointwise(g)) return this.weightBySwappedConv(x);
    const cols = im2colChannelsFirst(e, x, g, this.transposed);
    if (g.groups === 1) return e.reshape(e.op("Gemm", [this.dyMatrix(), cols], { transB: onnxAttr.int(1) }), [cout, cin, ...g.kernel]);
    // Grouped: one batched MatMul over groups, [G, Cin/G*taps, NP] x [G, NP, Cout/G].
    const G = g.groups;
    const cinG = cin / G;
    const coutG = cout / G;
    const dyG = e.reshape(this.dyMatrix(), [G, coutG, n * p]);
    const dyGT = coutG === 1 ? e.reshape(dyG, [G, n * p, 1]) : e.transpose(dyG, [0, 2, 1]);
    const m = e.op("MatMul", [e.reshape(cols, [G, cinG * taps, n * p]), dyGT]); // [G, cinG*taps, coutG]
    const mT = coutG === 1 ? m : e.transpose(m, [0, 2, 1]);
    return e.reshape(mT, [cout, cinG, ...g.kernel]);
  }

  /**
   * dL/dW as ONE Conv with batch and channels swapped: dW[co, ci, t] = sum over n, o of
   * xpad[n, ci, o*stride + t*dilation] * dy[n, co, o] is a Conv of x^T ([Cin, N, ...]) with dy^T
   * ([Cout, N, ...out]) as its kernel, dilated by the forward stride and strided by the forward
   * dilation; cropped to the kernel size. For the 3-channel 7x7/2 stem of bLVNet-TAM this is ~30%
   * faster than 49 strided im2col Slices of 3-channel planes + Concat + Gemm; with more input
   * channels the im2col Gemm wins (2x at Cin 32-512, measured).
   */
  private weightBySwappedConv(x: string): string {
    const { e, g } = this;
    const outSpatial = g.outShape.slice(2);
    const inSpatial = g.inShape.slice(2);
    const axes = range(g.kernel.length, 2);
    // Taps past the kernel come from the end padding: trim it (asymmetric pads) rather than compute and crop them.
    const produced = (endPad: number[]) =>
      inSpatial.map((v, i) => Math.floor((v + g.pad[i] + endPad[i] - g.stride[i] * (outSpatial[i] - 1) - 1) / g.dilation[i]) + 1);
    const extra = produced(g.pad).map((v, i) => v - g.kernel[i]);
    const endPad = g.pad.map((p, i) => Math.max(0, p - extra[i] * g.dilation[i]));
    const r = e.op("Conv", [this.transposed(e, x, g.inShape), channelsFirst(e, this.dy, g.outShape)], {
      kernel_shape: onnxAttr.ints(outSpatial),
      pads: onnxAttr.ints([...g.pad, ...endPad]),
      strides: onnxAttr.ints(g.dilation),
      dilations: onnxAttr.ints(g.stride),
    }); // [Cin, Cout, >= kernel...]
    const cropped = produced(endPad).every((v, i) => v === g.kernel[i])
      ? r
      : e.slice(
          r,
          axes.map(() => 0),
          g.kernel,
          axes,
        );
    return e.transpose(cropped, [1, 0, ...axes]);
  }

  /** dL/dx. */
  input(weight: string): string {
    const { e, g } = this;
    if (isPointwise(g) && g.groups === 1) {
      const [cout, cin] = [g.outShape[1], g.inShape[1]];
      const w2 = e.reshape(weight, [cout, cin]);
      return channelsLast(e, e.op("Gemm", [w2, this.dyMatrix()], { transA: onnxAttr.int(1) }), g.inShape);
    }
    const fullPad = g.kernel.map((k, i) => (k - 1) * g.dilation[i] - g.pad[i]);
    const positions = g.outShape[0] * numel(g.outShape.slice(2));
    const weightElems = g.outShape[1] * g.inShape[1] * numel(g.kernel);
    const flipPays = this.flipWeight === "blocked" || (this.flipWeight === "slice" && weightElems <= FLIP_CROSSOVER * positions);
    const stride1 = g.stride.every((v) => v === 1);
    const auto = this.lowering === "auto" || this.lowering === "auto-no-gemm" || this.lowering === "auto-scatter";
    if (auto && flipPays && g.groups === 1 && stride1 && fullPad.every((v) => v >= 0)) {
      const conv = (x: string, w: string) =>
        e.op("Conv", [x, w], {
          kernel_shape: onnxAttr.ints(g.kernel),
          pads: onnxAttr.ints([...fullPad, ...fullPad]),
          dilations: onnxAttr.ints(g.dilation),
        });
      if (this.flipWeight === "slice") return conv(this.dy, flippedTransposedWeight(e, weight, g.kernel.length));
      const swapped = swappedWeight(e, weight, g.outShape[1], g.inShape[1], g.kernel);
      // the flip goes where it copies less: the weight, or dy and dx
      const mapElems = numel(g.outShape) + numel(g.inShape);
      if (mapElems < weightElems)
        return reversedSpatially(e, conv(reversedSpatially(e, this.dy, g.kernel.length), swapped), g.kernel.length);
      return conv(this.dy, reversedTaps(e, swapped, [g.inShape[1], g.outShape[1], ...g.kernel]));
    }
    if (g.groups === 1 && (this.lowering === "gemm-scatter" || (this.lowering === "auto-scatter" && scatterPays(g))))
      return this.gemmScatter(weight);
    const colElems = g.inShape[1] * numel(g.kernel) * positions * numel(g.stride);
    const gemmFits = g.groups === 1 && fullPad.every((v) => v >= 0);
    if (gemmFits && (this.lowering === "gemm" || (this.lowering === "auto" && colElems <= GEMM_COL2IM_MAX_ELEMS)))
      return this.gemmCol2im(weight);
    return convTransposeGrad(e, this.dy, weight, g);
  }

  /**
   * dL/dx as ONE Gemm over every image, cols = W^T dy ([Cin*taps, N*P], rows (cin, tap)), then
   * col2im: each tap's plane is placed at its offset and the taps are summed. onnxruntime's
   * ConvTranspose runs one skinny GEMM per image (N*P columns split N ways), which is slow on the
   * small maps of late stages. Strided convs first spread the columns onto the stride grid (one Pad
   * that interleaves zeros). Used for small column tensors only: col2im makes taps passes.
   */
  private gemmCol2im(weight: string): string {
    const { e, g } = this;
    const [n, cin, ...inSpatial] = g.inShape;
    const cout = g.outShape[1];
    const outSpatial = g.outShape.slice(2);
    const s = g.kernel.length;
    const taps = kernelTaps(g.kernel);
    const w2 = e.reshape(weight, [cout, cin * taps.length]);
    const cols = e.op("Gemm", [w2, this.dyMatrix()], { transA: onnxAttr.int(1) }); // [cin*taps, n*P]
    let grid = e.reshape(cols, [cin, taps.length, n, ...outSpatial]);
    let gridSpatial = [...outSpatial];
    if (g.stride.some((v) => v > 1)) {
      // [.., o1, 1, o2, 1, ..] padded to [.., o1, s1, o2, s2, ..]: zeros between the columns.
      const spread = outSpatial.flatMap((o) => [o, 1]);
      const pads = new Array<number>(2 * (3 + 2 * s)).fill(0);
      g.stride.forEach((st, i) => (pads[3 + 2 * s + 3 + 2 * i + 1] = st - 1));
      gridSpatial = outSpatial.map((o, i) => o * g.stride[i]);
      grid = e.reshape(e.pad(e.reshape(grid, [cin, taps.length, n, ...spread]), pads), [cin, taps.length, n, ...gridSpatial]);
    }
    // Input position y takes grid[y + pad - k*dilation] from tap k; pad the grid so every tap's window is in range.
    const begin = g.kernel.map((k, i) => (k - 1) * g.dilation[i] - g.pad[i]);
    const end = inSpatial.map((h, i) => h + g.pad[i] - gridSpatial[i]);
    const padded = e.pad(grid, [0, 0, 0, ...begin, 0, 0, 0, ...end]);
    const axes = [1, ...range(s, 3)];
    const planes = taps.map((tap, t) => {
      const starts = tap.map((k, i) => begin[i] + g.pad[i] - k * g.dilation[i]);
      return e.slice(padded, [t, ...starts], [t + 1, ...starts.map((st, i) => st + inSpatial[i])], axes);
    });
    return channelsLast(e, e.reshape(e.sum(planes), [cin, n * numel(inSpatial)]), g.inShape);
  }

  /**
   * dL/dx as ONE Gemm over every image, cols = W^T dy ([Cin*taps, N*P], W read transposed in
   * place, dy the channels-first matrix the weight gradient also reads), then col2im as ONE MatMul
   * with a constant 0/1 scatter matrix S [taps*P, Q] (S[(t, p), q] = 1 when tap t of output p
   * lands on input q): any stride, padding and dilation, exact sums (x + 0). The rows go
   * (cin, n) first: one Transpose of cols moving P-long runs. onnxruntime's ConvTranspose runs one
   * skinny GEMM + col2im per image; on the 4x4 and 7x7 maps of bLVNet-TAM's last stages this is
   * ~2x faster (8x512x4x4 with a 512x512x3x3 weight: 7.7 vs 16.3 ms; stride 2 onto 7x7: 9.4 vs
   * 20.8 ms; measured, one op per session). S's MACs are Q/Cout of the Gemm's: small maps only.
   */
  private gemmScatter(weight: string): string {
    const { e, g } = this;
    const [n, cin, ...inSpatial] = g.inShape;
    const cout = g.outShape[1];
    const taps = numel(g.kernel);
    const p = numel(g.outShape.slice(2));
    const q = numel(inSpatial);
    const cols = e.op("Gemm", [e.reshape(weight, [cout, cin * taps]), this.dyMatrix()], { transA: onnxAttr.int(1) }); // [cin*taps, n*P]
    const rows = n === 1 ? cols : e.transpose(e.reshape(cols, [cin, taps, n, p]), [0, 2, 1, 3]); // [cin, n, taps, P]
    const dx = e.op("MatMul", [e.reshape(rows, [cin * n, taps * p]), scatterMatrix(e, g)]); // [cin*n, Q]
    return channelsLast(e, e.reshape(dx, [cin, n * q]), g.inShape);
  }

  /** dL/dbias: sum over batch and spatial axes. */
  bias(): string {
    return this.e.reduceSum(this.dy, [0, ...range(this.g.outShape.length - 2, 2)], false);
  }
}

function scatterPays(g: ConvGeometry): boolean {
  const q = numel(g.inShape.slice(2));
  const p = numel(g.outShape.slice(2));
  return p <= SCATTER_MAX_P && q * SCATTER_MIN_RATIO <= g.outShape[1] && numel(g.kernel) * p * q <= SCATTER_MAX_ELEMS;
}

/** S [taps*P, Q]: 1 where kernel tap t of output position p reads input position q (row-major everywhere). */
function scatterMatrix(e: Emitter, g: ConvGeometry): string {
  const inSpatial = g.inShape.slice(2);
  const outSpatial = g.outShape.slice(2);
  const key = JSON.stringify([inSpatial, outSpatial, g.kernel, g.stride, g.pad, g.dilation]);
  let known = scatterConsts.get(e);
  if (!known) scatterConsts.set(e, (known = new Map()));
  const hit = known.get(key);
  if (hit) return hit;
  const taps = kernelTaps(g.kernel);
  const outs = kernelTaps(outSpatial); // every output position, row-major
  const p = outs.length;
  const q = numel(inSpatial);
  const s = new Float32Array(taps.length * p * q);
  taps.forEach((tap, t) =>
    outs.forEach((o, j) => {
      let at = 0;
      for (let i = 0; i < tap.length; i++) {
        const v = o[i] * g.stride[i] + tap[i] * g.dilation[i] - g.pad[i];
        if (v < 0 || v >= inSpatial[i]) return;
        at = at * inSpatial[i] + v;
      }
      s[(t * p + j) * q + at] = 1;
    }),
  );
  const name = e.f32(s, [taps.length * p, q]);
  known.set(key, name);
  return name;
}

/** W [O, I, k...] -> W' [I, O, k...] reversed along every spatial axis (the adjoint's kernel). */
function flippedTransposedWeight(e: Emitter, weight: string, spatial: number): string {
  const axes = range(spatial, 2);
  const swapped = e.transpose(weight, [1, 0, ...axes]);
  return e.slice(
    swapped,
    axes.map(() => -1),
    axes.map(() => -(2 ** 62)),
    axes,
    axes.map(() => -1),
  );
}

/**
 * W [O, I, k...] -> [I, O, k...] (not flipped). One Transpose moves taps-long blocks (36 bytes for
 * 3x3) with a stride of a whole weight row, ~2 GB/s in onnxruntime; for large weights two passes
 * over [O, I/b, b*taps] -> [I/b, O, b*taps] -> [I/b, b, O, taps] keep each pass's reads within
 * cache (b = 16: 512x512x3x3 3.1 ms instead of 4.6, measured). A Reshape between the passes keeps
 * onnxruntime from merging them back into one.
 */
function swappedWeight(e: Emitter, weight: string, cout: number, cin: number, kernel: number[]): string {
  const taps = numel(kernel);
  const b = [16, 8, 4].find((v) => cin % v === 0 && cin / v >= 2);
  if (b === undefined || cout * cin * taps < 2 ** 16) return e.transpose(weight, [1, 0, ...range(kernel.length, 2)]);
  const a = cin / b;
  const blocks = e.transpose(e.reshape(weight, [cout, a, b * taps]), [1, 0, 2]); // [a, O, b*taps]
  const swapped = e.transpose(e.reshape(blocks, [a, cout, b, taps]), [0, 2, 1, 3]); // [a, b, O, taps]
  return e.reshape(swapped, [cin, cout, ...kernel]);
}

/** A swapped weight [I, O, k...] with its taps reversed (every spatial axis flipped): an exact MatMul with the anti-identity. */
function reversedTaps(e: Emitter, w: string, shape: number[]): string {
  const taps = numel(shape.slice(2));
  const anti = new Float32Array(taps * taps);
  for (let i = 0; i < taps; i++) anti[i * taps + (taps - 1 - i)] = 1;
  return e.reshape(e.op("MatMul", [e.reshape(w, [shape[0] * shape[1], taps]), e.f32(anti, [taps, taps])]), shape);
}

/** x [N, C, ...spatial] reversed along every spatial axis (a negative-step Slice). */
function reversedSpatially(e: Emitter, x: string, spatial: number): string {
  const axes = range(spatial, 2);
  return e.slice(
    x,
    axes.map(() => -1),
    axes.map(() => -(2 ** 62)),
    axes,
    axes.map(() => -1),
  );
}

/** dL/dx as ConvTranspose(dy, W), cropped/extended to the input size with output_padding. */
export function convTransposeGrad(e: Emitter, dy: string, weight: string, g: ConvGeometry): string {
  const s = g.kernel.length;
  const outputPadding = range(s).map((i) => {
    const produced = g.stride[i] * (g.outShape[2 + i] - 1) + (g.kernel[i] - 1) * g.dilation[i] + 1 - 2 * g.pad[i];
    return g.inShape[2 + i] - produced;
  });
  if (outputPadding.some((p) => p < 0)) throw new Error(`conv gradient: negative output padding [${outputPadding}]`);
  return e.op("ConvTranspose", [dy, weight], {
    kernel_shape: onnxAttr.ints(g.kernel),
    strides: onnxAttr.ints(g.stride),
    pads: onnxAttr.ints([...g.pad, ...g.pad]),
    dilations: onnxAttr.ints(g.dilation),
    group: onnxAttr.int(g.groups),
    output_padding: onnxAttr.ints(outputPadding),
  });
}
