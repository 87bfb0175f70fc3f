/** Option declarations and checks shared by the baseline registry entries. */
import { type ModelOption, type ModelOptions, UserError } from "@blvnet/core";
import { OFFICIAL_WIDTH } from "./resnet2d.js";

export const frameOption = (dflt: number): ModelOption => ({
  name: "frames",
  type: "int",
  default: dflt,
  description: "frames per clip",
});

export const sizeOption = (dflt: number): ModelOption => ({
  name: "size",
  type: "int",
  default: dflt,
  description: "input height = width in pixels",
});

export const classesOption = (dflt: number): ModelOption => ({
  name: "numClasses",
  type: "int",
  default: dflt,
  description: "output classes",
});

export const widthOption: ModelOption = {
  name: "width",
  type: "int",
  default: OFFICIAL_WIDTH,
  description: "base channel width (64 = official; smaller for quick CPU runs)",
};

/** Id fragment for a non-official width ("-w16"); empty at 64 so the official ids stay as they are. */
export const widthTag = (width: number): string => (width !== OFFICIAL_WIDTH ? `-w${width}` : "");

export const dropoutOption = (dflt: number, description: string): ModelOption => ({
  name: "dropout",
  type: "float",
  default: dflt,
  description,
});

/** An integer option that must be >= min. */
export function intAtLeast(model: string, opts: ModelOptions, name: string, min: number): number {
  const v = opts[name] as number;
  if (!Number.isInteger(v) || v < min) throw new UserError(`option ${name} of model "${model}" must be an integer >= ${min}, got ${v}`);
  return v;
}

export function probability(model: string, opts: ModelOptions, name: string): number {
  const v = opts[name] as number;
  if (!(v >= 0 && v < 1)) throw new UserError(`option ${name} of model "${model}" must be in [0, 1), got ${v}`);
  return v;
}
