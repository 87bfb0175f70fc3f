/**
 * Weight layouts: PyTorch stores OIHW / OITHW / [out,in]; tfjs wants HWIO / DHWIO / [in,out].
 * Conversions run once per weight version (see ParamStore), never per step.
 */
export type WeightForm =
  | "vec" // 1-D (bias, BN) or any tensor kept as is
  | "hwio" // Conv2d (O, I, kh, kw) -> (kh, kw, I, O)
  | "dw" // depthwise Conv2d (C, 1, kh, kw) -> (kh, kw, C, 1)
  | "dw1x1" // depthwise 1x1 Conv2d (C, 1, 1, 1) -> (C): a per-channel scale
  | "dhwio" // Conv3d (O, I, kt, kh, kw) -> (kt, kh, kw, I, O)
  | "io"; // Linear (out, in) -> (in, out)

/** Permute a row-major array: out[perm-index] from in. `perm[i]` = source axis of output axis i. */
export function permute(data: Float32Array, shape: number[], perm: number[]): { data: Float32Array; shape: number[] } {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]);
  const inStrides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i];
  }
  const strideOfOut = perm.map((p) => inStrides[p]);
  const out = new Float32Array(data.length);
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = data[src];
    // increment the output multi-index (last axis fastest), tracking the source offset
    for (let a = rank - 1; a >= 0; a--) {
      idx[a]++;
      src += strideOfOut[a];
      if (idx[a] < outShape[a]) break;
      src -= strideOfOut[a] * outShape[a];
      idx[a] = 0;
    }
  }
  return { data: out, shape: outShape };
}

const PERM: Record<Exclude<WeightForm, "vec" | "dw1x1">, number[]> = {
  hwio: [2, 3, 1, 0],
  dw: [2, 3, 0, 1],
  dhwio: [2, 3, 4, 1, 0],
  io: [1, 0],
};

export function toNative(form: WeightForm, data: Float32Array, shape: number[]): { data: Float32Array; shape: number[] } {
  if (form === "vec") return { data, shape };
  if (form === "dw1x1") return { data, shape: [shape[0]] };
  return permute(data, shape, PERM[form]);
}

export function fromNative(form: WeightForm, data: Float32Array, torchShape: number[]): Float32Array {
  if (form === "vec" || form === "dw1x1") return data;
  const perm = PERM[form];
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  const nativeShape = perm.map((p) => torchShape[p]);
  return permute(data, nativeShape, inv).data;
}
