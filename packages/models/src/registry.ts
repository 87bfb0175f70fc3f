// Importing the model packages registers their models (side effects), like timm's model modules.
import "@blvnet/tam";
import "@blvnet/blvnet";
import "@blvnet/baselines";

export { createModel, getModelEntry, listModels } from "@blvnet/core";
