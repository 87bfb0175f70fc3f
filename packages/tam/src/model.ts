/**
 * The standalone TAM as a registry model (`tam`), so the golden family `tam` can be verified and
 * TAM can be benchmarked on its own. Input: per-frame feature maps (N*T, C, H, W); output: same shape.
 * Its state-dict keys are the TAM's own (`prev.weight`, ... / `blending_layers.{k}.weight`), as in
 * the official module used alone.
 */
import { registerModel, UserError, VideoModel, type InputSpec, type ModelOptions, type Ops } from "@blvnet/core";
import { TAM } from "./tam.js";

export interface TamModelOptions {
  channels: number;
  frames: number;
  blendingFrames: number;
  size: number;
}

export class TamModel extends VideoModel {
  readonly family = "tam";
  readonly id: string;
  readonly inputSpec: InputSpec;
  readonly numClasses = 0;
  readonly options: Record<string, unknown>;
  readonly tam: TAM;

  constructor(opts: TamModelOptions) {
    super();
    this.options = { ...opts };
    this.tam = new TAM(opts.channels, opts.frames, opts.blendingFrames);
    // Register the TAM's convs at the root so the keys carry no prefix (like the official module alone).
    for (const [name, m] of this.tam.children()) this.child(name, m);
    this.id = `tam-c${opts.channels}-t${opts.frames}-bf${opts.blendingFrames}`;
    this.inputSpec = {
      layout: "(NT)CHW",
      frames: opts.frames,
      size: opts.size,
      channels: opts.channels,
      mean: [0, 0, 0],
      std: [1, 1, 1],
    };
  }

  forward<T>(ops: Ops<T>, x: T): T {
    return this.tam.forward(ops, x);
  }
}

function positiveInt(name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new UserError(`model "tam": ${name} must be a positive integer, got ${String(v)}`);
  return v;
}

registerModel({
  name: "tam",
  description: "Temporal Aggregation Module alone (feature maps (N*T, C, H, W) in and out)",
  goldenFamilies: ["tam"],
  options: [
    { name: "channels", type: "int", default: 64, description: "feature channels C" },
    { name: "frames", type: "int", default: 8, description: "frames per clip T (official: duration)" },
    { name: "blendingFrames", type: "int", default: 3, description: "temporal offsets blended (odd)" },
    { name: "size", type: "int", default: 14, description: "feature map height = width" },
  ],
  create(o: ModelOptions) {
    const blendingFrames = positiveInt("blendingFrames", o.blendingFrames);
    if (blendingFrames % 2 !== 1) throw new UserError(`model "tam": blendingFrames must be odd, got ${blendingFrames}`);
    return new TamModel({
      channels: positiveInt("channels", o.channels),
      frames: positiveInt("frames", o.frames),
      blendingFrames,
      size: positiveInt("size", o.size),
    });
  },
  fromGoldenConfig(c: Record<string, unknown>) {
    const opts: ModelOptions = {};
    const set = (key: string, ...names: string[]) => {
      for (const n of names) if (typeof c[n] === "number") return void (opts[key] = c[n] as number);
    };
    set("channels", "channels");
    set("frames", "duration", "frames", "num_frames");
    set("blendingFrames", "blending_frames");
    set("size", "resolution", "size");
    return opts;
  },
});
