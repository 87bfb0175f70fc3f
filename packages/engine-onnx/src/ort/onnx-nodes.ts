/**
 * A minimal read-only walk over ONNX ModelProto bytes (protobuf wire format): the main graph's nodes
 * with name, op type, inputs and outputs. No dependencies, no copies of tensor data; enough to pick
 * nodes by op type before a session is created (e.g. WebGPU workarounds below).
 */

export interface OnnxNodeInfo {
  name: string;
  opType: string;
  inputs: string[];
  outputs: string[];
}

class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }
  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
    }
  }
  /** Next field: [field number, wire type, start, end] of its payload (varint/fixed payloads are skipped). */
  next(): { field: number; wire: number; start: number; end: number } | null {
    if (this.pos >= this.end) return null;
    const key = this.varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    const start = this.pos;
    switch (wire) {
      case 0:
        this.varint();
        break;
      case 1:
        this.pos += 8;
        break;
      case 2: {
        const len = this.varint();
        const s = this.pos;
        this.pos += len;
        return { field, wire, start: s, end: s + len };
      }
      case 5:
        this.pos += 4;
        break;
      default:
        throw new Error(`unsupported protobuf wire type ${wire} at byte ${start}`);
    }
    return { field, wire, start, end: this.pos };
  }
}

const text = new TextDecoder();

/** Nodes of the main graph (ModelProto.graph = field 7; GraphProto.node = field 1). */
export function onnxNodes(bytes: Uint8Array): OnnxNodeInfo[] {
  const model = new Reader(bytes);
  const nodes: OnnxNodeInfo[] = [];
  for (let f = model.next(); f; f = model.next()) {
    if (f.field !== 7 || f.wire !== 2) continue;
    const graph = new Reader(bytes, f.start, f.end);
    for (let g = graph.next(); g; g = graph.next()) {
      if (g.field !== 1 || g.wire !== 2) continue;
      const n: OnnxNodeInfo = { name: "", opType: "", inputs: [], outputs: [] };
      const node = new Reader(bytes, g.start, g.end);
      for (let h = node.next(); h; h = node.next()) {
        if (h.wire !== 2) continue;
        const s = () => text.decode(bytes.subarray(h.start, h.end));
        if (h.field === 1) n.inputs.push(s());
        else if (h.field === 2) n.outputs.push(s());
        else if (h.field === 3) n.name = s();
        else if (h.field === 4) n.opType = s();
      }
      nodes.push(n);
    }
  }
  return nodes;
}

/**
 * Nodes that onnxruntime 1.30's WebGPU EP claims but cannot run, to pin to the CPU EP with the
 * webgpu option `forceCpuNodeNames`:
 *   - MaxPool with its second (Indices) output: the EP's kernel registration accepts the node, then
 *     fails at run time with "pool.cc:276 ComputeInternal The Indices output is not supported yet".
 * Unnamed nodes cannot be pinned (onnxruntime matches by name); they are returned as "" and reported.
 */
export function webgpuUnsupportedNodes(bytes: Uint8Array): { names: string[]; unnamed: number } {
  const hits = onnxNodes(bytes).filter((n) => n.opType === "MaxPool" && n.outputs.length > 1 && n.outputs[1] !== "");
  return { names: hits.map((n) => n.name).filter(Boolean), unnamed: hits.filter((n) => !n.name).length };
}
