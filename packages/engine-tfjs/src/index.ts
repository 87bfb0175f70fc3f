export * from "./tfops.js";
export * from "./store.js";
export * from "./layouts.js";
export * from "./backend.js";
export * from "./forward.js";
export * from "./run.js";
export * from "./train.js";
