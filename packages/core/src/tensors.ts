/** Named tensors in PyTorch layout: what a state_dict, a checkpoint or a safetensors file holds. */
import type { Module, TensorData } from "./module.js";

export interface NamedTensor {
  shape: number[];
  data: TensorData;
}

export type TensorMap = Map<string, NamedTensor>;

/** The model's parameters and buffers by state_dict key (the values are shared, not copied). */
export function stateDict(model: Module): TensorMap {
  const out: TensorMap = new Map();
  for (const [name, p] of model.namedTensors()) out.set(name, { shape: [...p.shape], data: p.data });
  return out;
}
