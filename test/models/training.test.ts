import { test } from "uvu";
import * as assert from "uvu/assert";
import { initBackend } from "../../src/models/backend.js";
import { loadMnist, subset } from "../../src/models/datasets.js";
import { accuracy, oneHot, softCrossEntropy, softLabels, trainModel, TrainingDivergedError, type TrainOptions } from "../../src/models/training.js";
import { buildModel } from "../../src/models/zoo.js";
import { memorySnapshot, rejects, tf } from "./helpers.js";

const mnist = loadMnist({ seed: 0 });
const small = subset(mnist.train, Array.from({ length: 512 }, (_, i) => i));
const testSmall = subset(mnist.test, Array.from({ length: 500 }, (_, i) => i));

const sgd: TrainOptions = { epochs: 1, batchSize: 32, optimizer: "sgd", learningRate: 0.05, momentum: 0.5, seed: 0 };

test.before(async () => {
  await initBackend();
});

test("soft cross-entropy equals -sum t log softmax(z), averaged over the batch", () => {
  const z = [[1, 2, 3], [0, -1, 4]];
  const t = [[0.2, 0.3, 0.5], [1, 0, 0]];
  const expected = z.map((row, b) => {
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    return -t[b].reduce((s, tk, k) => s + tk * (row[k] - lse), 0);
  });
  const value = tf.tidy(() => softCrossEntropy(tf.tensor2d(z), tf.tensor2d(t)).dataSync()[0]);
  assert.ok(Math.abs(value - (expected[0] + expected[1]) / 2) < 1e-5);
});

test("oneHot checks labels", () => {
  assert.equal(Array.from(oneHot(new Int32Array([2, 0]), 3)), [0, 0, 1, 1, 0, 0]);
  assert.throws(() => oneHot(new Int32Array([3]), 3), /label 3 at index 0 is outside 0..2/);
});

test("LeNet trained on 512 digits for 2 epochs is far above chance; loss falls; no tensors leak", async () => {
  const model = buildModel({ arch: "lenet", numClasses: 10, inputShape: [28, 28, 1], seed: 3 });
  const before = memorySnapshot();
  const epochs: number[] = [];
  const result = await trainModel(model, softLabels(small), { ...sgd, epochs: 2, progress: (e) => epochs.push(e.epoch) });
  assert.equal(memorySnapshot().tensors, before.tensors, "tensors after training");
  assert.equal(epochs, [1, 2]);
  assert.ok(result.history[1].loss < result.history[0].loss, `loss ${result.history.map((h) => h.loss)}`);
  const acc = await accuracy(model, testSmall);
  assert.ok(acc > 0.6, `accuracy ${acc}`);
  model.dispose();
});

test("training is reproducible for a seed and depends on it", async () => {
  const run = async (seed: number) => {
    const model = buildModel({ arch: "mlp", numClasses: 10, inputShape: [28, 28, 1], seed: 1 });
    await trainModel(model, softLabels(subset(small, Array.from({ length: 128 }, (_, i) => i))), { ...sgd, seed });
    const w = Array.from(model.getWeights()[0].dataSync().subarray(0, 50));
    model.dispose();
    return w;
  };
  const a = await run(1), b = await run(1), c = await run(2);
  assert.equal(a, b);
  assert.not.equal(a, c);
});

test("Adam with weight decay and lr steps trains; soft targets are accepted", async () => {
  const model = buildModel({ arch: "mlp", numClasses: 10, inputShape: [28, 28, 1], seed: 2 });
  const data = softLabels(small);
  // soften the targets: 0.9 on the label, the rest spread
  const targets = data.targets.map((t) => (t === 1 ? 0.91 : 0.01));
  const lrs: number[] = [];
  const result = await trainModel(model, { ...data, targets }, {
    epochs: 3, batchSize: 64, optimizer: "adam", learningRate: 1e-3, weightDecay: 1e-4, lrSteps: { epochs: [2], gamma: 0.1 }, seed: 0,
    onBatch: (e) => { if (e.batch === 1) lrs.push(e.epoch); },
  });
  assert.equal(lrs, [1, 2, 3]);
  assert.ok(result.finalLoss < result.history[0].loss);
  assert.ok((await accuracy(model, testSmall)) > 0.6);
  model.dispose();
});

