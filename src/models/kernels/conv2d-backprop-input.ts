// A faster Conv2DBackpropInput for the WASM backend: the shipped kernel is a scalar loop (135 ms
// for LeNet's second conv at batch 64, against 15 ms forward). Here the patch gradients
// dy[N*OH*OW, Co] x W^T[Co, KH*KW*Ci] are GEMM products (gemm.ts; W^T is only a stride), a few
// images at a time into a scratch block that stays in cache, each added back onto the image
// (col2im) before the next. Any stride and padding. A dy that is mostly zero (behind ReLU and a 2x2
// max pool at most a quarter is nonzero) skips the product: each nonzero dy adds its row of W^T
// straight onto dx (assembly/kernels/sparse-input-gradient.ts), when no patch reaches the padding.
import * as tf from "@tensorflow/tfjs";
import { borrowTensor, handOverTensor } from "./tensor-handles.js";
import { evenAxis, gemmPacked, packedFloats, packRight, withScratch, type HeapBackend } from "./gemm.js";
import { geometryArguments, patchesInside, patchGeometry } from "./im2col.js";
import { accumulatePatches } from "./col2im.js";
import { backendKernels } from "./kernels-wasm.js";

/** Patch-gradient floats per chunk of images (256 KB: the block is written and re-read from L2). */
const COLUMN_FLOATS_PER_CHUNK = 64 * 1024;

/** Below this fraction of nonzero dy the sparse path is faster (it does 1/4 of the work at 25 %, in slower loops). */
const SPARSE_BELOW = 0.4;

function conv2DBackpropInput(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as HeapBackend;
  const inputs = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  if (inputs.dy.dtype !== "float32" || inputs.filter.dtype !== "float32") {
    throw new Error(`Conv2DBackpropInput: float32 tensors expected, got dy ${inputs.dy.dtype} and filter ${inputs.filter.dtype}`);
  }
  const nchw = attrs.dataFormat === "NCHW";
  const s = attrs.inputShape;
  const [batch, height, width, channels] = nchw ? [s[0], s[2], s[3], s[1]] : s;
  const [kh, kw, inChannels, outChannels] = inputs.filter.shape as [number, number, number, number];
  if (inChannels !== channels) throw new Error(`Conv2DBackpropInput: input has ${channels} channels, the filter ${inChannels}`);
  const info = tf.backend_util.computeConv2DInfo(
    [batch, height, width, channels], [kh, kw, inChannels, outChannels], attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, "channelsLast",
  );
  const owned: tf.Tensor[] = [];
  try {
    let dy = inputs.dy;
    if (nchw) {
      const dyIn = borrowTensor(backend, inputs.dy);
      owned.push(dyIn);
      const dyT = tf.transpose(dyIn, [0, 2, 3, 1]);
      owned.push(dyT);
      dy = dyT;
    }
    if (dy.shape.join() !== [batch, info.outHeight, info.outWidth, outChannels].join()) {
      throw new Error(`Conv2DBackpropInput: dy has shape [${dy.shape}], the convolution outputs [${[batch, info.outHeight, info.outWidth, outChannels]}]`);
    }
    const g = patchGeometry(info);
    const pixels = info.outHeight * info.outWidth;
    const taps = kh * kw * inChannels;
    const dx = backend.makeOutput([batch, height, width, channels], "float32");
    (backend.typedArrayFromHeap(dx) as Float32Array).fill(0);
    const pointer = (t: tf.TensorInfo) => backend.typedArrayFromHeap(t).byteOffset;
    const perChunk = Math.max(1, Math.min(batch, Math.floor(COLUMN_FLOATS_PER_CHUNK / Math.max(1, pixels * taps))));
    const kernels = backendKernels(backend);
    const dyCount = batch * pixels * outChannels;
    const sparse = patchesInside(g) && dyCount > 0 && kernels.countNonzero(pointer(dy), dyCount) < SPARSE_BELOW * dyCount;
    try {
      if (sparse) {
        withScratch(backend, taps * outChannels, (wT) => {
          kernels.transposeMatrix(pointer(inputs.filter), taps, outChannels, wT);
          const [h, w, c, fh, fw, oh, ow, sh, sw] = geometryArguments(g);
          kernels.sparseInputGradient(pointer(dy), wT, pointer(dx), batch, h, w, c, fh, fw, oh, ow, sh, sw, outChannels);
        });
      } else withScratch(backend, packedFloats(outChannels, taps), (packed) => {
        // W^T [Co, P]: element (co, p) of the stored [P, Co] filter
        packRight(backend, { pointer: pointer(inputs.filter), rowStride: 4, colStride: outChannels * 4 }, outChannels, taps, packed);
        withScratch(backend, perChunk * pixels * taps, (columns) => {
          for (let first = 0; first < batch; first += perChunk) {
            const count = Math.min(perChunk, batch - first);
            const rows = count * pixels;
            const dyRows = { pointer: pointer(dy) + first * pixels * outChannels * 4, rows: evenAxis(rows, outChannels * 4), cols: evenAxis(outChannels, 4) };
            gemmPacked(backend, dyRows, packed, taps, { pointer: columns, rowStride: taps * 4, colStride: 4 }, false);
            accumulatePatches(backend, columns, dx, first, count, g);
          }
        });
      });
    } catch (err) {
      backend.disposeData(dx.dataId);
      throw err;
    }
    if (!nchw) return dx;
    const dxTensor = tf.engine().makeTensorFromTensorInfo(dx, backend);
    owned.push(dxTensor);
    return handOverTensor(backend, tf.transpose(dxTensor, [0, 3, 1, 2]));
  } finally {
    for (const t of owned) t.dispose();
  }
}

export const conv2DBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: "wasm",
  kernelFunc: conv2DBackpropInput as unknown as tf.KernelFunc,
};
