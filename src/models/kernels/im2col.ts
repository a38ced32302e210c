// Patch matrices (im2col) of NHWC convolutions for the GEMM (gemm.ts). Without padding the GEMM
// reads them in place from x through two axis walks (pixelAxis, tapAxis: the implicit im2col);
// with padding, transposedPatches writes them out ([KH*KW*C, count*OH*OW], zero in the padding;
// AssemblyScript, assembly/kernels/im2col.ts, in the tfjs heap).
import * as tf from "@tensorflow/tfjs";
import { backendKernels } from "./kernels-wasm.js";
import type { AxisWalk } from "./gemm.js";

export type WasmBackend = tf.KernelBackend & {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array;
  incRef(dataId: object): void;
};

export interface PatchGeometry {
  height: number;
  width: number;
  channels: number;
  filterHeight: number;
  filterWidth: number;
  outHeight: number;
  outWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
}

/** The patch geometry of a channels-last convolution, from tfjs's own shape computation. */
export function patchGeometry(info: tf.backend_util.Conv2DInfo): PatchGeometry {
  return {
    height: info.inHeight, width: info.inWidth, channels: info.inChannels, filterHeight: info.filterHeight, filterWidth: info.filterWidth,
    outHeight: info.outHeight, outWidth: info.outWidth, strideHeight: info.strideHeight, strideWidth: info.strideWidth,
    padTop: info.padInfo.top, padLeft: info.padInfo.left,
  };
}

/** Upper bound on patch-matrix elements per chunk of images (64 MB of float32). */
const PATCH_ELEMENTS_PER_CHUNK = 16 * 1024 * 1024;

/** Images per chunk (at least one) so that a chunk's [KH*KW*C, count*OH*OW] patch matrix stays within the bound. */
export function imagesPerChunk(batch: number, g: PatchGeometry): number {
  const perImage = g.filterHeight * g.filterWidth * g.channels * g.outHeight * g.outWidth;
  return Math.max(1, Math.min(batch, Math.floor(PATCH_ELEMENTS_PER_CHUNK / Math.max(1, perImage))));
}

/** The geometry as the WASM kernels take it (after the pointers and the image count). */
export function geometryArguments(g: PatchGeometry) {
  return [g.height, g.width, g.channels, g.filterHeight, g.filterWidth, g.outHeight, g.outWidth, g.strideHeight, g.strideWidth, g.padTop, g.padLeft] as const;
}

/**
 * A fresh [KH*KW*C, count*OH*OW] tensor of the patches of images first..first+count-1 of the NHWC
 * tensor `x`; zero where a patch reaches into the padding. The caller owns (disposes) it.
 */
export function transposedPatches(backend: WasmBackend, x: tf.TensorInfo, first: number, count: number, g: PatchGeometry): tf.Tensor2D {
  const rows = g.filterHeight * g.filterWidth * g.channels;
  const out = backend.makeOutput([rows, count * g.outHeight * g.outWidth], "float32");
  const src = backend.typedArrayFromHeap(x).byteOffset + first * g.height * g.width * g.channels * 4;
  backendKernels(backend).transposedPatches(src, backend.typedArrayFromHeap(out).byteOffset, count, ...geometryArguments(g));
  return tf.engine().makeTensorFromTensorInfo(out, backend) as tf.Tensor2D;
}

/** Whether every patch lies inside the image (no padding reached): then the patch matrix is read from x in place. */
export function patchesInside(g: PatchGeometry): boolean {
  return g.padTop === 0 && g.padLeft === 0 &&
    (g.outHeight - 1) * g.strideHeight + g.filterHeight <= g.height && (g.outWidth - 1) * g.strideWidth + g.filterWidth <= g.width;
}

/** The patch matrix's pixel axis (n, oh, ow) over `count` NHWC images: the byte offset of each patch's corner. */
export function pixelAxis(g: PatchGeometry, count: number): AxisWalk {
  const pixel = g.channels * 4, row = g.width * pixel;
  return { count: count * g.outHeight * g.outWidth, inner: g.outWidth, middle: g.outHeight, strides: [g.strideWidth * pixel, g.strideHeight * row, g.height * row] };
}

/** The patch matrix's tap axis (kh, kw, c): the byte offset of each tap in a patch (a (kw, c) run is contiguous in NHWC). */
export function tapAxis(g: PatchGeometry): AxisWalk {
  return { count: g.filterHeight * g.filterWidth * g.channels, inner: g.filterWidth * g.channels, middle: g.filterHeight, strides: [4, g.width * g.channels * 4, 0] };
}
