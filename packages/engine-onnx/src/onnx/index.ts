export * from "./graph.js";
export * from "./onnxops.js";
export * from "./export.js";
