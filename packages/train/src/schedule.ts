/**
 * Learning-rate schedules, as closed forms of (epoch, step) so a resumed run recomputes exactly the
 * rate an uninterrupted one used. Like the official `train.py`, the base schedule changes once per
 * epoch (`scheduler.step(epoch)` before each epoch): PyTorch's closed forms of CosineAnnealingLR
 * (T_max = epochs, eta_min = 0), StepLR (period = first lr step) and MultiStepLR (decay at every
 * listed epoch), all with gamma 0.1. The optional linear warm-up (not in the official code) scales
 * the rate per step, from 1/W to 1 over the first W steps.
 */

export const SCHEDULERS = ["cosine", "step", "multisteps"] as const;
export type SchedulerKind = (typeof SCHEDULERS)[number];

/** A schedule as a training config names it. */
export interface LrSchedule {
  kind: SchedulerKind;
  /** Epochs at which the rate decays (step: only the first, as a period); positive, increasing. */
  lrSteps: number[];
  /** Epochs of linear warm-up (may be fractional); 0 = none. */
  warmupEpochs?: number;
}

export interface ScheduleConfig extends LrSchedule {
  baseLr: number;
  /** Total epochs (cosine's T_max). */
  epochs: number;
  /** Decay factor of step/multisteps (the official 0.1). */
  gamma?: number;
  /** Optimizer steps per epoch (for the warm-up length). */
  stepsPerEpoch: number;
}

/** The per-epoch rate of the base schedule (no warm-up). `epoch` counts from 0. */
export function epochLr(cfg: ScheduleConfig, epoch: number): number {
  const gamma = cfg.gamma ?? 0.1;
  switch (cfg.kind) {
    case "cosine":
      return (cfg.baseLr * (1 + Math.cos((Math.PI * epoch) / cfg.epochs))) / 2;
    case "step": {
      const period = cfg.lrSteps[0];
      if (!(period !== undefined && period > 0)) return cfg.baseLr;
      return cfg.baseLr * gamma ** Math.floor(epoch / period);
    }
    case "multisteps": {
      // bisect_right(milestones, epoch): milestones passed so far
      const passed = cfg.lrSteps.filter((m) => m <= epoch).length;
      return cfg.baseLr * gamma ** passed;
    }
  }
}

/** The rate of optimizer step `stepInEpoch` of `epoch` (both from 0). */
export function learningRate(cfg: ScheduleConfig, epoch: number, stepInEpoch: number): number {
  const lr = epochLr(cfg, epoch);
  const warmupSteps = Math.round((cfg.warmupEpochs ?? 0) * cfg.stepsPerEpoch);
  const globalStep = epoch * cfg.stepsPerEpoch + stepInEpoch;
  if (warmupSteps > 0 && globalStep < warmupSteps) return (lr * (globalStep + 1)) / warmupSteps;
  return lr;
}

/** Why a list of lr steps is unusable (not positive, not increasing), or null when it is fine. */
export function lrStepsProblem(steps: readonly number[]): string | null {
  if (steps.length === 0 || steps.some((s) => !(Number.isFinite(s) && s > 0))) return "must be a list of positive epochs";
  for (let i = 1; i < steps.length; i++) if (steps[i]! <= steps[i - 1]!) return "must increase";
  return null;
}
