export * from "./profile.js";
export * from "./rules.js";
export * from "./shape-ops.js";
export * from "./tensor.js";
