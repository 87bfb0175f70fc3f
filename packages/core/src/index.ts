export * from "./ops.js";
export * from "./module.js";
export * from "./model.js";
export * from "./refgen.js";
export * from "./safetensors.js";
export * from "./statedict.js";
export * from "./fsutil.js";
