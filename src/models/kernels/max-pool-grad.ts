// A faster MaxPoolGrad for the WASM backend (the shipped kernel took 24 ms per LeNet step at batch
// 64). Each pooling window sends its dy to the window's first maximum in row-major order, the
// position the cpu kernel picks, so ties (common after ReLU) agree. The loop is AssemblyScript SIMD
// (assembly/kernels/max-pool-grad.ts, four channels at once) working in the tfjs heap.
import * as tf from "@tensorflow/tfjs";
import { backendKernels } from "./kernels-wasm.js";

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
  // pointers after makeOutput: allocating may grow the wasm memory (offsets stay valid)
  const pointer = (info: tf.TensorInfo) => backend.typedArrayFromHeap(info).byteOffset;
  backendKernels(backend).maxPoolGrad(
    pointer(input), pointer(dy), pointer(out), batchSize, inHeight, inWidth, channels,
    filterHeight, filterWidth, outHeight, outWidth, strideHeight, strideWidth, info.padInfo.top, info.padInfo.left,
  );
  return out;
}

export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: tf.MaxPoolGrad,
  backendName: "wasm",
  kernelFunc: maxPoolGrad as unknown as tf.KernelFunc,
};
