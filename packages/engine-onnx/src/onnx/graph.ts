/**
 * A small ONNX graph under construction: nodes in execution order, initializers, one float input
 * and one output, serialised with onnx-buf (ONNX 1.20 schema). Kept free of model knowledge so the
 * inference builder (OnnxOps) and a later training-step builder can share it.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import {
  type AttributeProto,
  AttributeProto_AttributeType,
  AttributeProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  type TensorProto,
  TensorProto_DataType,
  TensorProtoSchema,
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  type ValueInfoProto,
  ValueInfoProtoSchema,
} from "onnx-buf";

export type AttrValue =
  | { type: "int"; value: number }
  | { type: "ints"; value: number[] }
  | { type: "float"; value: number }
  | { type: "floats"; value: number[] }
  | { type: "string"; value: string };

export const onnxAttr = {
  int: (value: number): AttrValue => ({ type: "int", value }),
  ints: (value: number[]): AttrValue => ({ type: "ints", value }),
  float: (value: number): AttrValue => ({ type: "float", value }),
  string: (value: string): AttrValue => ({ type: "string", value }),
};

export interface OnnxNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
  /** Operator set domain of a custom op (see native-ops.ts); absent for the default ONNX domain. */
  domain?: string;
  /** Removed by a rewrite pass (e.g. a BN folded into its conv); skipped at serialisation. */
  dropped?: boolean;
}

export interface OnnxInitializer {
  dims: number[];
  data: Float32Array | BigInt64Array;
}

/** A dimension: a fixed size, a symbolic name (e.g. "N" for a dynamic batch), or null (unknown). */
export type OnnxDim = number | string | null;

export interface OnnxGraphIO {
  name: string;
  dims: OnnxDim[];
}

export class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers = new Map<string, OnnxInitializer>();
  /** Shapes of intermediate values onnxruntime cannot infer itself (custom ops' outputs). */
  readonly valueInfo: OnnxGraphIO[] = [];
  private readonly constKeys = new Map<string, string>();
  private counter = 0;

  /** A fresh value name with a readable prefix. */
  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  addNode(opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}): OnnxNode {
    const node: OnnxNode = { opType, inputs, outputs, attrs };
    this.nodes.push(node);
    return node;
  }

  /** One-output node; returns the output name. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    const out = this.fresh(opType.toLowerCase());
    this.addNode(opType, inputs, [out], attrs);
    return out;
  }

  /** The producer and the readers of every value, over the nodes not dropped (for rewrite passes). */
  links(): { producer: Map<string, OnnxNode>; readers: Map<string, OnnxNode[]> } {
    const producer = new Map<string, OnnxNode>();
    const readers = new Map<string, OnnxNode[]>();
    for (const n of this.nodes) {
      if (n.dropped) continue;
      for (const o of n.outputs) producer.set(o, n);
      for (const i of n.inputs) {
        const list = readers.get(i);
        if (list) list.push(n);
        else readers.set(i, [n]);
      }
    }
    return { producer, readers };
  }

  setInitializer(name: string, init: OnnxInitializer): string {
    this.initializers.set(name, init);
    return name;
  }

  /** An int64 constant (shapes, indices, pads), deduplicated by content. */
  int64(values: number[], dims: number[] = [values.length]): string {
    const key = `${dims.join("x")}:${values.join(",")}`;
    let name = this.constKeys.get(key);
    if (!name) {
      name = this.fresh("const_i64");
      this.constKeys.set(key, name);
      this.setInitializer(name, { dims, data: BigInt64Array.from(values, (v) => BigInt(v)) });
    }
    return name;
  }

  /** A float32 constant (e.g. Resize scales), deduplicated by content. */
  float32(values: number[], dims: number[] = [values.length]): string {
    const key = `f32:${dims.join("x")}:${values.join(",")}`;
    let name = this.constKeys.get(key);
    if (!name) {
      name = this.fresh("const_f32");
      this.constKeys.set(key, name);
      this.setInitializer(name, { dims, data: Float32Array.from(values) });
    }
    return name;
  }

  /** Drop initializers no live node reads (e.g. raw weights replaced by folded ones). */
  pruneInitializers(): void {
    const used = new Set<string>();
    for (const n of this.nodes) if (!n.dropped) n.inputs.forEach((i) => used.add(i));
    for (const name of [...this.initializers.keys()]) if (!used.has(name)) this.initializers.delete(name);
  }

  toBytes(opts: { opset: number; inputs: OnnxGraphIO[]; outputs: OnnxGraphIO[]; graphName: string; docString?: string }): Uint8Array {
    const graph = create(GraphProtoSchema, {
      name: opts.graphName,
      node: this.nodes
        .filter((n) => !n.dropped)
        .map((n, i) =>
          create(NodeProtoSchema, {
            name: `${n.opType}_${i}`,
            opType: n.opType,
            domain: n.domain ?? "",
            input: n.inputs,
            output: n.outputs,
            attribute: Object.entries(n.attrs).map(([k, v]) => toAttribute(k, v)),
          }),
        ),
      initializer: [...this.initializers].map(([name, t]) => toTensor(name, t)),
      input: opts.inputs.map(valueInfo),
      output: opts.outputs.map(valueInfo),
      valueInfo: this.valueInfo.map(valueInfo),
    });
    const model = create(ModelProtoSchema, {
      irVersion: BigInt(irVersionFor(opts.opset)),
      producerName: "blvnet",
      producerVersion: "0.1.0",
      docString: opts.docString ?? "",
      opsetImport: [
        create(OperatorSetIdProtoSchema, { domain: "", version: BigInt(opts.opset) }),
        // custom-op domains are at version 1
        ...[...new Set(this.nodes.filter((n) => !n.dropped && n.domain).map((n) => n.domain!))].map((domain) =>
          create(OperatorSetIdProtoSchema, { domain, version: 1n }),
        ),
      ],
      graph,
    });
    return toBinary(ModelProtoSchema, model);
  }
}

