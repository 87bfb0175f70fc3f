// @blvnet/models: every registered model (TAM, bLVNet-TAM, the baselines) and how commands build them.

export * from "./build.js";
export * from "./registry.js";
