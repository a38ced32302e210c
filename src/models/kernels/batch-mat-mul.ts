// BatchMatMul for the WASM backend on the training kernels' GEMM (gemm.ts). The shipped kernel uses
// XNNPACK only for untransposed operands and a scalar loop otherwise (150 ms against 10 ms for
// 500x4096x50); dense-layer gradients multiply by transposes on every training step. Here a
// transposed operand is only a different stride. The GEMM packs its right operand, so of C = A·B and
// Cᵀ = Bᵀ·Aᵀ the product packs the smaller of the two (a dense layer's forward pass packs the batch,
// not the weights). Other dtypes: the shipped kernel.
import * as tf from "@tensorflow/tfjs";
import { evenAxis, multiply, type DenseOperand, type HeapBackend } from "./gemm.js";

/** The flat batch index of an input of batch shape `from` broadcast to the output batch index `flat` of `to`. */
function broadcastIndex(flat: number, to: number[], from: number[]): number {
  let index = 0;
  let stride = 1;
  for (let d = to.length - 1, e = from.length - 1; d >= 0; d--, e--) {
    const position = flat % to[d];
    flat = Math.floor(flat / to[d]);
    if (e >= 0) {
      if (from[e] !== 1) index += position * stride;
      stride *= from[e];
    }
  }
  return index;
}

export function makeBatchMatMulConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  function batchMatMul(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    if (a.dtype !== "float32" || b.dtype !== "float32") return shipped.kernelFunc(args) as tf.TensorInfo;
    const backend = args.backend as HeapBackend;
    const ra = a.shape.length, rb = b.shape.length;
    const [m, k] = transposeA ? [a.shape[ra - 1], a.shape[ra - 2]] : [a.shape[ra - 2], a.shape[ra - 1]];
    const [kb, n] = transposeB ? [b.shape[rb - 1], b.shape[rb - 2]] : [b.shape[rb - 2], b.shape[rb - 1]];
    if (k !== kb) throw new Error(`BatchMatMul: inner dimensions ${k} (a [${a.shape}]) and ${kb} (b [${b.shape}]) differ`);
    const aBatch = a.shape.slice(0, -2), bBatch = b.shape.slice(0, -2);
    const batch = tf.broadcast_util.assertAndGetBroadcastShape(aBatch, bBatch);
    const out = backend.makeOutput([...batch, m, n], "float32");
    // pointers after makeOutput: allocating may grow the wasm memory (offsets stay valid)
    const pointer = (info: tf.TensorInfo) => backend.typedArrayFromHeap(info).byteOffset;
    // element (i, k) of A and (k, j) of B as byte strides over the stored layouts
    const aRow = transposeA ? 4 : k * 4, aCol = transposeA ? m * 4 : 4;
    const bRow = transposeB ? 4 : n * 4, bCol = transposeB ? k * 4 : 4;
    const transposed = n > m; // Cᵀ = Bᵀ·Aᵀ packs A (K x M) instead of B (K x N)
    const batches = tf.util.sizeFromShape(batch);
    for (let t = 0; t < batches; t++) {
      const aAt = pointer(a) + broadcastIndex(t, batch, aBatch) * m * k * 4;
      const bAt = pointer(b) + broadcastIndex(t, batch, bBatch) * k * n * 4;
      const cAt = pointer(out) + t * m * n * 4;
      if (transposed) {
        const right: DenseOperand = { pointer: aAt, rowStride: aCol, colStride: aRow };
        multiply(backend, { pointer: bAt, rows: evenAxis(n, bCol), cols: evenAxis(k, bRow) }, right, m, { pointer: cAt, rowStride: 4, colStride: n * 4 });
      } else {
        const right: DenseOperand = { pointer: bAt, rowStride: bRow, colStride: bCol };
        multiply(backend, { pointer: aAt, rows: evenAxis(m, aRow), cols: evenAxis(k, aCol) }, right, n, { pointer: cAt, rowStride: n * 4, colStride: 4 });
      }
    }
    return out;
  }
  return { kernelName: tf.BatchMatMul, backendName: "wasm", kernelFunc: batchMatMul as unknown as tf.KernelFunc };
}
