// Importing this package registers the standalone `tam` model.
export { TAM, type BlendingTap } from "./tam.js";
export { TamModel, type TamModelOptions } from "./model.js";
