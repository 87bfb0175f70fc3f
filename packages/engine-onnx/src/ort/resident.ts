/**
 * Device-resident tensors on the WebGPU EP of onnxruntime-node 1.30 (used by OrtTrainer to keep the
 * training state on the GPU between steps).
 *
 * What the 1.30 Node binding offers (read from its source, js/node/src/*.cc, and tried here):
 *   - `preferredOutputLocation` ("gpu-buffer" for all outputs, or an object {outputName: location})
 *     switches `run` to IO binding; outputs marked "gpu-buffer" come back as Tensors with
 *     location "gpu-buffer" that stay on the device, and such a Tensor can be fed as an input of any
 *     webgpu session of the process (same Dawn device) without a copy.
 *   - Pre-allocated fetches are ignored on that path: onnxruntime allocates each output; the previous
 *     tensors must be released with `dispose()` (gpu-buffer tensors have no finalizer in 1.30).
 *   - The binding indexes `preferredOutputLocation` by the position among *fetched* outputs but stores
 *     it by position among *all* outputs: always fetch every output, or locations shift.
 *   - `Tensor.getData()` on a gpu-buffer tensor throws "not implemented" in Node: reading values back
 *     goes through a second webgpu session of Identity nodes whose outputs are on the CPU (below).
 *   - The CUDA EP has no such path in Node (the binding's only device memory is "WebGPU_Buf").
 */
import type * as Ort from "onnxruntime-node";
import { identityModel } from "./tiny-onnx.js";

/** Reads gpu-buffer tensors back to host memory through an Identity session (one per distinct list of sizes). */
export class DeviceReadback {
  private session: Ort.InferenceSession | null = null;
  private key = "";

  /** `options`: session options of the device the tensors live on (e.g. deviceSessionOptions("webgpu")). */
  constructor(
    private readonly ort: typeof Ort,
    private readonly options: Ort.InferenceSession.SessionOptions,
  ) {}

  /** Host copies of `tensors` (float32, any location), in order. */
  async read(tensors: Ort.Tensor[]): Promise<Float32Array[]> {
    const onDevice = tensors.map((t, i) => [t, i] as const).filter(([t]) => t.location !== "cpu");
    const out: Float32Array[] = tensors.map((t) => (t.location === "cpu" ? (t.data as Float32Array).slice() : new Float32Array(0)));
    if (!onDevice.length) return out;
    const sizes = onDevice.map(([t]) => t.size);
    const key = sizes.join(",");
    if (!this.session || this.key !== key) {
      await this.session?.release();
      this.key = key;
      this.session = await this.ort.InferenceSession.create(identityModel(sizes), { ...this.options, preferredOutputLocation: "cpu" });
    }
    const feeds: Record<string, Ort.Tensor> = {};
    onDevice.forEach(([t], j) => (feeds[`in_${j}`] = t.dims.length === 1 ? t : t.reshape([t.size])));
    const result = await this.session.run(feeds);
    onDevice.forEach(([, i], j) => (out[i] = result[`out_${j}`].data as Float32Array));
    return out;
  }

  async release(): Promise<void> {
    await this.session?.release();
    this.session = null;
  }
}
