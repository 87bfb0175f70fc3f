/**
 * Training-mode batch norm with per-channel statistics from 2-D average pooling and a closed-form
 * gradient.
 *
 * Why: on tfjs-backend-wasm 4.22 a mean over N, H, W of an NHWC tensor is a Transpose (moving C
 * first) and a Mean, both single-threaded loops, and the autodiff of tf.moments plus the broadcasts
 * adds several more such reductions (Sum over N, H, W for every broadcast operand) per BN layer. Here
 * every per-channel reduction is one AvgPool over each map's H x W (XNNPACK; no transpose) and a
 * small mean over the [N, C] result, and the backward is PyTorch's formula:
 *   xhat = (x - mean) * rstd,  dbeta = sum(dy),  dgamma = sum(dy * xhat),
 *   dx = gamma * rstd * (dy - mean(dy) - xhat * mean(dy * xhat))
 * with two reductions. Exact: the same quantities, summed in another order.
 */
import * as tf from "@tensorflow/tfjs-core";

/** Mean over every axis but the last (channels): [C]. */
export function channelMean(x: tf.Tensor): tf.Tensor1D {
  const c = x.shape[x.rank - 1]!;
  if (x.rank < 4) return tf.mean(x, [...Array(x.rank - 1).keys()]) as tf.Tensor1D;
  const h = x.shape[x.rank - 3]!;
  const w = x.shape[x.rank - 2]!;
  const rows = x.size / (h * w * c);
  const maps = tf.reshape(x, [rows, h, w, c]) as tf.Tensor4D;
  const pooled = tf.reshape(h * w > 1 ? tf.avgPool(maps, [h, w], [h, w], "valid") : maps, [rows, c]);
  return (rows > 1 ? tf.mean(pooled, 0) : tf.reshape(pooled, [c])) as tf.Tensor1D;
}

export interface BatchNormTrainResult {
  y: tf.Tensor;
  /** Batch mean and biased variance per channel (not on the gradient tape); the caller disposes them. */
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

/** y = (x - mean) / sqrt(var + eps) * gamma + beta with batch statistics over all axes but the last. */
export function batchNormTrain(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): BatchNormTrainResult {
  const count = x.size / x.shape[x.rank - 1]!;
  let stats: [tf.Tensor1D, tf.Tensor1D] | undefined;
  const bn = tf.customGrad((xIn, gammaIn, betaIn, save) => {
    const [xt, g, b] = [xIn, gammaIn, betaIn] as tf.Tensor[];
    const mean = channelMean(xt!);
    const centred = tf.sub(xt!, mean);
    const variance = channelMean(tf.square(centred));
    const rstd = tf.rsqrt(tf.add(variance, eps));
    const xhat = tf.mul(centred, rstd);
    (save as tf.GradSaveFunc)([xhat, tf.mul(g!, rstd)]);
    stats = [tf.keep(mean), tf.keep(variance)];
    return {
      value: tf.add(tf.mul(xhat, g!), b!),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, scale] = saved as [tf.Tensor, tf.Tensor];
        const meanDy = channelMean(dy);
        const meanDyXhat = channelMean(tf.mul(dy, xh));
        const dx = tf.mul(tf.sub(tf.sub(dy, meanDy), tf.mul(xh, meanDyXhat)), scale);
        return [dx, tf.mul(meanDyXhat, count), tf.mul(meanDy, count)];
      },
    };
  });
  const y = bn(x, gamma, beta);
  return { y, mean: stats![0], variance: stats![1] };
}
