/**
 * Time shifts without layout round trips, as a rewrite of the model onnxruntime itself optimised.
 *
 * On the CPU, onnxruntime runs convolutions in a channel-blocked layout (NCHWc: [N, C/b, H, W, b])
 * and converts back to NCHW (ReorderOutput) before any op it has no blocked kernel for, then to
 * blocked again (ReorderInput) after it. TAM's and TSM's time shifts are such ops (Pad over frames,
 * channel Split/Concat), so every shift costs two extra passes over the map. Yet each of them moves
 * whole frames, or whole channel blocks within frames, which are contiguous in the blocked layout
 * too: the same ops applied to the blocked tensor (viewed with matching shapes) give the blocked
 * result. This rewrite does that on the graph onnxruntime saved after its optimisations, so the
 * session it then opens (optimisations off) runs the shifts on blocked maps directly. Exact: the
 * same values are copied, nothing is computed.
 *
 * Patterns (N, C, H, W of the map; T frames per clip; every channel count a multiple of 16, a
 * multiple of every NCHWc block size, so blocks never straddle the cut):
 *   shift:   ReorderOutput -> Reshape [n, T, C*H*W] -> Pad (frames axis only) -> Reshape [N, C, H, W] -> ReorderInput
 *   channel shift (TSM): ReorderOutput -> Split (channels) -> parts, each as is or shifted as above
 *            -> Concat (channels) -> ReorderInput
 *   blend:   ReorderOutput (each base) -> RowBlend (native-ops.ts) -> ReorderInput and/or a residual
 *            Add + Relu; the RowBlend then reads and writes blocked maps (its `block` attribute: the
 *            block size onnxruntime uses on this CPU, `RewriteOptions.block`; none given: no blend
 *            rewrite), and the residual joins the conv before it as its fused Sum, as onnxruntime
 *            itself fuses residuals. Not exact to the bit in general (RowBlend sums its terms in its own
 *            order), exact in the tests so far.
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  AttributeProto_AttributeType,
  AttributeProtoSchema,
  type ModelProto,
  ModelProtoSchema,
  type NodeProto,
  NodeProtoSchema,
  type TensorProto,
  TensorProtoSchema,
  ValueInfoProtoSchema,
} from "onnx-buf";
import { ROW_BLEND_DOMAIN, ROW_BLEND_OP } from "../onnx/onnxops.js";

const NCHWC = "com.microsoft.nchwc";
/** Channel counts must be multiples of this: every NCHWc block size onnxruntime uses (8 on AVX2, 16 on AVX-512). */
const BLOCK_MULTIPLE = 16;
/** TensorProto.DataType.INT64 */
const INT64 = 7;

export interface ElidedReorders {
  bytes: Uint8Array;
  /** Shift chains rewritten to run on blocked maps (0: the model is returned unchanged). */
  rewrites: number;
}

export interface RewriteOptions {
  /** onnxruntime's NCHWc block size on this CPU (8 or 16); needed to rewrite RowBlends. */
  block?: number;
}

/** Rewrite an onnxruntime-optimised model (see the module comment). */
export function elideNchwcReorders(optimized: Uint8Array, opts: RewriteOptions = {}): ElidedReorders {
  const model = fromBinary(ModelProtoSchema, optimized);
  const graph = model.graph;
  if (!graph) return { bytes: optimized, rewrites: 0 };
  const rw = new Rewriter(model);
  for (const ri of graph.node.filter((n) => n.opType === "ReorderInput" && n.domain === NCHWC && !channelsLast(n))) {
    const source = rw.producer.get(ri.input[0]);
    if (source?.opType === "Reshape") rw.shift(ri, source);
    else if (source?.opType === "Concat" && source.domain === "") rw.channelShift(ri, source);
  }
  if (opts.block)
    for (const n of graph.node.filter((n) => n.opType === ROW_BLEND_OP && n.domain === ROW_BLEND_DOMAIN)) rw.blend(n, opts.block);
  if (!rw.rewrites) return { bytes: optimized, rewrites: 0 };
  graph.node = rw.result();
  return { bytes: toBinary(ModelProtoSchema, model), rewrites: rw.rewrites };
}