test("validation split with keep-the-best restores the best epoch's weights", async () => {
  const model = buildModel({ arch: "mlp", numClasses: 10, inputShape: [28, 28, 1], seed: 4 });
  // a learning rate so large that later epochs get worse is not reliable; instead check the bookkeeping
  const result = await trainModel(model, softLabels(small), { ...sgd, epochs: 3, validationFraction: 0.25, keepBest: true });
  assert.ok(result.bestValAccuracy !== undefined && result.bestEpoch !== undefined);
  const accs = result.history.map((h) => h.valAccuracy!);
  assert.is(result.bestValAccuracy, Math.max(...accs));
  assert.is(accs[result.bestEpoch! - 1], result.bestValAccuracy);
  model.dispose();
});

test("bad options and data are rejected with the reason", async () => {
  const model = buildModel({ arch: "mlp", numClasses: 10, inputShape: [28, 28, 1], seed: 0 });
  const data = softLabels(subset(small, [0, 1, 2, 3]));
  await rejects(trainModel(model, data, { ...sgd, epochs: 0 }), /epochs must be a positive integer/);
  await rejects(trainModel(model, data, { ...sgd, learningRate: -1 }), /learningRate must be a positive number/);
  await rejects(trainModel(model, data, { ...sgd, momentum: 1 }), /momentum must be in \[0, 1\)/);
  await rejects(trainModel(model, data, { ...sgd, validationFraction: 1 }), /validationFraction/);
  await rejects(trainModel(model, { ...data, numClasses: 3, targets: new Float32Array(12) }, sgd), /model outputs 10 classes, targets have 3/);
  await rejects(trainModel(model, { ...data, inputShape: [14, 56, 1] }, sgd), /model expects inputs \[28,28,1\], data has \[14,56,1\]/);
  const nan = data.images.slice();
  nan[5] = Number.NaN;
  await rejects(trainModel(model, { ...data, images: nan }, sgd), /training images: value NaN at index 5/);
  await rejects(trainModel(model, { ...data, targets: data.targets.map(() => 2) }, sgd), /not a probability/);
  await rejects(trainModel(model, { ...data, count: 5 }, sgd), /training images: .* expected 5 x 784/);
  model.dispose();
});

test("a diverging run stops with a clear error instead of NaN weights", async () => {
  const model = buildModel({ arch: "mlp", numClasses: 10, inputShape: [28, 28, 1], seed: 0 });
  const error = await trainModel(model, softLabels(small), { ...sgd, learningRate: 1e6, momentum: 0.9 }).then(() => null, (e: unknown) => e);
  assert.instance(error, TrainingDivergedError);
  assert.match((error as Error).message, /training diverged: loss is (Infinity|NaN) .* at learning rate 1000000/);
  assert.is((error as TrainingDivergedError).field, "learningRate");
  model.dispose();
});

test("restartsOnDivergence starts again from the initial weights at half the learning rate", async () => {
  const data = softLabels(small);
  const diverging = { ...sgd, learningRate: 1e6, momentum: 0.9 };
  const model = buildModel({ arch: "mlp", numClasses: 10, inputShape: [28, 28, 1], seed: 0 });
  const result = await trainModel(model, data, { ...diverging, restartsOnDivergence: 40 });
  assert.ok(result.restarts > 0, "1e6 diverges at first");
  assert.is(result.learningRate, 1e6 / 2 ** result.restarts);
  assert.ok(Number.isFinite(result.finalLoss));
  // The same as one run at the final rate from the same initial weights: the restart really reset them.
  const fresh = buildModel({ arch: "mlp", numClasses: 10, inputShape: [28, 28, 1], seed: 0 });
  const once = await trainModel(fresh, data, { ...diverging, learningRate: result.learningRate });
  assert.is(once.restarts, 0);
  const a = model.getWeights().map((w) => Array.from(w.dataSync()));
  const b = fresh.getWeights().map((w) => Array.from(w.dataSync()));
  assert.equal(a, b);
  // Restarts run out: the error again.
  const few = buildModel({ arch: "mlp", numClasses: 10, inputShape: [28, 28, 1], seed: 0 });
  await rejects(trainModel(few, data, { ...diverging, restartsOnDivergence: 1 }), /at learning rate 500000 /);
  await rejects(trainModel(few, data, { ...sgd, restartsOnDivergence: -1 }), /restartsOnDivergence must be a non-negative integer/);
  [model, fresh, few].forEach((m) => m.dispose());
});

test.run();
