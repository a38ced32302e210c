// Patch matrices written straight into WASM memory, so a convolution gradient becomes one
// XNNPACK matrix product. Rows are (kh, kw, ci), columns are (n, oh, ow): the transposed layout
// the gradient needs, because the WASM matmul is only fast on untransposed operands.
import * as tf from "@tensorflow/tfjs";

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

/**
 * A fresh [KH*KW*C, count*OH*OW] tensor of the patches of images first..first+count-1 of the NHWC
 * tensor `x`; zero where a patch reaches into the padding. The caller owns (disposes) it.
 */
export function transposedPatches(backend: WasmBackend, x: tf.TensorInfo, first: number, count: number, g: PatchGeometry): tf.Tensor2D {
  const rows = g.filterHeight * g.filterWidth * g.channels;
  const pixels = g.outHeight * g.outWidth;
  const cols = count * pixels;
  const out = backend.makeOutput([rows, cols], "float32");
  // views after makeOutput: allocating may grow (and detach) the wasm memory
  const dst = backend.typedArrayFromHeap(out) as Float32Array;
  const src = backend.typedArrayFromHeap(x) as Float32Array;
  const rowStride = g.width * g.channels;
  const imageStride = g.height * rowStride;
  const contiguous = g.channels === 1 && g.strideWidth === 1;
  for (let kh = 0; kh < g.filterHeight; kh++) {
    for (let kw = 0; kw < g.filterWidth; kw++) {
      for (let c = 0; c < g.channels; c++) {
        const row = (kh * g.filterWidth + kw) * g.channels + c;
        let p = row * cols;
        for (let n = first; n < first + count; n++) {
          const base = n * imageStride + c;
          for (let oh = 0; oh < g.outHeight; oh++) {
            const ih = oh * g.strideHeight + kh - g.padTop;
            if (ih < 0 || ih >= g.height) {
              dst.fill(0, p, p + g.outWidth);
              p += g.outWidth;
              continue;
            }
            const rowBase = base + ih * rowStride;
            const firstCol = kw - g.padLeft;
            if (contiguous && firstCol >= 0 && firstCol + g.outWidth <= g.width) {
              // one channel, stride 1, no padding in reach: the patch row is a slice of the image row
              dst.set(src.subarray(rowBase + firstCol, rowBase + firstCol + g.outWidth), p);
              p += g.outWidth;
              continue;
            }
            for (let ow = 0; ow < g.outWidth; ow++, p++) {
              const iw = ow * g.strideWidth + kw - g.padLeft;
              dst[p] = iw >= 0 && iw < g.width ? src[rowBase + iw * g.channels] : 0;
            }
          }
        }
      }
    }
  }
  return tf.engine().makeTensorFromTensorInfo(out, backend) as tf.Tensor2D;
}

/**
 * Adds the patch-gradient rows `columns` ([count*OH*OW, KH*KW*C], rows (n, oh, ow), columns
 * (kh, kw, c)) back onto the images first..first+count-1 of the NHWC buffer `dx` (col2im).
 */
export function accumulatePatches(backend: WasmBackend, columns: tf.TensorInfo, dx: tf.TensorInfo, first: number, count: number, g: PatchGeometry): void {
  const src = backend.typedArrayFromHeap(columns) as Float32Array;
  const dst = backend.typedArrayFromHeap(dx) as Float32Array;
  const rowStride = g.width * g.channels;
  const imageStride = g.height * rowStride;
  let p = 0;
  for (let n = first; n < first + count; n++) {
    const base = n * imageStride;
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let ow = 0; ow < g.outWidth; ow++) {
        for (let kh = 0; kh < g.filterHeight; kh++) {
          const ih = oh * g.strideHeight + kh - g.padTop;
          if (ih < 0 || ih >= g.height) {
            p += g.filterWidth * g.channels;
            continue;
          }
          for (let kw = 0; kw < g.filterWidth; kw++) {
            const iw = ow * g.strideWidth + kw - g.padLeft;
            if (iw < 0 || iw >= g.width) {
              p += g.channels;
              continue;
            }
            let q = base + ih * rowStride + iw * g.channels;
            for (let c = 0; c < g.channels; c++) dst[q++] += src[p++];
          }
        }
      }
    }
  }
}
