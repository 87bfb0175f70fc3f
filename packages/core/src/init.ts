/**
 * Initial weights for training from scratch, following the official code (seeded, reproducible):
 *  - Conv2d / Conv3d: kaiming_normal_(mode="fan_out", nonlinearity="relu"), std = sqrt(2 / fan_out)
 *    with fan_out = out_channels x kernel volume (torch does not divide by groups);
 *  - BatchNorm: weight 1, bias 0, running mean 0 / var 1, no batches tracked;
 *  - Linear (the classifier): normal(0, 0.001), bias 0 (bLVNet-TAM's and TSN's `new_fc` init);
 *  - with `zeroInitResidual`: the last BN of every residual branch starts at 0 (Goyal et al.).
 * Module i of `namedModules()` draws from its own stream `rng.fork(0x1417, i)`, so a module's values do
 * not depend on how many numbers the modules before it drew.
 */
import { BatchNorm, Conv2d, Conv3d, Linear, type Module } from "./module.js";
import type { Rng } from "./rng.js";

export interface InitOptions {
  /** Zero the last BN of each residual branch (blocks that name it, see `ResidualBlock`). */
  zeroInitResidual?: boolean;
}

/** A residual block names the last BN of its branch, so init can zero it. */
export interface ResidualBlock {
  readonly residualBn: BatchNorm;
}

function isResidual(m: Module): m is Module & ResidualBlock {
  return (m as Partial<ResidualBlock>).residualBn instanceof BatchNorm;
}

function normal(n: number, std: number, rng: Rng): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * std;
  return out;
}

export function initWeights(root: Module, rng: Rng, opts: InitOptions = {}): void {
  const modules = root.namedModules().map(([, m]) => m);
  const zero = new Set(opts.zeroInitResidual ? modules.filter(isResidual).map((m) => m.residualBn) : []);
  modules.forEach((m, index) => {
    const r = rng.fork(0x1417, index);
    if (m instanceof Conv2d || m instanceof Conv3d) {
      const [out, , ...kernel] = m.weight.shape;
      m.weight.set(normal(m.weight.numel, Math.sqrt(2 / (out! * kernel.reduce((a, b) => a * b, 1))), r));
      m.bias?.set(new Float32Array(m.bias.numel));
    } else if (m instanceof BatchNorm) {
      const { weight, bias, runningMean, runningVar, numBatchesTracked } = m.params;
      weight.set(new Float32Array(weight.numel).fill(zero.has(m) ? 0 : 1));
      bias.set(new Float32Array(bias.numel));
      runningMean.set(new Float32Array(runningMean.numel));
      runningVar.set(new Float32Array(runningVar.numel).fill(1));
      numBatchesTracked.set(new BigInt64Array(1));
    } else if (m instanceof Linear) {
      m.weight.set(normal(m.weight.numel, 0.001, r));
      m.bias?.set(new Float32Array(m.bias.numel));
    }
  });
}
