// Importing this package registers the baseline models: tsn, tsm, tam-resnet, r3d, mc3, r2plus1d, i3d.
import "./registry.js";

export { tsnFromGolden, video3dFromGolden } from "./golden-config.js";
export { Bottleneck3d, I3DResNet, i3dInflated, type Video3dOptions } from "./i3d.js";
export { type BlockPlan, residual, resnetStages } from "./layers.js";
export { BasicBlock, type BlockSite, Bottleneck, RESNET_DEPTHS, ResNet2d, type ResNetHooks } from "./resnet2d.js";
export { TamConv, TamResNet, type TamResnetOptions, tamHooks, tamResnetOptions } from "./tam-resnet.js";
export { TemporalShift, temporalShift } from "./temporal-shift.js";
export { SHIFT_PLACES, type ShiftPlace, TSM, type TsmOptions, tsmHooks, tsmOptions } from "./tsm.js";
export { TSN, type TsnOptions, tsnOptions } from "./tsn.js";
export { BasicBlock3d, KINETICS_MEAN, KINETICS_STD, midplanes, VIDEO_ARCHS, type VideoArch, VideoResNet } from "./video-resnet.js";
