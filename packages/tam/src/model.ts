/**
 * The standalone TAM as a registry model (`tam`), so the golden family `tam` can be verified and
 * TAM can be benchmarked on its own. Input: per-frame feature maps (N*T, C, H, W); output: same shape.
 * Its state-dict keys are the TAM's own (`prev.weight`, ... / `blending_layers.{k}.weight`), as in
 * the official module used alone.
 */
import { type InputSpec, int, type Module, type Ops, type OptionsOf, type Param, registerModel, VideoModel } from "@blvnet/core";
import { TAM } from "./tam.js";

export const tamOptions = {
  channels: int(64, "feature channels C", { min: 1 }),
  frames: int(8, "frames per clip T (official: duration)", { min: 1 }),
  blendingFrames: int(3, "temporal offsets blended", { min: 1, parity: "odd" }),
  size: int(14, "feature map height = width", { min: 1 }),
};
export type TamModelOptions = OptionsOf<typeof tamOptions>;

export class TamModel extends VideoModel<TamModelOptions> {
  readonly family = "tam";
  readonly id = `tam-c${this.cfg.channels}-t${this.cfg.frames}-bf${this.cfg.blendingFrames}`;
  readonly numClasses = 0;
  readonly inputSpec: InputSpec = {
    layout: "(NT)CHW",
    frames: this.cfg.frames,
    size: this.cfg.size,
    channels: this.cfg.channels,
    mean: [0, 0, 0],
    std: [1, 1, 1],
  };
  // A private field, so the TAM's convs sit at the root (no `tam.` prefix), like the official module alone.
  readonly #tam = new TAM(this.cfg.channels, this.cfg.frames, this.cfg.blendingFrames);

  get tam(): TAM {
    return this.#tam;
  }
  override members(): [string, Param | Module][] {
    return this.#tam.members();
  }
  forward<T>(ops: Ops<T>, x: T): T {
    return this.#tam.forward(ops, x);
  }
}

registerModel({
  name: "tam",
  description: "Temporal Aggregation Module alone (feature maps (N*T, C, H, W) in and out)",
  goldenFamilies: ["tam"],
  options: tamOptions,
  create: (o) => new TamModel(o),
  fromGoldenConfig(c) {
    const n = (...names: string[]) => names.map((k) => c[k]).find((v): v is number => typeof v === "number");
    const out = {
      channels: n("channels"),
      frames: n("duration", "frames", "num_frames"),
      blendingFrames: n("blending_frames"),
      size: n("resolution", "size"),
    };
    return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
  },
});
