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
 *     + col2im per image) at 56x56; on small maps with large weights the per-step weight flip (a
 *     negative-step Slice) costs more than it saves, so those keep ConvTranspose (measured
 *     crossover: weight elements ~ 30x the output positions N*P);
 *   - strided (and grouped) convs: ConvTranspose of dy with the forward weight, whose layout
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

/** Weight elements per output position below which the flipped-weight Conv beats ConvTranspose. */
const FLIP_CROSSOVER = 32;

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
 * columns (n, output position), P = output spatial size.
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
  const taps = kernelTaps(g.kernel);
  const cols = taps.map((tap) => {
    const starts = tap.map((t, i) => t * g.dilation[i]);
    const ends = starts.map((st, i) => st + (outSpatial[i] - 1) * g.stride[i] + 1);
    const whole = starts.every((st, i) => st === 0 && ends[i] === paddedSpatial[i] && g.stride[i] === 1);
    // [Cin, 1, N*P]: stacked on axis 1 so rows come out (cin, tap)
    return e.reshape(whole ? padded : e.slice(padded, starts, ends, axes, g.stride), [cin, 1, n * p]);
  });
  return e.reshape(e.concat(cols, 1), [cin * taps.length, n * p]);
}

/**
 * How input gradients of kxk convs are lowered. "auto": a flipped-weight Conv for stride-1 convs on
 * large maps, one Gemm + col2im (`gemmCol2im`) for small maps, ConvTranspose for the rest;
 * "auto-no-gemm": the flipped Conv where it pays, else ConvTranspose (the lowering before the Gemm
 * path; A/B timing); "convtranspose" / "gemm": always that lowering (A/B timing and tests).
 */
export type InputGradLowering = "auto" | "auto-no-gemm" | "convtranspose" | "gemm";

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
    // than this lowering in 4 alternated runs (perf/step-memory.bench.ts --lowering auto|auto-no-gemm)
    private readonly lowering: InputGradLowering = "auto-no-gemm",
    private readonly transposed: ChannelsFirst = channelsFirst,
    /** Weight gradients of convs with few input channels as one Conv (`weightBySwappedConv`); off = im2col always (A/B). */
    private readonly swapFewChannels = true,
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
    const flipPays = weightElems <= FLIP_CROSSOVER * positions;
    const stride1 = g.stride.every((v) => v === 1);
    const auto = this.lowering === "auto" || this.lowering === "auto-no-gemm";
    if (auto && flipPays && g.groups === 1 && stride1 && fullPad.every((v) => v >= 0)) {
      return e.op("Conv", [this.dy, flippedTransposedWeight(e, weight, g.kernel.length)], {
        kernel_shape: onnxAttr.ints(g.kernel),
        pads: onnxAttr.ints([...fullPad, ...fullPad]),
        dilations: onnxAttr.ints(g.dilation),
      });
    }
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

  /** dL/dbias: sum over batch and spatial axes. */
  bias(): string {
    return this.e.reduceSum(this.dy, [0, ...range(this.g.outShape.length - 2, 2)], false);
  }
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
