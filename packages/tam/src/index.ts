// Importing this package registers the standalone `tam` model.

export { TamModel, type TamModelOptions } from "./model.js";
export { type BlendingTap, TAM } from "./tam.js";
