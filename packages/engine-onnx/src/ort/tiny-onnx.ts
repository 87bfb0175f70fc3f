/**
 * A hand-encoded ONNX model (protobuf wire format, no dependencies) for device probes: y = x + x on a
 * float32 [n] input. Enough for onnxruntime to create an EP's device, compile one kernel and run it.
 */

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

const key = (field: number, wire: number) => varint((field << 3) | wire);
const bytesField = (field: number, data: number[]) => [...key(field, 2), ...varint(data.length), ...data];
const strField = (field: number, s: string) => bytesField(field, [...new TextEncoder().encode(s)]);
const intField = (field: number, v: number) => [...key(field, 0), ...varint(v)];

/** ValueInfoProto of a float tensor of shape [n]. */
function valueInfo(name: string, n: number): number[] {
  const dim = intField(1, n); // TensorShapeProto.Dimension.dim_value
  const shape = bytesField(1, dim); // TensorShapeProto.dim
  const tensorType = [...intField(1, 1), ...bytesField(2, shape)]; // elem_type FLOAT, shape
  const type = bytesField(1, tensorType); // TypeProto.tensor_type
  return [...strField(1, name), ...bytesField(2, type)];
}

/** ONNX bytes of `y = Add(x, x)`, x: float32[n], opset 17, IR 8. */
export function tinyAddModel(n = 4): Uint8Array {
  const node = [...strField(1, "x"), ...strField(1, "x"), ...strField(2, "y"), ...strField(3, "add"), ...strField(4, "Add")];
  const graph = [
    ...bytesField(1, node),
    ...strField(2, "probe"),
    ...bytesField(11, valueInfo("x", n)),
    ...bytesField(12, valueInfo("y", n)),
  ];
  const opset = [...strField(1, ""), ...intField(2, 17)];
  const model = [...intField(1, 8), ...strField(2, "blvnet-probe"), ...bytesField(7, graph), ...bytesField(8, opset)];
  return Uint8Array.from(model);
}

/**
 * ONNX bytes of `out_i = Identity(in_i)` for float32 inputs of the given flat sizes: a read-back graph
 * that moves device-resident tensors (WebGPU "gpu-buffer") to host memory, since onnxruntime-node 1.30
 * cannot download a gpu-buffer tensor itself (Tensor.getData() -> "not implemented").
 */
export function identityModel(sizes: number[]): Uint8Array {
  const nodes = sizes.flatMap((_, i) =>
    bytesField(1, [...strField(1, `in_${i}`), ...strField(2, `out_${i}`), ...strField(3, `id_${i}`), ...strField(4, "Identity")]),
  );
  const inputs = sizes.flatMap((n, i) => bytesField(11, valueInfo(`in_${i}`, n)));
  const outputs = sizes.flatMap((n, i) => bytesField(12, valueInfo(`out_${i}`, n)));
  const graph = [...nodes, ...strField(2, "readback"), ...inputs, ...outputs];
  const opset = [...strField(1, ""), ...intField(2, 17)];
  return Uint8Array.from([...intField(1, 8), ...strField(2, "blvnet-readback"), ...bytesField(7, graph), ...bytesField(8, opset)]);
}
