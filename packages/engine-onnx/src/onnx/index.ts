export * from "./export.js";
export * from "./graph.js";
export * from "./onnxops.js";
