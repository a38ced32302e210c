// Proxy.directionalLogProbDerivative (GRAD²'s c = ⟨∇θ log p_k, t⟩ over all weights, by central finite
// differences along t) against autodiff: one backward pass per (example, class), dotted with t.
import * as tf from "@tensorflow/tfjs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { initBackend } from "../../src/models/backend.js";
import { Proxy, type WeightDirection } from "../../src/models/proxy.js";
import type { InputBatch } from "../../src/models/types.js";
import { buildModel, type ModelSpec } from "../../src/models/zoo.js";
import { randomArray, relativeError } from "./helpers.js";

test.before(async () => {
  await initBackend();
});

/** The oracle: D[b][k] = Σ_θ ∂ log p_k(x_b)/∂θ · t_θ by tf.variableGrads, float64 dot products. */
function autodiffDirectional(model: tf.LayersModel, batch: InputBatch, direction: WeightDirection): Float64Array {
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const t = variables.map((v) => (direction === "ones" ? null : (v.dataSync() as Float32Array)));
  const size = batch.inputShape.reduce((a, b) => a * b, 1);
  const K = model.outputs[0].shape[1] as number;
  const out = new Float64Array(batch.batchSize * K);
  for (let b = 0; b < batch.batchSize; b++) {
    const x = tf.tensor(batch.data.subarray(b * size, (b + 1) * size), [1, ...batch.inputShape]);
    for (let k = 0; k < K; k++) {
      const { value, grads } = tf.variableGrads(
        () => tf.slice(tf.logSoftmax(model.apply(x) as tf.Tensor), [0, k], [1, 1]).reshape([]) as tf.Scalar,
        variables,
      );
      let dot = 0;
      variables.forEach((v, i) => {
        const g = grads[v.name].dataSync() as Float32Array;
        const ti = t[i];
        for (let j = 0; j < g.length; j++) dot += g[j] * (ti ? ti[j] : 1);
      });
      out[b * K + k] = dot;
      value.dispose();
      tf.dispose(Object.values(grads));
    }
    x.dispose();
  }
  return out;
}

function tinyDense(seed: number): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [4], units: 6, activation: "tanh", kernelInitializer: tf.initializers.randomNormal({ stddev: 0.5, seed }), biasInitializer: tf.initializers.randomNormal({ stddev: 0.3, seed: seed + 1 }) }),
      tf.layers.dense({ units: 5, activation: "tanh", kernelInitializer: tf.initializers.randomNormal({ stddev: 0.5, seed: seed + 2 }), biasInitializer: "zeros" }),
      tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.randomNormal({ stddev: 0.5, seed: seed + 3 }), biasInitializer: tf.initializers.randomNormal({ stddev: 0.3, seed: seed + 4 }) }),
    ],
  });
}

test("tiny dense model: finite differences along t = 1 and t = θ match autodiff", async () => {
  const model = tinyDense(3);
  const proxy = new Proxy(model);
  const batch: InputBatch = { data: randomArray(5 * 4, 7), batchSize: 5, inputShape: [4] };
  for (const direction of ["ones", "theta"] as const) {
    const expected = autodiffDirectional(model, batch, direction);
    const actual = await proxy.directionalLogProbDerivative(batch, direction, 1e-3);
    assert.is(actual.length, 15);
    const err = relativeError(actual, expected);
    assert.ok(err < 2e-3, `${direction}: relative error ${err}`);
    // Σ_k p_k·∂log p_k = ∂Σ p_k = 0: a check that needs no oracle
    const p = await proxy.probs(batch);
    for (let b = 0; b < 5; b++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += p[b * 3 + k] * actual[b * 3 + k];
      assert.ok(Math.abs(s) < 1e-2 * Math.max(1, Math.abs(actual[b * 3])), `${direction} row ${b}: Σ p·D = ${s}`);
    }
  }
  proxy.dispose();
});

