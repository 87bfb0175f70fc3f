import { describe, expect, it } from "vitest";
import { BatchNorm, Conv2d, Linear, Module, ModuleList, Param, RELU, Sequential } from "./module.js";

class Block extends Module<{ c: number; project: boolean }> {
  conv = new Conv2d(this.cfg.c, this.cfg.c, 3);
  bn = new BatchNorm(this.cfg.c);
  proj = this.cfg.project ? new Conv2d(this.cfg.c, this.cfg.c, 1) : null;
  scale = new Param([this.cfg.c]);
  readonly #alias = this.conv; // private: not a second child
  get first(): Conv2d {
    return this.#alias;
  }
}

describe("Module field discovery", () => {
  it("names tensors by property path: own params, own buffers, then children in declaration order; nulls skipped", () => {
    const keys = (m: Module) => m.namedTensors().map(([k]) => k);
    expect(keys(new Block({ c: 2, project: false }))).toEqual([
      "scale",
      "conv.weight",
      "bn.weight",
      "bn.bias",
      "bn.running_mean",
      "bn.running_var",
      "bn.num_batches_tracked",
    ]);
    expect(keys(new Block({ c: 2, project: true }))).toContain("proj.weight");
    expect(new Block({ c: 2, project: false }).namedModules().map(([k]) => k)).toEqual(["", "conv", "bn"]);
  });

  it("numbers ModuleList items and Sequential steps by position, function steps included", () => {
    const seq = new Sequential([new Conv2d(1, 2, 1), RELU, new BatchNorm(2)]);
    expect(
      seq
        .namedTensors()
        .map(([k]) => k)
        .filter((k) => k.endsWith("weight")),
    ).toEqual(["0.weight", "2.weight"]);
    const list = new ModuleList([new Linear(2, 3), new Linear(3, 4, false)]);
    expect(list.namedTensors().map(([k]) => k)).toEqual(["0.weight", "0.bias", "1.weight"]);
  });
});
