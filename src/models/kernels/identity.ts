// Identity without a copy: the shipped wasm kernel copies the buffer, and tfjs's engine calls it to
// save every input and output a gradient needs (tf.clone in saveTensorsForBackwardMode): 14 copies,
// ~1 ms per LeNet step. Tensor data is immutable in tfjs (no kernel writes its inputs; a variable's
// assign swaps buffers), so sharing the buffer with one more reference is what the cpu backend does.
import * as tf from "@tensorflow/tfjs";
import type { HeapBackend } from "./gemm.js";

export function makeIdentityConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  function identity(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend }): tf.TensorInfo {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype === "string") return shipped.kernelFunc(args as never) as tf.TensorInfo;
    (args.backend as HeapBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
  }
  return { kernelName: tf.Identity, backendName: "wasm", kernelFunc: identity as unknown as tf.KernelFunc };
}