/** A frame shift of one map: Reshape [n, T, C*H*W] -> Pad on axis 1 -> Reshape [N, C, H, W]. */
interface ShiftChain {
  /** The value shifted (an NCHW map). */
  input: string;
  clipShape: number[];
  pad: NodeProto;
  /** [N, C, H, W] (N may be -1). */
  mapShape: number[];
  /** The first Reshape (it may also feed other shifts of the same map) and the Pad and last Reshape. */
  first: NodeProto;
  nodes: NodeProto[];
}

/** A residual join onnxruntime left unfused because one side is a RowBlend (see Rewriter.blend). */
interface Residual {
  add: NodeProto;
  reorder: NodeProto;
  conv: NodeProto;
  relu: NodeProto;
  ri: NodeProto;
}

class Rewriter {
  readonly producer = new Map<string, NodeProto>();
  private readonly graphOutputs: Set<string>;
  private readonly readers = new Map<string, NodeProto[]>();
  private readonly ints = new Map<string, number[]>();
  private readonly dropped = new Set<NodeProto>();
  /** New nodes, placed where the ReorderInput they replace was. */
  private readonly replacing = new Map<NodeProto, NodeProto[]>();
  private readonly newInts: TensorProto[] = [];
  rewrites = 0;

  constructor(private readonly model: ModelProto) {
    const graph = model.graph!;
    this.graphOutputs = new Set(graph.output.map((o) => o.name));
    for (const n of graph.node) {
      for (const o of n.output) this.producer.set(o, n);
      for (const i of n.input) this.readers.set(i, [...(this.readers.get(i) ?? []), n]);
    }
    for (const t of graph.initializer) {
      const v = int64s(t);
      if (v) this.ints.set(t.name, v);
    }
  }

  /** ReorderInput(Reshape(Pad(Reshape(ReorderOutput(x))))) -> Reshape(Pad(Reshape(x))). */
  shift(ri: NodeProto, last: NodeProto): void {
    const chain = this.shiftChain(last);
    if (!chain || !this.onlyReader(last.output[0], ri)) return;
    const blocked = this.blockedSource(chain.input);
    if (!blocked || chain.mapShape[1] % BLOCK_MULTIPLE !== 0) return;
    const nodes: NodeProto[] = [];
    this.emitShift(blocked, chain, ri.output[0], nodes);
    this.replace(ri, nodes, [ri, ...chain.nodes]);
  }