/** The lowest IR version that carries an opset (ONNX release table). */
export function irVersionFor(opset: number): number {
  if (opset <= 17) return 8;
  if (opset <= 20) return 9;
  if (opset <= 22) return 10;
  return 11;
}

function toAttribute(name: string, v: AttrValue): AttributeProto {
  switch (v.type) {
    case "int":
      return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INT, i: BigInt(v.value) });
    case "ints":
      return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INTS, ints: v.value.map((x) => BigInt(x)) });
    case "float":
      return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.FLOAT, f: v.value });
    case "floats":
      return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.FLOATS, floats: v.value });
    case "string":
      return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.STRING, s: new TextEncoder().encode(v.value) });
  }
}

function toTensor(name: string, t: OnnxInitializer): TensorProto {
  const isFloat = t.data instanceof Float32Array;
  // rawData is little-endian bytes (the host order on every platform we run); a view of exactly
  // this array, not its whole buffer, and no copy (weights can be hundreds of MB).
  const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return create(TensorProtoSchema, {
    name,
    dims: t.dims.map((d) => BigInt(d)),
    dataType: isFloat ? TensorProto_DataType.FLOAT : TensorProto_DataType.INT64,
    rawData: raw as Uint8Array<ArrayBuffer>,
  });
}

function valueInfo(io: OnnxGraphIO): ValueInfoProto {
  const dims = io.dims.map((d) =>
    create(TensorShapeProto_DimensionSchema, {
      value: d === null ? undefined : typeof d === "number" ? { case: "dimValue", value: BigInt(d) } : { case: "dimParam", value: d },
    }),
  );
  return create(ValueInfoProtoSchema, {
    name: io.name,
    type: create(TypeProtoSchema, {
      value: {
        case: "tensorType",
        value: create(TypeProto_TensorSchema, {
          elemType: TensorProto_DataType.FLOAT,
          shape: create(TensorShapeProtoSchema, { dim: dims }),
        }),
      },
    }),
  });
}
