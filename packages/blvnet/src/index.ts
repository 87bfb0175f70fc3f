// Importing this package registers the `blvnet-tam` and `blvnet` models.
import "./registry.js";

export { type BackboneConfig, BLResNetBackbone, STAGE_BLOCKS } from "./backbone.js";
export { BLModule, type BLModuleConfig } from "./blmodule.js";
export { Bottleneck, type BottleneckConfig, EXPANSION, Stage } from "./bottleneck.js";
export { BLVNet } from "./model.js";
export type { BLVNetOptions } from "./registry.js";
export { shortcut } from "./shortcut.js";
