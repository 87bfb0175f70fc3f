/** Registry entries of the 3D CNNs: `r3d`, `mc3`, `r2plus1d` (torchvision) and `i3d` (I3D-ResNet). */
import { type ModelEntry, registerModel } from "@blvnet/core";
import { video3dFromGolden } from "./golden-config.js";
import { I3D_DEPTHS, I3DResNet } from "./i3d.js";
import { classesOption, dropoutOption, frameOption, intAtLeast, probability, sizeOption } from "./options.js";
import { VIDEO_DEPTHS, type VideoArch, VideoResNet } from "./video-resnet.js";

const DESCRIPTIONS: Record<VideoArch, string> = {
  r3d: "R3D: 3D ResNet, 3x3x3 convs throughout (torchvision r3d_18)",
  mc3: "MC3: mixed convolutions, 3x3x3 in layer1 then 1x3x3 (torchvision mc3_18)",
  r2plus1d: "R(2+1)D: each 3x3x3 factorised into 1x3x3 + 3x1x1 (torchvision r2plus1d_18)",
};

function videoResNetEntry(arch: VideoArch): ModelEntry {
  return {
    name: arch,
    description: DESCRIPTIONS[arch],
    goldenFamilies: ["video3d"],
    options: [
      { name: "depth", type: "int", default: 18, description: "ResNet depth (basic blocks)", choices: VIDEO_DEPTHS },
      frameOption(16),
      sizeOption(112),
      classesOption(400),
      dropoutOption(0, "dropout before fc (torchvision has none)"),
    ],
    create(o) {
      const depth = o.depth as number;
      const frames = intAtLeast(arch, o, "frames", 1);
      return new VideoResNet({
        arch,
        depth,
        frames,
        size: intAtLeast(arch, o, "size", 16),
        numClasses: intAtLeast(arch, o, "numClasses", 1),
        dropout: probability(arch, o, "dropout"),
        id: `${arch}-${depth}-f${frames}`,
        options: { ...o },
      });
    },
    fromGoldenConfig(cfg) {
      const g = video3dFromGolden(cfg);
      return g.arch === arch ? g.options : null;
    },
  };
}

export const i3dEntry: ModelEntry = {
  name: "i3d",
  description: "I3D-ResNet (non-local paper's released 8-frame I3D: 5x7x7 stem, 3x1x1 in every other block)",
  options: [
    { name: "depth", type: "int", default: 50, description: "ResNet depth", choices: I3D_DEPTHS },
    frameOption(8),
    sizeOption(224),
    classesOption(400),
    dropoutOption(0.5, "dropout before fc"),
  ],
  create(o) {
    const depth = o.depth as number;
    const frames = intAtLeast("i3d", o, "frames", 2);
    return new I3DResNet({
      depth,
      frames,
      size: intAtLeast("i3d", o, "size", 32),
      numClasses: intAtLeast("i3d", o, "numClasses", 1),
      dropout: probability("i3d", o, "dropout"),
      id: `i3d-r${depth}-f${frames}`,
      options: { ...o },
    });
  },
};

export function registerVideo3dModels(): void {
  for (const arch of ["r3d", "mc3", "r2plus1d"] as const) registerModel(videoResNetEntry(arch));
  registerModel(i3dEntry);
}
