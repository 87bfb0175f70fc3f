/**
 * torch.optim.SGD's hyper-parameters (dampening 0) plus torch.nn.utils.clip_grad_norm_, the one
 * optimizer configuration of both training engines and the trainer. Unset fields take torch's
 * defaults (momentum 0, no weight decay, no Nesterov, no clipping).
 */
export interface SgdConfig {
  /** Learning rate; engines also take a per-step rate from the schedule. */
  lr?: number;
  momentum?: number;
  /** L2 penalty added to the gradient (torch's weight_decay). */
  weightDecay?: number;
  /** Nesterov momentum (the official train.py uses it). */
  nesterov?: boolean;
  /** Global gradient L2-norm clip; 0 or undefined = off. */
  clipGradNorm?: number;
}

/** Why SGD settings are out of range (torch itself accepts them and diverges), or null. */
export function sgdProblem(o: SgdConfig): string | null {
  const bad = (v: number | undefined, ok: (x: number) => boolean) => v !== undefined && !(Number.isFinite(v) && ok(v));
  if (bad(o.lr, (x) => x > 0)) return `lr must be > 0, got ${o.lr}`;
  if (bad(o.momentum, (x) => x >= 0 && x < 1)) return `momentum must be in [0, 1), got ${o.momentum}`;
  if (bad(o.weightDecay, (x) => x >= 0 && x < 1)) return `weight decay must be in [0, 1), got ${o.weightDecay}`;
  if (bad(o.clipGradNorm, (x) => x >= 0)) return `the gradient clip must be >= 0, got ${o.clipGradNorm}`;
  if (o.nesterov && !(o.momentum && o.momentum > 0)) return "Nesterov momentum needs momentum > 0";
  return null;
}
