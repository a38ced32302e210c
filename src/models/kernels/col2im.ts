// col2im: patch gradients added back onto the image, the last step of a convolution's input
// gradient. The loop is AssemblyScript SIMD (assembly/kernels/col2im.ts) working in the tfjs heap.
import type * as tf from "@tensorflow/tfjs";
import { geometryArguments, type PatchGeometry, type WasmBackend } from "./im2col.js";
import { backendKernels } from "./kernels-wasm.js";

/**
 * Adds the patch-gradient rows at byte `columns` ([count*OH*OW, KH*KW*C], rows (n, oh, ow), columns
 * (kh, kw, c)) onto the images first..first+count-1 of the NHWC buffer `dx`.
 */
export function accumulatePatches(backend: WasmBackend, columns: number, dx: tf.TensorInfo, first: number, count: number, g: PatchGeometry): void {
  const dst = backend.typedArrayFromHeap(dx).byteOffset + first * g.height * g.width * g.channels * 4;
  backendKernels(backend).accumulatePatches(columns, dst, count, ...geometryArguments(g));
}
