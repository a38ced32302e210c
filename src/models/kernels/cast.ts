// Cast to the dtype a tensor already has without a copy (the shipped wasm kernel copies; every ReLU
// gradient casts its float32 step mask to float32). Other casts: the shipped kernel.
import * as tf from "@tensorflow/tfjs";
import type { HeapBackend } from "./gemm.js";

export function makeCastConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  function cast(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { dtype } = args.attrs as unknown as { dtype: tf.DataType };
    if (dtype !== x.dtype || x.dtype === "string") return shipped.kernelFunc(args) as tf.TensorInfo;
    (args.backend as HeapBackend).incRef(x.dataId); // tensor data is immutable: share it (see identity.ts)
    return { dataId: x.dataId, shape: x.shape.slice(), dtype };
  }
  return { kernelName: tf.Cast, backendName: "wasm", kernelFunc: cast as unknown as tf.KernelFunc };
}
