/**
 * Registry entries: `blvnet-tam` (the paper's model) and `blvnet` (the same bLResNet with every TAM
 * removed, the "notam" ablation). Both build goldens of family `blvnet`.
 */
import { registerModel, UserError, type ModelEntry, type ModelOption, type ModelOptions } from "@blvnet/core";
import { OFFICIAL_WIDTH, STAGE_BLOCKS } from "./backbone.js";
import { BLVNet } from "./model.js";

function options(withTam: boolean): ModelOption[] {
  const opts: ModelOption[] = [
    { name: "depth", type: "int", default: 50, description: "bLResNet depth", choices: [50, 101, 152] },
    { name: "alpha", type: "int", default: 2, description: "channel ratio big/little" },
    { name: "beta", type: "int", default: 4, description: "block ratio big/little" },
    { name: "frames", type: "int", default: 16, description: "input frames per clip (even; f{K}x2 = 2K frames)" },
    { name: "numClasses", type: "int", default: 174, description: "classes (Something-Something: 174)" },
    { name: "dropout", type: "float", default: 0.5, description: "dropout before the classifier (> 0 puts it in new_fc.*, like the official code)" },
    { name: "size", type: "int", default: 224, description: "input height = width" },
    { name: "width", type: "int", default: OFFICIAL_WIDTH, description: "base channel width (64 = official; smaller for quick CPU runs)" },
  ];
  if (withTam) opts.splice(4, 0, { name: "blendingFrames", type: "int", default: 3, description: "temporal offsets blended by each TAM (odd)" });
  return opts;
}

function build(withTam: boolean) {
  const name = withTam ? "blvnet-tam" : "blvnet";
  const fail = (msg: string): never => {
    throw new UserError(`model "${name}": ${msg}`);
  };
  return (o: ModelOptions): BLVNet => {
    const int = (k: string) => o[k] as number;
    const { depth, alpha, beta, frames, numClasses, size } = { depth: int("depth"), alpha: int("alpha"), beta: int("beta"), frames: int("frames"), numClasses: int("numClasses"), size: int("size") };
    const blendingFrames = withTam ? int("blendingFrames") : 0;
    const dropout = o.dropout as number;
    const width = int("width");
    if (!STAGE_BLOCKS[depth]) fail(`depth must be 50, 101 or 152, got ${depth}`);
    if (width < 1) fail(`width must be >= 1, got ${width}`);
    // The little branch is width/alpha channels wide (and 2^s times that per stage).
    if (alpha < 1 || width % alpha !== 0) fail(`alpha must divide width (${width}), got ${alpha}`);
    if (beta < 1) fail(`beta must be >= 1, got ${beta}`);
    if (frames < 2 || frames % 2 !== 0) fail(`frames must be even and >= 2 (f{K}x2 = 2K frames), got ${frames}`);
    if (withTam && (blendingFrames < 1 || blendingFrames % 2 !== 1)) fail(`blendingFrames must be odd and >= 1, got ${blendingFrames}`);
    if (numClasses < 1) fail(`numClasses must be >= 1, got ${numClasses}`);
    if (!(dropout >= 0 && dropout < 1)) fail(`dropout must be in [0, 1), got ${dropout}`);
    // Each stride-2 stage needs at least one pixel; 32 is the smallest input with a 1x1 layer4.
    if (size < 32) fail(`size must be >= 32, got ${size}`);
    return new BLVNet({ depth, alpha, beta, frames, blendingFrames, numClasses, dropout, size, width });
  };
}

const num = (v: unknown): number | undefined => (typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v)) ? Number(v) : undefined);

/** Whether a golden config asks for TAM (on unless it says tam: false / blending_frames: 0). */
function goldenWantsTam(c: Record<string, unknown>): boolean {
  for (const k of ["tam", "with_tam", "use_tam"]) {
    if (c[k] === false || c[k] === 0 || c[k] === "false") return false;
  }
  const bf = num(c.blending_frames);
  return bf === undefined || bf > 0;
}

/** Official kwargs (depth, groups, num_classes, blending_frames, alpha, beta, dropout, resolution) -> options. */
function fromGoldenConfig(withTam: boolean) {
  return (c: Record<string, unknown>): ModelOptions | null => {
    if (goldenWantsTam(c) !== withTam) return null;
    const out: ModelOptions = {};
    const pick = (key: string, ...names: string[]) => {
      for (const n of names) {
        const v = num(c[n]);
        if (v !== undefined) return void (out[key] = v);
      }
    };
    pick("depth", "depth");
    pick("alpha", "alpha");
    pick("beta", "beta");
    pick("frames", "groups", "num_frames", "frames");
    pick("numClasses", "num_classes");
    pick("size", "resolution", "input_shape", "size");
    if (withTam) pick("blendingFrames", "blending_frames");
    // The goldens are made with dropout 0 (classifier at baseline_model.fc) unless they say otherwise.
    out.dropout = num(c.dropout) ?? 0;
    return out;
  };
}

const entries: ModelEntry[] = [
  {
    name: "blvnet-tam",
    description: "bLVNet-TAM (big-little ResNet on frame pairs + Temporal Aggregation Modules), official IBM/bLVNet-TAM",
    goldenFamilies: ["blvnet"],
    options: options(true),
    create: build(true),
    fromGoldenConfig: fromGoldenConfig(true),
  },
  {
    name: "blvnet",
    description: "bLVNet without TAM (every TAM removed: bLResNet applied per frame pair, logits averaged)",
    goldenFamilies: ["blvnet"],
    options: options(false),
    create: build(false),
    fromGoldenConfig: fromGoldenConfig(false),
  },
];
entries.forEach(registerModel);
