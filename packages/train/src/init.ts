/**
 * Initial weights for training from scratch, following the official code (seeded, reproducible):
 *  - Conv2d / Conv3d: kaiming_normal_(mode="fan_out", nonlinearity="relu"), std = sqrt(2 / fan_out)
 *    with fan_out = out_channels x kernel volume (torch does not divide by groups);
 *  - BatchNorm: weight 1, bias 0, running mean 0 / var 1;
 *  - Linear (the classifier): normal(0, 0.001), bias 0 (bLVNet-TAM's and TSN's `new_fc` init);
 *  - bLVNet: the last BN of every bottleneck (`bn3`) starts at 0 (its "zero-init residual").
 */
import { BatchNorm, Conv2d, Conv3d, Linear, type VideoModel } from "@blvnet/core";
import { Rng, deriveSeed } from "@blvnet/core";

function fillNormal(data: Float32Array, std: number, rng: Rng): void {
  for (let i = 0; i < data.length; i++) data[i] = rng.normal() * std;
}

export function initForTraining(model: VideoModel, seed: number): void {
  const zeroLastBn = model.family.startsWith("blvnet");
  model.namedModules().forEach(([name, m], index) => {
    const rng = new Rng(deriveSeed(seed, 0x1417, index));
    if (m instanceof Conv2d || m instanceof Conv3d) {
      const [out, , ...kernel] = m.weight.shape;
      const fanOut = out! * kernel.reduce((a, b) => a * b, 1);
      const w = new Float32Array(m.weight.numel);
      fillNormal(w, Math.sqrt(2 / fanOut), rng);
      m.weight.set(w);
      m.bias?.set(new Float32Array(m.bias.numel));
    } else if (m instanceof BatchNorm) {
      const { weight, bias, runningMean, runningVar, numBatchesTracked } = m.params;
      const zero = zeroLastBn && /(^|\.)bn3$/.test(name);
      weight.set(new Float32Array(weight.numel).fill(zero ? 0 : 1));
      bias.set(new Float32Array(bias.numel));
      runningMean.set(new Float32Array(runningMean.numel));
      runningVar.set(new Float32Array(runningVar.numel).fill(1));
      numBatchesTracked.set(new BigInt64Array(1));
    } else if (m instanceof Linear) {
      const w = new Float32Array(m.weight.numel);
      fillNormal(w, 0.001, rng);
      m.weight.set(w);
      m.bias?.set(new Float32Array(m.bias.numel));
    }
  });
}