  /** ReorderInput(Concat(parts of Split(ReorderOutput(x)), some shifted)) on blocked channel groups. */
  channelShift(ri: NodeProto, concat: NodeProto): void {
    if (attrInt(concat, "axis") !== 1 || !this.onlyReader(concat.output[0], ri)) return;
    const parts = concat.input.map((name) => {
      const direct = this.producer.get(name);
      if (direct?.opType === "Split") return { split: direct, output: name, chain: null as ShiftChain | null };
      const chain = direct?.opType === "Reshape" ? this.shiftChain(direct) : null;
      const split = chain ? this.producer.get(chain.input) : undefined;
      return split?.opType === "Split" && chain ? { split, output: chain.input, chain } : null;
    });
    if (parts.some((p) => !p)) return;
    const split = parts[0]!.split;
    const sizes = split.input[1] ? this.ints.get(split.input[1]) : undefined;
    const blocked = this.blockedSource(split.input[0]);
    const hw = parts.find((p) => p!.chain)?.chain?.mapShape.slice(2);
    const inOrder = parts.every((p, i) => p!.split === split && split.output[i] === p!.output) && parts.length === split.output.length;
    if (!sizes || !blocked || !hw || !inOrder || attrInt(split, "axis") !== 1 || sizes.some((s) => s % BLOCK_MULTIPLE !== 0)) return;
    if (!split.output.every((o, i) => (this.readers.get(o) ?? []).length === 1 && this.onlyChainReader(o, parts[i]!.chain))) return;
    const c = sizes.reduce((a, b) => a + b, 0);
    const plane = hw[0] * hw[1];
    // Channel blocks of a frame are contiguous in NCHWc: view [N, C/16, 16*H*W], split and join on axis 1.
    const groups = (channels: number) => [-1, channels / BLOCK_MULTIPLE, BLOCK_MULTIPLE * plane];
    const tag = `${ri.name || ri.output[0]}/blocked`;
    const nodes: NodeProto[] = [];
    const grouped = this.reshape(blocked, groups(c), `${tag}/groups`, nodes);
    const splitOut = sizes.map((_, i) => `${tag}/part${i}`);
    nodes.push(
      create(NodeProtoSchema, {
        name: `${tag}/split`,
        opType: "Split",
        input: [
          grouped,
          this.constInts(
            `${tag}/split_sizes`,
            sizes.map((s) => s / BLOCK_MULTIPLE),
          ),
        ],
        output: splitOut,
        attribute: split.attribute,
      }),
    );
    const joined = parts.map((p, i) => {
      if (!p!.chain) return splitOut[i];
      const shifted = this.emitShift(splitOut[i], p!.chain, `${tag}/shifted${i}`, nodes);
      return this.reshape(shifted, groups(sizes[i]), `${tag}/regroup${i}`, nodes);
    });
    const cat = `${tag}/concat`;
    nodes.push(create(NodeProtoSchema, { name: cat, opType: "Concat", input: joined, output: [cat], attribute: concat.attribute }));
    this.reshape(cat, [-1, c, hw[0], hw[1]], `${tag}/map`, nodes, ri.output[0]);
    this.replace(ri, nodes, [ri, concat, split, ...parts.flatMap((p) => p!.chain?.nodes ?? [])]);
  }

  /**
   * RowBlend(ReorderOutput(x_i)...) read by a ReorderInput and/or residual Adds -> RowBlend(x_i...)
   * with `block` set, in place of the blend; each residual ReorderInput(Relu(Add(ReorderOutput(
   * Conv(..)), blend))) becomes that Conv with the blocked blend as its Sum input and a fused ReLU,
   * as onnxruntime itself fuses a residual that comes from a conv.
   */
  blend(blend: NodeProto, block: number): void {
    const readers = this.readers.get(blend.output[0]) ?? [];
    const reorders = readers.filter((r) => r.opType === "ReorderInput" && r.domain === NCHWC && !channelsLast(r));
    const residuals = readers.filter((r) => !reorders.includes(r)).map((r) => this.residual(r, blend.output[0]));
    if (reorders.length > 1 || residuals.some((r) => !r) || this.graphOutputs.has(blend.output[0])) return;
    const bases = blend.input.slice(1).map((name) => {
      const ro = this.producer.get(name);
      const blocked = this.blockedSource(name);
      return blocked && (attrInt(ro!, "channels") ?? 1) % BLOCK_MULTIPLE === 0 ? blocked : null;
    });
    if (!bases.length || bases.some((b) => !b)) return;
    const tag = blend.name || blend.output[0];
    const output = reorders[0]?.output[0] ?? `${tag}/blocked`;
    const attribute = [
      ...blend.attribute.filter((a) => a.name !== "block"),
      create(AttributeProtoSchema, { name: "block", type: AttributeProto_AttributeType.INT, i: BigInt(block) }),
    ];
    const node = create(NodeProtoSchema, {
      name: `${tag}/blocked`,
      opType: ROW_BLEND_OP,
      domain: ROW_BLEND_DOMAIN,
      input: [blend.input[0], ...(bases as string[])],
      output: [output],
      attribute,
    });
    this.replace(blend, [node], [blend, ...reorders]);
    // Its shape (as its NCHW output's, which the export declared): onnxruntime infers none for a
    // custom op, and without shapes downstream it plans no memory reuse (a fused Sum is then copied).
    const graph = this.model.graph!;
    const declared = graph.valueInfo.find((v) => v.name === blend.output[0]);
    if (declared) {
      graph.valueInfo = graph.valueInfo.filter((v) => v.name !== output);
      graph.valueInfo.push(create(ValueInfoProtoSchema, { ...declared, name: output }));
    }
    for (const r of residuals as Residual[]) {
      const [x, w, b] = r.conv.input;
      const fused = create(NodeProtoSchema, {
        name: `${r.conv.name || r.conv.output[0]}/residual`,
        opType: "Conv",
        domain: NCHWC,
        input: [x, w, b ?? "", output],
        output: [r.ri.output[0]],
        attribute: [
          ...r.conv.attribute,
          create(AttributeProtoSchema, {
            name: "activation",
            type: AttributeProto_AttributeType.STRING,
            s: new TextEncoder().encode("Relu"),
          }),
        ],
      });
      this.replace(r.ri, [fused], [r.ri, r.relu, r.add, r.reorder, r.conv]);
    }
  }

