/** Registry entries of the baselines: tsn, tsm, tam-resnet (one TSN definition), r3d, mc3, r2plus1d, i3d. */
import { float, int, registerModel } from "@blvnet/core";
import { tsnFromGolden, video3dFromGolden } from "./golden-config.js";
import { I3D_DEPTHS, I3DResNet } from "./i3d.js";
import { TamResNet, tamResnetOptions } from "./tam-resnet.js";
import { TSM, tsmOptions } from "./tsm.js";
import { TSN, tsnOptions } from "./tsn.js";
import { VIDEO_ARCHS, VIDEO_DEPTHS, type VideoArch, VideoResNet } from "./video-resnet.js";

registerModel({
  name: "tsn",
  description: "TSN: per-frame 2D ResNet + average consensus (official TSM code, is_shift=False)",
  goldenFamilies: ["tsn"],
  options: tsnOptions,
  create: (o) => new TSN(o),
  fromGoldenConfig(c) {
    const g = tsnFromGolden(c);
    return g.shift ? null : g.options;
  },
});

registerModel({
  name: "tsm",
  description: "TSM: TSN with a temporal shift of 1/shiftDiv channels each way (Lin et al. 2019)",
  goldenFamilies: ["tsn"],
  options: tsmOptions,
  create: (o) => new TSM(o),
  fromGoldenConfig(c) {
    const g = tsnFromGolden(c);
    return g.shift ? g.options : null;
  },
});

registerModel({
  name: "tam-resnet",
  description: "TAM-ResNet: TSN with bLVNet-TAM's temporal aggregation at the start of each residual branch",
  options: tamResnetOptions,
  create: (o) => new TamResNet(o),
});

const DESCRIPTIONS: Record<VideoArch, string> = {
  r3d: "R3D: 3D ResNet, 3x3x3 convs throughout (torchvision r3d_18)",
  mc3: "MC3: mixed convolutions, 3x3x3 in layer1 then 1x3x3 (torchvision mc3_18)",
  r2plus1d: "R(2+1)D: each 3x3x3 factorised into 1x3x3 + 3x1x1 (torchvision r2plus1d_18)",
};

const videoResnetOptions = {
  depth: int(18, "ResNet depth (basic blocks)", { choices: VIDEO_DEPTHS }),
  frames: int(16, "frames per clip", { min: 1 }),
  size: int(112, "input height = width in pixels", { min: 16 }),
  numClasses: int(400, "output classes", { min: 1 }),
  dropout: float(0, "dropout before fc (torchvision has none)", { min: 0, below: 1 }),
};

for (const arch of VIDEO_ARCHS) {
  registerModel({
    name: arch,
    description: DESCRIPTIONS[arch],
    goldenFamilies: ["video3d"],
    options: videoResnetOptions,
    create: (o) => new VideoResNet({ ...o, arch }),
    fromGoldenConfig(c) {
      const g = video3dFromGolden(c);
      return g.arch === arch ? g.options : null;
    },
  });
}

registerModel({
  name: "i3d",
  description: "I3D-ResNet (non-local paper's released 8-frame I3D: 5x7x7 stem, 3x1x1 in every other block)",
  options: {
    depth: int(50, "ResNet depth", { choices: I3D_DEPTHS }),
    frames: int(8, "frames per clip (pool2 halves it)", { min: 2 }),
    size: int(224, "input height = width in pixels", { min: 32 }),
    numClasses: int(400, "output classes", { min: 1 }),
    dropout: float(0.5, "dropout before fc", { min: 0, below: 1 }),
  },
  create: (o) => new I3DResNet(o),
});
