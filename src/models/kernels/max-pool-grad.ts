// A faster MaxPoolGrad for the WASM backend (the shipped kernel took 24 ms per LeNet step at batch
// 64; this takes a few). Each pooling window sends its dy to the window's first maximum in
// row-major order, the position the cpu kernel picks, so ties (common after ReLU) agree.
import * as tf from "@tensorflow/tfjs";

type WasmBackend = tf.KernelBackend & {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array;
};

interface MaxPoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: "floor" | "round" | "ceil";
}

function maxPoolGrad(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const attrs = args.attrs as unknown as MaxPoolGradAttrs;
  const backend = args.backend as WasmBackend;
  if (input.dtype !== "float32" || dy.dtype !== "float32") throw new Error(`MaxPoolGrad: float32 tensors expected, got ${input.dtype} and ${dy.dtype}`);
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode,
  );
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  if (dy.shape.join() !== [batchSize, outHeight, outWidth, channels].join()) {
    throw new Error(`MaxPoolGrad: dy has shape [${dy.shape}], expected [${[batchSize, outHeight, outWidth, channels]}]`);
  }
  const out = backend.makeOutput(input.shape.slice(), "float32");
  // views after makeOutput: allocating may grow (and detach) the wasm memory
  const dx = backend.typedArrayFromHeap(out) as Float32Array;
  const x = backend.typedArrayFromHeap(input) as Float32Array;
  const g = backend.typedArrayFromHeap(dy) as Float32Array;
  dx.fill(0);
  const rowStride = inWidth * channels;
  const imageStride = inHeight * rowStride;
  let dyIndex = 0;
  for (let b = 0; b < batchSize; b++) {
    const imageBase = b * imageStride;
    for (let oh = 0; oh < outHeight; oh++) {
      const rowCorner = oh * strideHeight - info.padInfo.top;
      const rMin = Math.max(0, rowCorner);
      const rMax = Math.min(inHeight, rowCorner + filterHeight);
      for (let ow = 0; ow < outWidth; ow++) {
        const colCorner = ow * strideWidth - info.padInfo.left;
        const cMin = Math.max(0, colCorner);
        const cMax = Math.min(inWidth, colCorner + filterWidth);
        for (let c = 0; c < channels; c++, dyIndex++) {
          let best = Number.NEGATIVE_INFINITY;
          let at = -1;
          for (let r = rMin; r < rMax; r++) {
            let p = imageBase + r * rowStride + cMin * channels + c;
            for (let col = cMin; col < cMax; col++, p += channels) {
              if (x[p] > best) {
                best = x[p];
                at = p;
              }
            }
          }
          if (at >= 0) dx[at] += g[dyIndex];
        }
      }
    }
  }
  return out;
}

export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: tf.MaxPoolGrad,
  backendName: "wasm",
  kernelFunc: maxPoolGrad as unknown as tf.KernelFunc,
};
