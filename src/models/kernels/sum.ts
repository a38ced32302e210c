// Sum for the WASM backend, faster over leading axes: the shipped kernel transposes the reduced
// axes innermost first (2.6 ms of a LeNet step for conv1's bias gradient, [64,24,24,20] -> [20]);
// here the rows are added in place (assembly/kernels/sum-leading-axes.ts). Other axes: shipped.
import * as tf from "@tensorflow/tfjs";
import type { WasmBackend } from "./im2col.js";
import { backendKernels } from "./kernels-wasm.js";

export function makeSumConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  function sum(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
    if (x.dtype !== "float32" || !leading) return shipped.kernelFunc(args) as tf.TensorInfo;
    const backend = args.backend as WasmBackend;
    const kept = x.shape.slice(axes.length);
    const out = backend.makeOutput(keepDims ? [...axes.map(() => 1), ...kept] : kept, "float32");
    const cols = tf.util.sizeFromShape(kept);
    // pointers after makeOutput: allocating may grow the wasm memory (offsets stay valid)
    const pointer = (info: tf.TensorInfo) => backend.typedArrayFromHeap(info).byteOffset;
    // also empty inputs: the sum of no rows is 0 (the shipped kernel leaves that output unwritten)
    backendKernels(backend).sumLeadingAxes(pointer(x), pointer(out), tf.util.sizeFromShape(x.shape.slice(0, axes.length)), cols);
    return out;
  }
  return { kernelName: tf.Sum, backendName: "wasm", kernelFunc: sum as unknown as tf.KernelFunc };
}
