// Importing this package registers the `blvnet-tam` and `blvnet` models.
import "./registry.js";

export { BLVNet } from "./model.js";
export type { BLVNetOptions } from "./registry.js";
export { BLResNetBackbone, STAGE_BLOCKS, type BackboneConfig } from "./backbone.js";
export { BLModule, type BLModuleConfig } from "./blmodule.js";
export { Bottleneck, Stage, EXPANSION, type BottleneckConfig } from "./bottleneck.js";
export { shortcut } from "./shortcut.js";
