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

