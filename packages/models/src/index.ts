// @blvnet/models: every registered model (TAM, bLVNet-TAM, the baselines) and how commands build them.
export * from "./registry.js";
export * from "./build.js";
