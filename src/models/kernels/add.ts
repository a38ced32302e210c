// Add for the WASM backend, faster for a bias: x [..., C] + b [C] (every conv and dense layer's
// bias; the shipped kernel's broadcasting path took 0.6 ms for LeNet's conv1 output at batch 64).
// Rows added four columns at once (assembly/kernels/add-row-bias.ts). Other shapes and dtypes: shipped.
import * as tf from "@tensorflow/tfjs";
import type { HeapBackend } from "./gemm.js";
import { backendKernels } from "./kernels-wasm.js";

export function makeAddConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  function add(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend }): tf.TensorInfo {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const isBias = (x: tf.TensorInfo, bias: tf.TensorInfo) =>
      bias.shape.length === 1 && x.shape.length >= 2 && x.shape[x.shape.length - 1] === bias.shape[0];
    // float addition commutes exactly, so b + x is x + b
    const [x, bias] = isBias(a, b) ? [a, b] : isBias(b, a) ? [b, a] : [null, null];
    if (!x || !bias || a.dtype !== "float32" || b.dtype !== "float32") return shipped.kernelFunc(args as never) as tf.TensorInfo;
    const backend = args.backend as HeapBackend;
    const out = backend.makeOutput(x.shape.slice(), "float32");
    // pointers after makeOutput: allocating may grow the wasm memory (offsets stay valid)
    const pointer = (t: tf.TensorInfo) => backend.typedArrayFromHeap(t).byteOffset;
    const cols = bias.shape[0];
    backendKernels(backend).addRowBias(pointer(x), pointer(bias), pointer(out), cols === 0 ? 0 : tf.util.sizeFromShape(x.shape) / cols, cols);
    return out;
  }
  return { kernelName: tf.Add, backendName: "wasm", kernelFunc: add as unknown as tf.KernelFunc };
}
