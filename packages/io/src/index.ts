// @blvnet/io: weights on disk (safetensors, PyTorch .pth zip and legacy), state_dict loading, atomic writes.

export * from "./checkpoint/index.js";
export * from "./fsutil.js";
export * from "./lock.js";
export * from "./safetensors.js";
export * from "./statedict.js";
