import { test } from "uvu";
import * as assert from "uvu/assert";
import { initBackend } from "../../src/models/backend.js";
import { Proxy } from "../../src/models/proxy.js";
import type { InputBatch } from "../../src/models/types.js";
import { buildModel, type ModelSpec } from "../../src/models/zoo.js";
import { randomArray, rejects, relativeError } from "./helpers.js";

const spec: ModelSpec = { arch: "lenet", numClasses: 10, inputShape: [28, 28, 1], seed: 5 };
const batchOf = (n: number, seed: number): InputBatch => ({ data: randomArray(n * 784, seed).map((v) => (v + 1) / 2), batchSize: n, inputShape: [28, 28, 1] });

test.before(async () => {
  await initBackend();
});

/** ||h||^2 (||p||^2 11^T - p1^T - 1p^T + I): the Gram of d log p_k / dW for the last dense layer's kernel W. */
function closedFormGram(p: Float32Array, h: Float32Array, k: number, d: number, b: number, extra = 0): Float64Array {
  let hh = extra;
  for (let i = 0; i < d; i++) hh += h[b * d + i] ** 2;
  let pp = 0;
  for (let i = 0; i < k; i++) pp += p[b * k + i] ** 2;
  const m = new Float64Array(k * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) m[i * k + j] = hh * (pp - p[b * k + i] - p[b * k + j] + (i === j ? 1 : 0));
  return m;
}

test("layers-mode Gram of the last layer's kernel (autodiff) equals the closed form in p and h", async () => {
  const proxy = Proxy.scratch(spec);
  const batch = batchOf(3, 1);
  const { probs, features, featureSize } = await proxy.probsAndFeatures(batch);
  assert.is(featureSize, 500);
  const jac = await proxy.jacobian(batch, "layers", ["logits/kernel"]);
  assert.is(jac.kind, "gram");
  if (jac.kind !== "gram") return;
  assert.is(jac.gram.length, 3 * 100);
  for (let b = 0; b < 3; b++) {
    const expected = closedFormGram(probs, features, 10, 500, b);
    const actual = jac.gram.subarray(b * 100, (b + 1) * 100);
    assert.ok(relativeError(actual, expected) <= 1e-5, `example ${b}: rel err ${relativeError(actual, expected)}`);
  }
  // kernel and bias together: the bias adds (e_i - p).(e_j - p), i.e. ||h||^2 becomes ||h||^2 + 1
  const both = await proxy.jacobian(batchOf(1, 2), "layers");
  const pf = await proxy.probsAndFeatures(batchOf(1, 2));
  if (both.kind !== "gram") throw new Error("expected a gram");
  assert.ok(relativeError(both.gram, closedFormGram(pf.probs, pf.features, 10, 500, 0, 1)) <= 1e-5);
  proxy.dispose();
});

test("last-layer mode gives the proxy's probabilities; identity gives nothing", async () => {
  const proxy = Proxy.scratch(spec);
  const batch = batchOf(2, 3);
  const p = await proxy.probs(batch);
  const jac = await proxy.jacobian(batch, "last-layer");
  assert.equal(jac, { kind: "probs", proxyProbs: p });
  for (let b = 0; b < 2; b++) {
    const row = p.subarray(b * 10, b * 10 + 10);
    assert.ok(Math.abs(row.reduce((s, v) => s + v, 0) - 1) < 1e-5);
  }
  assert.equal(await proxy.jacobian(batch, "identity"), { kind: "identity" });
  proxy.dispose();
});

test("a scratch proxy is deterministic in its seed and differs from another seed", async () => {
  const batch = batchOf(1, 4);
  const a = await Proxy.scratch(spec).probs(batch);
  const b = await Proxy.scratch(spec).probs(batch);
  const c = await Proxy.scratch({ ...spec, seed: 6 }).probs(batch);
  assert.equal(Array.from(a), Array.from(b));
  assert.not.equal(Array.from(a), Array.from(c));
});

test("layers mode over several layers: a symmetric positive semi-definite Gram", async () => {
  const proxy = new Proxy(buildModel({ arch: "mlp", numClasses: 4, inputShape: [6, 6, 1], seed: 1 }));
  const jac = await proxy.jacobian({ data: randomArray(36, 9), batchSize: 1, inputShape: [6, 6, 1] }, "layers", ["fc1", "fc2", "logits"]);
  if (jac.kind !== "gram") throw new Error("expected a gram");
  const m = jac.gram;
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) assert.ok(Math.abs(m[i * 4 + j] - m[j * 4 + i]) < 1e-12);
  // rows of G sum to zero (sum_k grad log p_k weighted by p is 0), so M is PSD with x^T M x >= 0
  const x = [0.3, -1, 2, 0.5];
  let q = 0;
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) q += x[i] * m[i * 4 + j] * x[j];
  assert.ok(q >= -1e-9);
  proxy.dispose();
});

test("bad inputs and modes are rejected with the reason", async () => {
  const proxy = Proxy.scratch(spec);
  await assert.not.throws(() => proxy.inputShape);
  await rejects(proxy.probs({ data: new Float32Array(10), batchSize: 1, inputShape: [28, 28, 1] }), /has 10 values, expected 1 x 784/);
  await rejects(proxy.probs({ data: new Float32Array(784), batchSize: 1, inputShape: [784] }), /inputs of shape \[784\] given, the model takes \[28,28,1\]/);
  const nan = new Float32Array(784);
  nan[3] = Number.NaN;
  await rejects(proxy.probs({ data: nan, batchSize: 1, inputShape: [28, 28, 1] }), /input value NaN at index 3/);
  await rejects(proxy.jacobian(batchOf(1, 1), "layers", ["nope"]), /no layer "nope"/);
  await rejects(proxy.jacobian(batchOf(1, 1), "layers", ["logits/gamma"]), /no trainable weight "gamma"/);
  await rejects(proxy.jacobian(batchOf(1, 1), "fancy" as never), /unknown Jacobian mode "fancy"/);
  proxy.dispose();
});

test.run();
