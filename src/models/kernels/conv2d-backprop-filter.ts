// Conv2DBackpropFilter for the WASM backend (tfjs 4.22 ships none, so conv training fails).
// dW[kh,kw,ci,co] = sum over n,oh,ow of x[n, oh*s+kh-top, ow*s+kw-left, ci] * dy[n,oh,ow,co]: the
// transposed patch matrix of x times dy as an [N*OH*OW, Co] matrix, on the GEMM (gemm.ts). Without
// padding the patch matrix is read from x in place; with padding it is written out per chunk of
// images. The sum over pixels goes a few images at a time (each chunk's packed dy stays in cache,
// the 25-output-row product of LeNet's first layer would otherwise stream 3.5 MB per row tile). A dy
// that is mostly zero (behind ReLU and a 2x2 max pool at most a quarter is nonzero) skips the product
// for patches of 64 taps or more: each nonzero dy adds its patch onto its channel's row of dW^T
// (assembly/kernels/sparse-filter-gradient.ts), when no patch reaches the padding.
import * as tf from "@tensorflow/tfjs";
import { borrowTensor } from "./tensor-handles.js";
import { evenAxis, gemmPacked, packedFloats, packRight, withScratch, type HeapBackend } from "./gemm.js";
import { geometryArguments, imagesPerChunk, patchesInside, patchGeometry, pixelAxis, tapAxis, transposedPatches, type PatchGeometry } from "./im2col.js";
import { backendKernels } from "./kernels-wasm.js";

/** Packed dy floats per chunk of images: 16 K floats (64 KB) keeps a chunk of dy in L2 next to its x. */
const PACKED_FLOATS_PER_CHUNK = 16 * 1024;

/** Below this fraction of nonzero dy the sparse path is faster; with fewer taps its short runs are not. */
const SPARSE_BELOW = 0.4;
const SPARSE_MIN_TAPS = 64;

/** x floats per chunk of images on the sparse path (64 KB: a chunk's x stays in L2 across the channels). */
const SPARSE_X_FLOATS_PER_CHUNK = 16 * 1024;

/** dW ([P, Co] at byte `dW`) from NHWC x and dy in the heap. */
function filterGradient(backend: HeapBackend, x: tf.TensorInfo, dy: tf.TensorInfo, dW: tf.TensorInfo, batch: number, outChannels: number, g: PatchGeometry): void {
  const pixels = g.outHeight * g.outWidth;
  const taps = g.filterHeight * g.filterWidth * g.channels;
  const pointer = (info: tf.TensorInfo) => backend.typedArrayFromHeap(info).byteOffset;
  const imageBytes = g.height * g.width * g.channels * 4;
  const inPlace = patchesInside(g);
  const perChunk = Math.min(inPlace ? batch : imagesPerChunk(batch, g), Math.max(1, Math.floor(PACKED_FLOATS_PER_CHUNK / packedFloats(pixels, outChannels))));
  if (batch === 0) {
    (backend.typedArrayFromHeap(dW) as Float32Array).fill(0); // the sum of no terms
    return;
  }
  const kernels = backendKernels(backend);
  const dyCount = batch * pixels * outChannels;
  if (inPlace && taps >= SPARSE_MIN_TAPS && kernels.countNonzero(pointer(dy), dyCount) < SPARSE_BELOW * dyCount) {
    withScratch(backend, outChannels * taps, (dWT) => {
      new Float32Array(backend.wasm.HEAPU8.buffer, dWT, outChannels * taps).fill(0);
      const [h, w, c, fh, fw, oh, ow, sh, sw] = geometryArguments(g);
      const images = Math.max(1, Math.floor(SPARSE_X_FLOATS_PER_CHUNK / (h * w * c)));
      kernels.sparseFilterGradient(pointer(x), pointer(dy), dWT, batch, images, h, w, c, fh, fw, oh, ow, sh, sw, outChannels);
      kernels.transposeMatrix(dWT, outChannels, taps, pointer(dW));
    });
    return;
  }
  const target = { pointer: pointer(dW), rowStride: outChannels * 4, colStride: 4 };
  withScratch(backend, packedFloats(perChunk * pixels, outChannels), (packed) => {
    for (let first = 0; first < batch; first += perChunk) {
      const count = Math.min(perChunk, batch - first);
      const rows = count * pixels;
      packRight(backend, { pointer: pointer(dy) + first * pixels * outChannels * 4, rowStride: outChannels * 4, colStride: 4 }, rows, outChannels, packed);
      if (inPlace) {
        const patches = { pointer: pointer(x) + first * imageBytes, rows: tapAxis(g), cols: pixelAxis(g, count) };
        gemmPacked(backend, patches, packed, outChannels, target, first > 0);
      } else {
        const patches = transposedPatches(backend, x, first, count, g);
        try {
          gemmPacked(backend, { pointer: pointer(patches), rows: evenAxis(taps, rows * 4), cols: evenAxis(rows, 4) }, packed, outChannels, target, first > 0);
        } finally {
          patches.dispose();
        }
      }
    }
  });
}

function conv2DBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as HeapBackend;
  const inputs = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (inputs.x.dtype !== "float32" || inputs.dy.dtype !== "float32") {
    throw new Error(`Conv2DBackpropFilter: float32 tensors expected, got x ${inputs.x.dtype} and dy ${inputs.dy.dtype}`);
  }
  const owned: tf.Tensor[] = [];
  try {
    const nchw = attrs.dataFormat === "NCHW";
    let x = inputs.x, dy = inputs.dy;
    if (nchw) {
      const [xIn, dyIn] = [borrowTensor(backend, inputs.x), borrowTensor(backend, inputs.dy)];
      owned.push(xIn, dyIn);
      const [xT, dyT] = [tf.transpose(xIn, [0, 2, 3, 1]), tf.transpose(dyIn, [0, 2, 3, 1])];
      owned.push(xT, dyT);
      [x, dy] = [xT, dyT];
    }
    const [kh, kw, inChannels, outChannels] = attrs.filterShape;
    const [batch, height, width, channels] = x.shape as [number, number, number, number];
    if (channels !== inChannels) throw new Error(`Conv2DBackpropFilter: x has ${channels} channels, the filter ${inChannels}`);
    const info = tf.backend_util.computeConv2DInfo(
      [batch, height, width, channels], attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, "channelsLast",
    );
    if (dy.shape.join() !== [batch, info.outHeight, info.outWidth, outChannels].join()) {
      throw new Error(`Conv2DBackpropFilter: dy has shape [${dy.shape}], the convolution outputs [${[batch, info.outHeight, info.outWidth, outChannels]}]`);
    }
    const dW = backend.makeOutput([kh, kw, inChannels, outChannels], "float32");
    try {
      filterGradient(backend, x, dy, dW, batch, outChannels, patchGeometry(info));
    } catch (err) {
      backend.disposeData(dW.dataId);
      throw err;
    }
    return dW;
  } finally {
    for (const t of owned) t.dispose();
  }
}

export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: "wasm",
  kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc,
};
