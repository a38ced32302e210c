// Every kernel this project adds to (or replaces in) the tfjs WASM backend, registered in one place.
import * as tf from "@tensorflow/tfjs";
import { conv2DBackpropFilterConfig } from "./conv2d-backprop-filter.js";
import { conv2DBackpropInputConfig } from "./conv2d-backprop-input.js";
import { makeBatchMatMulConfig } from "./batch-mat-mul.js";
import { unsortedSegmentSumConfig } from "./unsorted-segment-sum.js";
import { maxPoolGradConfig } from "./max-pool-grad.js";
import { makeSumConfig } from "./sum.js";
import { makeConv2DConfig } from "./conv2d.js";
import { makeIdentityConfig } from "./identity.js";
import { makeCastConfig } from "./cast.js";
import { makeAddConfig } from "./add.js";

/** Names of the kernels registered by registerTrainingKernels (added or replaced). */
export const trainingKernelNames = [
  tf.Conv2D, tf.Conv2DBackpropFilter, tf.Conv2DBackpropInput, tf.BatchMatMul, tf.MaxPoolGrad, tf.UnsortedSegmentSum, tf.Sum, tf.Identity, tf.Cast, tf.Add,
] as const;

let registered = false;

function shippedKernel(name: string): tf.KernelConfig {
  const config = tf.getKernel(name, "wasm");
  if (!config) throw new Error(`the tfjs WASM backend has no ${name} kernel to wrap (tfjs version mismatch?)`);
  return config;
}

function replaceKernel(config: tf.KernelConfig): void {
  if (tf.getKernel(config.kernelName, "wasm")) tf.unregisterKernel(config.kernelName, "wasm");
  tf.registerKernel(config);
}

/** Idempotent: adds the training kernels tfjs-backend-wasm lacks and speeds up the slow ones it has. */
export function registerTrainingKernels(): void {
  if (registered) return;
  const shippedMatMul = shippedKernel(tf.BatchMatMul);
  const shippedSum = shippedKernel(tf.Sum);
  const shippedConv2D = shippedKernel(tf.Conv2D);
  const shippedIdentity = shippedKernel(tf.Identity);
  const shippedCast = shippedKernel(tf.Cast);
  const shippedAdd = shippedKernel(tf.Add);
  replaceKernel(makeConv2DConfig(shippedConv2D));
  replaceKernel(makeIdentityConfig(shippedIdentity));
  replaceKernel(makeCastConfig(shippedCast));
  replaceKernel(makeAddConfig(shippedAdd));
  replaceKernel(conv2DBackpropFilterConfig);
  replaceKernel(conv2DBackpropInputConfig);
  replaceKernel(makeBatchMatMulConfig(shippedMatMul));
  replaceKernel(maxPoolGradConfig);
  replaceKernel(unsortedSegmentSumConfig);
  replaceKernel(makeSumConfig(shippedSum));
  registered = true;
}