  /** ReorderInput(Relu(Add(ReorderOutput(Conv(..)), value))) around `add`, the conv blocked and unfused, or null. */
  private residual(add: NodeProto, value: string): Residual | null {
    if (add.opType !== "Add" || add.domain !== "" || add.input.length !== 2) return null;
    const other = add.input[0] === value ? add.input[1] : add.input[0];
    const reorder = this.producer.get(other);
    const conv = reorder ? this.producer.get(reorder.input[0]) : undefined;
    const relu = this.soleReader(add.output[0]);
    const ri = relu ? this.soleReader(relu.output[0]) : null;
    const ok =
      reorder?.opType === "ReorderOutput" &&
      reorder.domain === NCHWC &&
      !channelsLast(reorder) &&
      this.onlyReader(other, add) &&
      conv?.opType === "Conv" &&
      conv.domain === NCHWC &&
      conv.input.length <= 3 &&
      !conv.attribute.some((a) => a.name === "activation") &&
      this.onlyReader(reorder.input[0], reorder) &&
      relu?.opType === "Relu" &&
      relu.domain === "" &&
      ri?.opType === "ReorderInput" &&
      ri.domain === NCHWC &&
      !channelsLast(ri);
    return ok ? { add, reorder: reorder!, conv: conv!, relu: relu!, ri: ri! } : null;
  }

  private soleReader(value: string): NodeProto | null {
    const r = this.readers.get(value) ?? [];
    return r.length === 1 && !this.graphOutputs.has(value) ? r[0] : null;
  }

  /** The nodes in graph order, rewritten chains in place and nodes left without readers dropped. */
  result(): NodeProto[] {
    const graph = this.model.graph!;
    graph.initializer.push(...this.newInts);
    let nodes = graph.node.flatMap((n) => this.replacing.get(n) ?? (this.dropped.has(n) ? [] : [n]));
    // ReorderOutputs (and their Reshapes) whose every reader moved to the blocked map
    const outputs = new Set(graph.output.map((o) => o.name));
    for (let pruned = true; pruned; ) {
      const read = new Set(nodes.flatMap((n) => n.input));
      const kept = nodes.filter((n) => n.output.some((o) => read.has(o) || outputs.has(o)));
      pruned = kept.length !== nodes.length;
      nodes = kept;
    }
    // constants of the dropped nodes (onnxruntime warns once per unused initializer)
    const used = new Set([...nodes.flatMap((n) => n.input), ...outputs, ...graph.input.map((i) => i.name)]);
    graph.initializer = graph.initializer.filter((t) => used.has(t.name));
    return nodes;
  }

