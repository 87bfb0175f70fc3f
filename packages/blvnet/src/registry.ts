/**
 * Registry entries: `blvnet-tam` (the paper's model) and `blvnet` (the same bLResNet with every TAM
 * removed, the "notam" ablation). Both build goldens of family `blvnet`.
 */
import { float, int, OFFICIAL_WIDTH, type OptionsOf, registerModel } from "@blvnet/core";
import { BLVNet } from "./model.js";

const clip = {
  depth: int(50, "bLResNet depth", { choices: [50, 101, 152] }),
  alpha: int(2, "channel ratio big/little", { min: 1 }),
  beta: int(4, "block ratio big/little", { min: 1 }),
  frames: int(16, "input frames per clip (f{K}x2 = 2K frames)", { min: 2, parity: "even" }),
};
const head = {
  numClasses: int(174, "classes (Something-Something: 174)", { min: 1 }),
  dropout: float(0.5, "dropout before the classifier (> 0 puts it in new_fc.*, like the official code)", { min: 0, below: 1 }),
  // Each stride-2 stage needs at least one pixel; 32 is the smallest input with a 1x1 layer4.
  size: int(224, "input height = width", { min: 32 }),
  width: int(OFFICIAL_WIDTH, "base channel width (64 = official; smaller for quick CPU runs)", { min: 1 }),
};
const noTam = { ...clip, ...head };
const withTam = { ...clip, blendingFrames: int(3, "temporal offsets blended by each TAM", { min: 1, parity: "odd" }), ...head };

/** bLVNet's options; blendingFrames 0 = no TAM (the `blvnet` entry). */
export type BLVNetOptions = OptionsOf<typeof withTam>;

// The little branch is width/alpha channels wide (and 2^s times that per stage).
const check = (o: { alpha: number; width: number }) =>
  o.width % o.alpha !== 0 ? `alpha must divide width (${o.width}), got ${o.alpha}` : undefined;

const num = (v: unknown): number | undefined =>
  typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v)) ? Number(v) : undefined;

/** Whether a golden config asks for TAM (on unless it says tam: false / blending_frames: 0). */
function goldenWantsTam(c: Record<string, unknown>): boolean {
  for (const k of ["tam", "with_tam", "use_tam"]) {
    if (c[k] === false || c[k] === 0 || c[k] === "false") return false;
  }
  const bf = num(c.blending_frames);
  return bf === undefined || bf > 0;
}

/** Official kwargs (depth, groups, num_classes, blending_frames, alpha, beta, dropout, resolution) -> options. */
function fromGoldenConfig(tam: boolean) {
  return (c: Record<string, unknown>): Partial<BLVNetOptions> | null => {
    if (goldenWantsTam(c) !== tam) return null;
    const pick = (...names: string[]) => names.map((n) => num(c[n])).find((v) => v !== undefined);
    const out: Partial<BLVNetOptions> = {
      depth: pick("depth"),
      alpha: pick("alpha"),
      beta: pick("beta"),
      frames: pick("groups", "num_frames", "frames"),
      numClasses: pick("num_classes"),
      size: pick("resolution", "input_shape", "size"),
      ...(tam ? { blendingFrames: pick("blending_frames") } : {}),
      // The goldens are made with dropout 0 (classifier at baseline_model.fc) unless they say otherwise.
      dropout: num(c.dropout) ?? 0,
    };
    return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
  };
}

registerModel({
  name: "blvnet-tam",
  description: "bLVNet-TAM (big-little ResNet on frame pairs + Temporal Aggregation Modules), official IBM/bLVNet-TAM",
  goldenFamilies: ["blvnet"],
  options: withTam,
  check,
  create: (o) => new BLVNet(o),
  fromGoldenConfig: fromGoldenConfig(true),
});

registerModel({
  name: "blvnet",
  description: "bLVNet without TAM (every TAM removed: bLResNet applied per frame pair, logits averaged)",
  goldenFamilies: ["blvnet"],
  options: noTam,
  check,
  create: ({ depth, alpha, beta, frames, ...rest }) => new BLVNet({ depth, alpha, beta, frames, blendingFrames: 0, ...rest }),
  fromGoldenConfig: fromGoldenConfig(false),
});
