// @blvnet/engine-onnx: the ONNX graph builder (export), onnxruntime sessions, and the compiled SGD step.
export * from "./onnx/index.js";
export * from "./ort/index.js";
export * from "./training/index.js";
