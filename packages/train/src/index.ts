// @blvnet/train
export * from "./checkpoint.js";
export * from "./confusion-svg.js";
export * from "./engine-ort.js";
export * from "./engine.js";
export * from "./engines.js";
export * from "./evaluate.js";
export * from "./init.js";
export * from "./log.js";
export * from "./metrics.js";
export * from "./schedule.js";
export * from "./tfjs-engine.js";
export * from "./trainer.js";
export * from "./api.js";
export * from "./provenance.js";
export * from "./version.js";