  private shiftChain(last: NodeProto): ShiftChain | null {
    const pad = this.producer.get(last.input[0]);
    const first = pad?.opType === "Pad" ? this.producer.get(pad.input[0]) : undefined;
    if (!pad || first?.opType !== "Reshape" || pad.domain !== "" || !this.onlyReader(pad.output[0], last)) return null;
    const clipShape = this.ints.get(first.input[1]);
    const mapShape = this.ints.get(last.input[1]);
    const pads = this.ints.get(pad.input[1]);
    const mode = pad.attribute.find((a) => a.name === "mode");
    const constantMode = !mode || new TextDecoder().decode(mode.s) === "constant";
    if (!clipShape || !mapShape || !pads || clipShape.length !== 3 || mapShape.length !== 4 || pad.input.length > 2 || !constantMode)
      return null;
    // whole frames only: pads on axis 1 of [n, T, C*H*W], and C*H*W one frame of the map
    if (!pads.every((v, i) => v === 0 || i === 1 || i === 4) || clipShape[2] !== mapShape[1] * mapShape[2] * mapShape[3]) return null;
    return { input: first.input[0], clipShape, pad, mapShape, first, nodes: [pad, last] };
  }

  /** The blocked map a ReorderOutput (NCHW) made `name` from, or null. */
  private blockedSource(name: string): string | null {
    const ro = this.producer.get(name);
    return ro?.opType === "ReorderOutput" && ro.domain === NCHWC && !channelsLast(ro) ? ro.input[0] : null;
  }

  /** The chain's Reshape -> Pad -> Reshape on a blocked map, appended to `nodes`; returns `output`. */
  private emitShift(blocked: string, chain: ShiftChain, output: string, nodes: NodeProto[]): string {
    const tag = `${output}/shift`;
    const clips = this.reshape(blocked, chain.clipShape, `${tag}/clips`, nodes);
    nodes.push(
      create(NodeProtoSchema, {
        name: `${tag}/pad`,
        opType: "Pad",
        input: [clips, chain.pad.input[1]],
        output: [`${tag}/pad`],
        attribute: chain.pad.attribute,
      }),
    );
    return this.reshape(`${tag}/pad`, chain.mapShape, `${tag}/map`, nodes, output);
  }

  private reshape(input: string, shape: number[], name: string, nodes: NodeProto[], output = name): string {
    nodes.push(
      create(NodeProtoSchema, { name, opType: "Reshape", input: [input, this.constInts(`${name}/shape`, shape)], output: [output] }),
    );
    return output;
  }

  private constInts(name: string, values: number[]): string {
    this.newInts.push(
      create(TensorProtoSchema, { name, dims: [BigInt(values.length)], dataType: INT64, int64Data: values.map((v) => BigInt(v)) }),
    );
    this.ints.set(name, values);
    return name;
  }

  private replace(ri: NodeProto, nodes: NodeProto[], gone: NodeProto[]): void {
    for (const n of gone) this.dropped.add(n);
    this.replacing.set(ri, nodes);
    this.rewrites++;
  }

  private onlyReader(value: string, reader: NodeProto): boolean {
    const r = this.readers.get(value) ?? [];
    return r.length === 1 && r[0] === reader;
  }

  private onlyChainReader(value: string, chain: ShiftChain | null): boolean {
    const r = this.readers.get(value) ?? [];
    return !chain || (r.length === 1 && r[0] === chain.first);
  }
}

function channelsLast(n: NodeProto): boolean {
  return attrInt(n, "channels_last") === 1;
}

function attrInt(n: NodeProto, name: string): number | null {
  const a = n.attribute.find((x) => x.name === name);
  return a ? Number(a.i) : null;
}

/** The values of an INT64 initializer (raw or typed), or null for another type. */
function int64s(t: TensorProto): number[] | null {
  if (t.dataType !== INT64) return null;
  if (t.int64Data.length) return t.int64Data.map(Number);
  const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
  return Array.from({ length: t.rawData.byteLength / 8 }, (_, i) => Number(view.getBigInt64(i * 8, true)));
}
