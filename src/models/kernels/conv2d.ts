// Conv2D (the forward convolution) on the GEMM (gemm.ts): the patch matrix [N*OH*OW, KH*KW*Ci] times
// the filter as a [KH*KW*Ci, Co] matrix. Without padding the patch matrix is read from x in place
// (implicit im2col); with padding it is written out per chunk of images (zero in the padding). The
// shipped XNNPACK convolution took 7.8 ms for LeNet's conv2 at batch 64 and 2.9 ms for conv1, and
// is wrong for some paddings with unequal strides (x [1,8,6,4], filter [2,1,4,6], strides [1,3],
// "same": off by up to 2.6). NCHW, dilations and other dtypes: the shipped kernel.
import * as tf from "@tensorflow/tfjs";
import { evenAxis, gemmPacked, packedFloats, packRight, withScratch, type HeapBackend } from "./gemm.js";
import { imagesPerChunk, patchesInside, patchGeometry, pixelAxis, tapAxis, transposedPatches } from "./im2col.js";

export function makeConv2DConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  function conv2D(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
    const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
    const attrs = args.attrs as unknown as tf.Conv2DAttrs;
    const dilations = typeof attrs.dilations === "number" ? [attrs.dilations, attrs.dilations] : attrs.dilations ?? [1, 1];
    if (x.dtype !== "float32" || filter.dtype !== "float32" || attrs.dataFormat === "NCHW" || dilations[0] !== 1 || dilations[1] !== 1 || x.shape.length !== 4) {
      return shipped.kernelFunc(args) as tf.TensorInfo;
    }
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number], filter.shape as [number, number, number, number], attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, "channelsLast",
    );
    const g = patchGeometry(info);
    const backend = args.backend as HeapBackend;
    const out = backend.makeOutput(info.outShape, "float32");
    // pointers after makeOutput: allocating may grow the wasm memory (offsets stay valid)
    const pointer = (t: tf.TensorInfo) => backend.typedArrayFromHeap(t).byteOffset;
    const { batchSize: batch, outChannels } = info;
    const taps = g.filterHeight * g.filterWidth * g.channels;
    const pixels = g.outHeight * g.outWidth;
    try {
      withScratch(backend, packedFloats(taps, outChannels), (packed) => {
        packRight(backend, { pointer: pointer(filter), rowStride: outChannels * 4, colStride: 4 }, taps, outChannels, packed);
        const target = (first: number) => ({ pointer: pointer(out) + first * pixels * outChannels * 4, rowStride: outChannels * 4, colStride: 4 });
        if (patchesInside(g)) {
          gemmPacked(backend, { pointer: pointer(x), rows: pixelAxis(g, batch), cols: tapAxis(g) }, packed, outChannels, target(0), false);
          return;
        }
        const perChunk = imagesPerChunk(batch, g);
        for (let first = 0; first < batch; first += perChunk) {
          const count = Math.min(perChunk, batch - first);
          const patches = transposedPatches(backend, x, first, count, g); // [taps, count*pixels]: read transposed
          try {
            gemmPacked(backend, { pointer: pointer(patches), rows: evenAxis(count * pixels, 4), cols: evenAxis(taps, count * pixels * 4) }, packed, outChannels, target(first), false);
          } finally {
            patches.dispose();
          }
        }
      });
    } catch (err) {
      backend.disposeData(out.dataId);
      throw err;
    }
    return out;
  }
  return { kernelName: tf.Conv2D, backendName: "wasm", kernelFunc: conv2D as unknown as tf.KernelFunc };
}
