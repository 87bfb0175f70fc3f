export * from "./backend.js";
export * from "./forward.js";
export * from "./layouts.js";
export * from "./run.js";
export * from "./store.js";
export * from "./tfops.js";
export * from "./train.js";
