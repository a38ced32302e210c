// Kernels composed from tfjs ops need Tensor handles on their TensorInfo inputs and must hand a
// bare TensorInfo back. These two helpers keep the backend's reference counts balanced.
import * as tf from "@tensorflow/tfjs";

type Backend = tf.KernelBackend & { incRef(dataId: object): void };

/** A Tensor that shares `info`'s data; dispose it when done (the caller's tensor survives). */
export function borrowTensor(backend: tf.KernelBackend, info: tf.TensorInfo): tf.Tensor {
  // makeTensorFromTensorInfo does not count a reference, but dispose() releases one
  (backend as Backend).incRef(info.dataId);
  return tf.engine().makeTensorFromTensorInfo(info, backend);
}

/** Give `t`'s data to the engine as a kernel output, releasing the local handle. */
export function handOverTensor(backend: tf.KernelBackend, t: tf.Tensor): tf.TensorInfo {
  (backend as Backend).incRef(t.dataId);
  const info: tf.TensorInfo = { dataId: t.dataId, shape: t.shape.slice(), dtype: t.dtype };
  t.dispose();
  return info;
}

/** Run `compute` on borrowed inputs inside a tidy and hand its result over as the kernel output. */
export function composeKernel(
  backend: tf.KernelBackend,
  inputs: tf.TensorInfo[],
  compute: (...tensors: tf.Tensor[]) => tf.Tensor,
): tf.TensorInfo {
  const borrowed = inputs.map((info) => borrowTensor(backend, info));
  try {
    const result = tf.tidy(() => compute(...borrowed));
    return handOverTensor(backend, result);
  } finally {
    for (const t of borrowed) t.dispose();
  }
}
