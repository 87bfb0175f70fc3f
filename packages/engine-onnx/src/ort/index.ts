export * from "./devices.js";
export { loadFfiApi } from "./ffi-session.js";
export * from "./gpu-memory.js";
export { nativeOpsLibrary, nativeOpsUnavailableReason } from "./native-ops.js";
export { type ElidedReorders, elideNchwcReorders } from "./nchwc-reorders.js";
export * from "./onnx-nodes.js";
export * from "./placement.js";
// GPU execution providers (WebGPU, CUDA): device selection, node placement, device probes for
// `blvnet env`, GPU memory sampling, device-resident state.
export * from "./providers.js";
export * from "./resident.js";
export {
  cpuSessionWithRowBlend,
  type InferenceRunner,
  nchwcBlock,
  type RowBlendStatus,
  rowBlendAvailable,
  rowBlendStatus,
} from "./row-blend-session.js";
export * from "./session.js";
export { identityModel, tinyAddModel } from "./tiny-onnx.js";
