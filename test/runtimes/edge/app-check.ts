// The HTTP app each runtime serves: a defended predictor (MAD-argmax, ε = 0.5) over a victim and a proxy with
// fixed weights (inputs 2 x 2 x 1, K = 3), either as tfjs models on the WASM backend or, where tfjs-wasm cannot
// start (workerd), as the same softmax(W x + b) in plain JavaScript: both give the same probabilities.
import * as tf from "@tensorflow/tfjs";
import type { Hono } from "hono";
import {
  createApp, createDefense, defendedPredictor, DefendedModel, initBackend, TfjsClassifier,
  type BackendInfo, type BackendOptions, type Core, type InputBatch,
} from "../../../src/index.js";

export const inputShape = [2, 2, 1] as const;
const D = 4;
const K = 3;
/** D x K kernels and K biases of the victim and the proxy. */
const victimWeights = { kernel: [1.5, -0.5, 0.2, -1, 2, 0.3, 0.4, 0.1, -0.8, 0.2, -0.6, 1.1], bias: [0.1, -0.2, 0.05] };
const proxyWeights = { kernel: [0.5, 0.2, -0.3, -0.4, 0.9, 0.1, 0.2, -0.1, 0.6, 0.3, 0.3, -0.2], bias: [0, 0.1, -0.1] };

/** Four 2 x 2 x 1 inputs in [0, 1], as the nested arrays of POST /v1/predict. */
export const requestInputs = [
  [[[0.9], [0.1]], [[0.2], [0.7]]],
  [[[0.1], [0.8]], [[0.3], [0]]],
  [[[0.5], [0.5]], [[0.5], [0.5]]],
  [[[0], [0.2]], [[1], [0.4]]],
];

function tfjsModel(weights: { kernel: number[]; bias: number[] }): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [...inputShape] }),
      tf.layers.dense({ units: K, weights: [tf.tensor2d(weights.kernel, [D, K]), tf.tensor1d(weights.bias)] }),
    ],
  });
}

/** softmax(W x + b) per row in float64, stored as float32: what the tfjs model computes. */
function plainModel(weights: { kernel: number[]; bias: number[] }) {
  return async (batch: InputBatch): Promise<Float32Array> => {
    const out = new Float32Array(batch.batchSize * K);
    for (let b = 0; b < batch.batchSize; b++) {
      const z = weights.bias.map((bias, k) => {
        let s = bias;
        for (let d = 0; d < D; d++) s += batch.data[b * D + d] * weights.kernel[d * K + k];
        return s;
      });
      const top = Math.max(...z);
      const e = z.map((v) => Math.exp(v - top));
      const sum = e.reduce((a, v) => a + v, 0);
      for (let k = 0; k < K; k++) out[b * K + k] = e[k] / sum;
    }
    return out;
  };
}

const defended = (core: Core, victim: TfjsClassifier | ((batch: InputBatch) => Promise<Float32Array>), proxy: { probs(batch: InputBatch): Promise<Float32Array> }) =>
  createApp({
    predictor: defendedPredictor(
      new DefendedModel(victim, createDefense("mad-argmax", { epsilon: 0.5 }, { core }), { proxy, numClasses: K, inputShape }),
      { model: "inline 2x2x1 softmax regression" },
    ),
  });

/** The app over tfjs models on the WASM backend (started here), and what the backend reports. */
export async function tfjsApp(core: Core, backend: BackendOptions = {}): Promise<{ app: Hono; backend: BackendInfo }> {
  const info = await initBackend(backend);
  const victim = new TfjsClassifier(tfjsModel(victimWeights));
  const proxy = new TfjsClassifier(tfjsModel(proxyWeights));
  return { app: defended(core, victim, { probs: (batch) => proxy.predict(batch) }), backend: info };
}

/** The same app with the models in plain JavaScript (no tfjs). */
export function plainApp(core: Core): Hono {
  return defended(core, plainModel(victimWeights), { probs: plainModel(proxyWeights) });
}
