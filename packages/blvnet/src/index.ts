// Importing this package registers the `blvnet-tam` and `blvnet` models.
import "./registry.js";

export { BLVNet, type BLVNetOptions } from "./model.js";
export { BLResNetBackbone, OFFICIAL_WIDTH, STAGE_BLOCKS, type BackboneConfig } from "./backbone.js";
export { BLModule, type BLModuleConfig } from "./blmodule.js";
export { Bottleneck, makeLayer, EXPANSION, type BottleneckConfig } from "./bottleneck.js";
export { Shortcut } from "./shortcut.js";