test("t = 1 on the last layer alone would give c = 0; over all layers of a scratch LeNet it does not, and matches autodiff", async () => {
  const spec: ModelSpec = { arch: "lenet", numClasses: 10, inputShape: [28, 28, 1], seed: 2 };
  const proxy = Proxy.scratch(spec);
  const batch: InputBatch = { data: randomArray(3 * 784, 4).map((v) => (v + 1) / 2), batchSize: 3, inputShape: [28, 28, 1] };
  const expected = autodiffDirectional(proxy.model, batch, "ones");
  // float32 forward passes: about 2 % at h = 1e-4 (rounding below it, truncation and ReLU kinks above)
  const actual = await proxy.directionalLogProbDerivative(batch, "ones", 1e-4);
  const err = relativeError(actual, expected);
  assert.ok(err < 5e-2, `relative error ${err}`);
  // The argmin class (what GRAD² acts on) agrees for every row.
  for (let b = 0; b < 3; b++) {
    const argmin = (v: ArrayLike<number>) => {
      let m = 0;
      for (let k = 1; k < 10; k++) if (v[b * 10 + k] < v[b * 10 + m]) m = k;
      return m;
    };
    assert.is(argmin(actual), argmin(expected), `row ${b}`);
  }
  // The last layer's kernel and bias alone: Σ_j ∂ log p_k/∂W_jk' over t = 1 is h_j·(δ_kk' − p_k') summed: 0.
  const last = proxy.model.layers[proxy.model.layers.length - 1].trainableWeights.map((w) => w.read() as tf.Variable);
  const x = tf.tensor(batch.data.subarray(0, 784), [1, 28, 28, 1]);
  const { value, grads } = tf.variableGrads(() => tf.slice(tf.logSoftmax(proxy.model.apply(x) as tf.Tensor), [0, 4], [1, 1]).reshape([]) as tf.Scalar, last);
  const sum = last.reduce((s, v) => s + (grads[v.name].sum().dataSync()[0]), 0);
  assert.ok(Math.abs(sum) < 1e-3, `last layer only: ${sum}`);
  tf.dispose([x, value, ...Object.values(grads)]);
  proxy.dispose();
});

test("the shifted copies are built once and freed by releaseDirectionalCopies and dispose", async () => {
  const model = buildModel({ arch: "mlp", numClasses: 4, inputShape: [6, 6, 1], seed: 1 });
  const proxy = new Proxy(model);
  const batch: InputBatch = { data: randomArray(2 * 36, 2), batchSize: 2, inputShape: [6, 6, 1] };
  await proxy.probs(batch);
  const before = tf.memory().numTensors;
  const first = await proxy.directionalLogProbDerivative(batch, "ones", 1e-3);
  const withCopies = tf.memory().numTensors;
  assert.ok(withCopies > before, "copies hold tensors");
  const again = await proxy.directionalLogProbDerivative(batch, "ones", 1e-3);
  assert.is(tf.memory().numTensors, withCopies, "no second pair of copies, no leak per call");
  assert.equal(Array.from(again), Array.from(first));
  proxy.releaseDirectionalCopies();
  await new Promise((r) => setTimeout(r, 0));
  assert.is(tf.memory().numTensors, before, "released");
  await proxy.directionalLogProbDerivative(batch, "theta", 1e-2);
  proxy.dispose();
  await new Promise((r) => setTimeout(r, 0));
  assert.ok(tf.memory().numTensors < before, "dispose frees the copies and the model");
});

test("bad direction or step is an error", async () => {
  const proxy = new Proxy(tinyDense(1));
  const batch: InputBatch = { data: randomArray(4, 1), batchSize: 1, inputShape: [4] };
  for (const [dir, h, pattern] of [["up", 1e-3, /unknown weight direction/], ["ones", 0, /must be a positive number/], ["ones", NaN, /must be a positive/]] as const) {
    try {
      await proxy.directionalLogProbDerivative(batch, dir as WeightDirection, h);
      assert.unreachable("accepted");
    } catch (e) {
      assert.match(String(e), pattern);
    }
  }
  proxy.dispose();
});

test.run();
