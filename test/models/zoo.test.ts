import { test } from "uvu";
import * as assert from "uvu/assert";
import { initBackend } from "../../src/models/backend.js";
import { buildModel, countParameters, type ModelSpec } from "../../src/models/zoo.js";
import { tf } from "./helpers.js";

const lenet: ModelSpec = { arch: "lenet", numClasses: 10, inputShape: [28, 28, 1], seed: 1 };

test.before(async () => {
  await initBackend();
});

test("LeNet has MAD.md's layers and 431,080 parameters at K = 10", () => {
  const m = buildModel(lenet);
  assert.is(countParameters(m), 431080);
  const shapes = m.layers.map((l) => (l.outputShape as number[]).slice(1).join("x"));
  assert.equal(shapes, ["28x28x1", "24x24x20", "12x12x20", "8x8x50", "4x4x50", "800", "500", "10"]);
  assert.equal(m.layers.map((l) => l.name), ["normalize", "conv1", "pool1", "conv2", "pool2", "flatten", "fc1", "logits"]);
  m.dispose();
});

test("parameter counts follow K; the MLP and VGG build for their inputs", () => {
  const k100 = buildModel({ ...lenet, numClasses: 100 });
  assert.is(countParameters(k100), 431080 - 5010 + 500 * 100 + 100);
  k100.dispose();
  const mlp = buildModel({ arch: "mlp", numClasses: 10, inputShape: [28, 28, 1], seed: 0 });
  assert.is(countParameters(mlp), 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
  mlp.dispose();
  const vgg = buildModel({ arch: "vgg", numClasses: 10, inputShape: [32, 32, 3], seed: 0 });
  const convs = [[3, 32], [32, 32], [32, 64], [64, 64], [64, 128], [128, 128]].reduce((n, [i, o]) => n + 9 * i * o + o, 0);
  assert.is(countParameters(vgg), convs + 2048 * 256 + 256 + 256 * 10 + 10);
  const out = tf.tidy(() => (vgg.predict(tf.zeros([2, 32, 32, 3])) as tf.Tensor).shape);
  assert.equal(out, [2, 10]);
  vgg.dispose();
});

test("weights are a deterministic function of the seed", () => {
  const values = (seed: number) => {
    const m = buildModel({ ...lenet, seed });
    const v = m.getWeights().map((w) => Array.from(w.dataSync()));
    m.dispose();
    return v;
  };
  const a = values(7), b = values(7), c = values(8);
  assert.equal(a, b);
  assert.not.equal(a[0], c[0]);
  // PyTorch's default initialisation: |w| <= 1/sqrt(fan_in); conv1 has fan_in 25
  assert.ok(a[0].every((w) => Math.abs(w) <= 1 / 5 + 1e-7));
  assert.ok(Math.max(...a[0].map(Math.abs)) > 0.15);
});

test("the model normalises inside: input 0.1307 maps to 0 before conv1", () => {
  const m = buildModel(lenet);
  const normalized = tf.tidy(() => (m.layers[0].apply(tf.fill([1, 28, 28, 1], 0.1307)) as tf.Tensor).abs().max().dataSync()[0]);
  assert.ok(normalized < 1e-6);
  m.dispose();
});

test("invalid specs are rejected with the reason", () => {
  assert.throws(() => buildModel({ ...lenet, arch: "resnet" as never }), /unknown architecture "resnet"/);
  assert.throws(() => buildModel({ ...lenet, numClasses: 1 }), /numClasses must be an integer >= 2/);
  assert.throws(() => buildModel({ ...lenet, inputShape: [28, 28] }), /inputShape must be \[height, width, channels\]/);
  assert.throws(() => buildModel({ ...lenet, inputShape: [8, 8, 1] }), /at least 16x16/);
  assert.throws(() => buildModel({ ...lenet, arch: "vgg", inputShape: [30, 30, 3] }), /divisible by 8/);
  assert.throws(() => buildModel({ ...lenet, seed: Number.NaN }), /seed must be a finite number/);
  assert.throws(() => buildModel({ ...lenet, normalization: { mean: 0, std: 0 } }), /positive std/);
});

test.run();
