// Importing this package registers the baseline models: tsn, tsm, tam-resnet, r3d, mc3, r2plus1d, i3d.
import "./registry.js";

export { residual, resnetStages, type BlockPlan } from "./layers.js";
export { BasicBlock, Bottleneck, type BlockSite, ResNet2d, type ResNetHooks, RESNET_DEPTHS } from "./resnet2d.js";
export { temporalShift, TemporalShift } from "./temporal-shift.js";
export { TSN, tsnOptions, type TsnOptions } from "./tsn.js";
export { SHIFT_PLACES, type ShiftPlace, TSM, tsmHooks, tsmOptions, type TsmOptions } from "./tsm.js";
export { TamConv, tamHooks, TamResNet, tamResnetOptions, type TamResnetOptions } from "./tam-resnet.js";
export { BasicBlock3d, KINETICS_MEAN, KINETICS_STD, midplanes, VIDEO_ARCHS, type VideoArch, VideoResNet } from "./video-resnet.js";
export { Bottleneck3d, I3DResNet, i3dInflated, type Video3dOptions } from "./i3d.js";
export { tsnFromGolden, video3dFromGolden } from "./golden-config.js";
