// Conv2DBackpropFilter for the WASM backend (tfjs 4.22 ships none, so conv training fails).
// dW[kh,kw,ci,co] = sum over n,oh,ow of x[n, oh*s+kh-top, ow*s+kw-left, ci] * dy[n,oh,ow,co]: the
// transposed patch matrix of x times dy as an [N*OH*OW, Co] matrix, one XNNPACK product per chunk
// of images (chunks bound the patch matrix's memory).
import * as tf from "@tensorflow/tfjs";
import { borrowTensor, handOverTensor } from "./tensor-handles.js";
import { imagesPerChunk, patchGeometry, transposedPatches, type WasmBackend } from "./im2col.js";

function conv2DBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const inputs = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (inputs.x.dtype !== "float32" || inputs.dy.dtype !== "float32") {
    throw new Error(`Conv2DBackpropFilter: float32 tensors expected, got x ${inputs.x.dtype} and dy ${inputs.dy.dtype}`);
  }
  const xIn = borrowTensor(backend, inputs.x);
  const dyIn = borrowTensor(backend, inputs.dy);
  const owned: tf.Tensor[] = [xIn, dyIn];
  try {
    const nchw = attrs.dataFormat === "NCHW";
    const x = nchw ? tf.transpose(xIn, [0, 2, 3, 1]) : xIn;
    const dy = nchw ? tf.transpose(dyIn, [0, 2, 3, 1]) : dyIn;
    if (nchw) owned.push(x, dy);
    const [kh, kw, inChannels, outChannels] = attrs.filterShape;
    const [batch, height, width, channels] = x.shape as [number, number, number, number];
    if (channels !== inChannels) throw new Error(`Conv2DBackpropFilter: x has ${channels} channels, the filter ${inChannels}`);
    const info = tf.backend_util.computeConv2DInfo(
      [batch, height, width, channels], attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, "channelsLast",
    );
    if (dy.shape.join() !== [batch, info.outHeight, info.outWidth, outChannels].join()) {
      throw new Error(`Conv2DBackpropFilter: dy has shape [${dy.shape}], the convolution outputs [${[batch, info.outHeight, info.outWidth, outChannels]}]`);
    }
    const geometry = patchGeometry(info);
    const pixels = info.outHeight * info.outWidth;
    const chunk = imagesPerChunk(batch, geometry);
    const dyRows = tf.reshape(dy, [batch * pixels, outChannels]);
    owned.push(dyRows);
    let sum: tf.Tensor | null = null;
    for (let first = 0; first < batch; first += chunk) {
      const count = Math.min(chunk, batch - first);
      const patches = transposedPatches(backend, x, first, count, geometry);
      const rows = count === batch ? dyRows : tf.slice(dyRows, [first * pixels, 0], [count * pixels, outChannels]);
      const part = tf.matMul(patches, rows);
      patches.dispose();
      if (rows !== dyRows) rows.dispose();
      if (sum) {
        const next: tf.Tensor = tf.add(sum, part);
        sum.dispose();
        part.dispose();
        sum = next;
      } else sum = part;
    }
    const dW = tf.reshape(sum!, [kh, kw, inChannels, outChannels]);
    sum!.dispose();
    return handOverTensor(backend, dW);
  } finally {
    for (const t of owned) t.dispose();
  }
}

export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: "wasm",
  kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc,
};
