// BatchMatMul for the WASM backend with transposed operands made explicit. The shipped kernel
// uses XNNPACK only for untransposed operands and a scalar loop otherwise (150 ms against 10 ms
// for 500x4096x50); dense-layer gradients multiply by transposes on every training step. XNNPACK
// packs the right operand on every call, so for a·bᵀ with a large b the product is taken as (b·aᵀ)ᵀ.
import * as tf from "@tensorflow/tfjs";
import { composeKernel } from "./tensor-handles.js";

function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

/** For a·bᵀ (a [..., M, K], b [..., N, K]): whether (b·aᵀ)ᵀ moves fewer elements (M·K + M·N < N·K). */
function prefersTransposedProduct(a: number[], b: number[]): boolean {
  const [m, k] = a.slice(-2);
  const n = b[b.length - 2];
  return m * k + m * n < n * k;
}

export function makeBatchMatMulConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  function batchMatMul(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return shipped.kernelFunc(args) as tf.TensorInfo;
    return composeKernel(args.backend, [a, b], (aT, bT) => {
      const swap = swapLastTwo(aT.rank);
      if (transposeB && !transposeA && prefersTransposedProduct(aT.shape, bT.shape)) {
        // a·bᵀ = (b·aᵀ)ᵀ: moves (and lets XNNPACK pack) a and the product instead of a large b
        const product = tf.matMul(bT, tf.transpose(aT, swap), false, false);
        return tf.transpose(product, swapLastTwo(product.rank));
      }
      const left = transposeA ? tf.transpose(aT, swap) : aT;
      const right = transposeB ? tf.transpose(bT, swapLastTwo(bT.rank)) : bT;
      return tf.matMul(left, right, false, false);
    });
  }
  return { kernelName: tf.BatchMatMul, backendName: "wasm", kernelFunc: batchMatMul as unknown as tf.KernelFunc };
}
