// Importing this package registers the baseline models: tsn, tsm, tam-resnet, r3d, mc3, r2plus1d, i3d.
import { registerTamResnet } from "./tam-resnet.js";
import { registerTsnModels } from "./tsm.js";
import { registerVideo3dModels } from "./video3d-entries.js";

registerTsnModels();
registerTamResnet();
registerVideo3dModels();

export { type Layer, RELU, Sequential, Stage, type Tap } from "./layers.js";
export { BasicBlock, Bottleneck, type BlockSite, OFFICIAL_WIDTH, ResNet2d, type ResNetHooks, RESNET_DEPTHS } from "./resnet2d.js";
export { temporalShift, TemporalShift } from "./temporal-shift.js";
export { TSN, type TsnConfig } from "./tsn.js";
export { SHIFT_PLACES, type ShiftPlace, tsmEntry, tsmHooks, tsnEntry } from "./tsm.js";
export { TamConv, tamHooks, tamResnetEntry } from "./tam-resnet.js";
export { BasicBlock3d, KINETICS_MEAN, KINETICS_STD, midplanes, VIDEO_ARCHS, type VideoArch, VideoResNet } from "./video-resnet.js";
export { Bottleneck3d, I3DResNet, i3dInflated } from "./i3d.js";
export { i3dEntry } from "./video3d-entries.js";
export { tsnFromGolden, video3dFromGolden } from "./golden-config.js";
