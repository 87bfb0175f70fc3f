// @blvnet/core: the op interface, the Module tree, the model registry, the shape-only profiler and the
// small deterministic helpers every package shares. No runtime dependencies.

export * from "./init.js";
export * from "./model.js";
export * from "./module.js";
export * from "./ops.js";
export * from "./options.js";
export * from "./refgen.js";
export * from "./rng.js";
export * from "./sgd.js";
export * from "./shape/index.js";
export * from "./shape/trace.js";
export * from "./tensors.js";
