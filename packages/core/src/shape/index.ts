export * from "./tensor.js";
export * from "./rules.js";
export * from "./shape-ops.js";
export * from "./profile.js";
