// Adaptive Misinformation's models: the weighted / custom-loss training pieces, outlier exposure (lower max
// softmax on outliers than on digits) and the misinformation model (less mass on the true class than chance).
// Small real training runs (MLP, a few hundred digits, a few epochs) that can fail.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { initBackend } from "../../src/models/backend.js";
import { loadMnist, subset } from "../../src/models/datasets.js";
import {
  maxSoftmax, misinformationLoss, outlierExposureData, softmaxRows, trainMisinformation, trainOutlierExposed,
} from "../../src/models/misinformation.js";
import { generateOutliers, OUTLIER_KINDS } from "../../src/models/outliers.js";
import { batchLoss, softCrossEntropy, softLabels, trainModel } from "../../src/models/training.js";
import { buildModel } from "../../src/models/zoo.js";
import { memorySnapshot, rejects, tf } from "./helpers.js";

const mnist = loadMnist({ seed: 0 });
const train = subset(mnist.train, Array.from({ length: 800 }, (_, i) => i));
const heldOut = subset(mnist.test, Array.from({ length: 400 }, (_, i) => i));
const outliers = generateOutliers({ count: 800, seed: 1, source: train });
// held-out outliers: another seed, shuffles of held-out digits
const testOutliers = generateOutliers({ count: 400, seed: 2, source: heldOut });
const quick = { arch: "mlp" as const, epochs: 3, batchSize: 32, learningRate: 0.05, momentum: 0.5 };

test.before(async () => {
  await initBackend();
});

const mean = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0) / a.length;

test("misinformationLoss is −log(1 − p_y), stable for confident rows", () => {
  const z = [[2, 0, -1], [0, 0, 0], [30, -30, 0]];
  const t = [[1, 0, 0], [0, 1, 0], [0, 1, 0]];
  const losses = tf.tidy(() => Array.from(misinformationLoss(tf.tensor2d(z), tf.tensor2d(t)).dataSync()));
  z.forEach((row, b) => {
    const e = row.map(Math.exp);
    const p = e.map((v) => v / e.reduce((s, x) => s + x, 0));
    const y = t[b].indexOf(1);
    const expected = -Math.log(1 - p[y]);
    assert.ok(Math.abs(losses[b] - expected) < 1e-5 * Math.max(1, expected), `row ${b}: ${losses[b]} vs ${expected}`);
  });
  // p_y ≈ 1 - 1e-13: −log(1 − p_y) ≈ 30, finite
  const confident = tf.tidy(() => misinformationLoss(tf.tensor2d([[30, 0, 0]]), tf.tensor2d([[1, 0, 0]])).dataSync()[0]);
  assert.ok(Number.isFinite(confident) && Math.abs(confident - (30 - Math.log(2))) < 1e-3, `${confident}`);
});

test("batchLoss: the default is soft cross-entropy; weights give sum w·loss / B", () => {
  const z = tf.tensor2d([[1, 2, 3], [0, -1, 4], [2, 2, 0]]);
  const t = tf.tensor2d([[0, 0, 1], [1, 0, 0], [1 / 3, 1 / 3, 1 / 3]]);
  const w = tf.tensor1d([2, 0, 0.5]);
  const [plain, ce, weighted, perExample] = tf.tidy(() => [
    batchLoss(z, t).dataSync()[0],
    softCrossEntropy(z, t).dataSync()[0],
    batchLoss(z, t, { weights: w }).dataSync()[0],
    Array.from(tf.neg(tf.sum(tf.mul(t, tf.logSoftmax(z)), -1)).dataSync()),
  ]) as unknown as [number, number, number, number[]];
  assert.is(plain, ce);
  assert.ok(Math.abs(weighted - (2 * perExample[0] + 0.5 * perExample[2]) / 3) < 1e-6, `${weighted}`);
  tf.dispose([z, t, w]);
});

test("outlierExposureData: one-hot digits, uniform outliers, weights N/N_in and λN/N_out", () => {
  const few = subset(train, [0, 1, 2, 3]);
  const out = generateOutliers({ count: 2, seed: 0, inputShape: [28, 28, 1], kinds: ["shapes"] });
  const data = outlierExposureData(few, out, 0.5);
  assert.is(data.count, 6);
  assert.equal(Array.from(data.weights!), [1.5, 1.5, 1.5, 1.5, 1.5, 1.5].map((v, i) => (i < 4 ? v : (0.5 * 6) / 2)));
  for (let i = 0; i < 4; i++) assert.is(data.targets[i * 10 + few.labels[i]], 1);
  for (let k = 0; k < 10; k++) assert.ok(Math.abs(data.targets[4 * 10 + k] - 0.1) < 1e-7);
  assert.equal(Array.from(data.images.subarray(4 * 784)), Array.from(out.images));
  assert.throws(() => outlierExposureData(few, { ...out, count: 0, images: new Float32Array(0) }), /outlier set is empty/);
  assert.throws(() => outlierExposureData(few, { ...out, inputShape: [14, 56, 1] }), /outliers are \[14,56,1\]/);
  assert.throws(() => outlierExposureData(few, out, -1), /lambda must be/);
});

test("trainModel checks weights", async () => {
  const model = buildModel({ arch: "mlp", numClasses: 10, inputShape: [28, 28, 1], seed: 0 });
  const data = softLabels(subset(train, [0, 1, 2]));
  const opts = { epochs: 1, batchSize: 2, optimizer: "sgd" as const, learningRate: 0.01, seed: 0 };
  await rejects(trainModel(model, { ...data, weights: new Float32Array(2) }, opts), /training weights: expected a Float32Array of 3 values/);
  await rejects(trainModel(model, { ...data, weights: new Float32Array([1, -1, 1]) }, opts), /training weights: value -1 at index 1/);
  await trainModel(model, { ...data, weights: new Float32Array([1, 0, 2]) }, opts);
  model.dispose();
});

test("outlier exposure: held-out outliers of every kind score lower than held-out digits, and lower than without it", async () => {
  const before = memorySnapshot();
  const oe = await trainOutlierExposed({ train, outliers, test: heldOut }, { ...quick, seed: 5 });
  const plain = buildModel({ arch: "mlp", numClasses: 10, inputShape: [28, 28, 1], seed: 5 });
  await trainModel(plain, softLabels(train), { ...quick, optimizer: "sgd", seed: 5 });

  const digits = mean(maxSoftmax(oe.model, heldOut));
  const scores = maxSoftmax(oe.model, testOutliers);
  const plainScores = maxSoftmax(plain, testOutliers);
  assert.ok(oe.metadata.accuracy! > 0.75, `accuracy ${oe.metadata.accuracy}`);
  assert.ok(digits > 0.7, `digits score ${digits}`);
  assert.ok(Math.abs(oe.metadata.meanMaxProbability! - digits) < 1e-6);
  for (const kind of OUTLIER_KINDS) {
    const ofKind = scores.filter((_, i) => testOutliers.kinds[i] === kind);
    const plainOfKind = plainScores.filter((_, i) => testOutliers.kinds[i] === kind);
    assert.ok(mean(ofKind) < digits - 0.25, `${kind}: ${mean(ofKind)} vs digits ${digits}`);
    assert.ok(mean(ofKind) < mean(plainOfKind), `${kind}: ${mean(ofKind)} with OE vs ${mean(plainOfKind)} without`);
  }
  // the same budget without outlier exposure leaves outliers (shapes, patches above all) far more confident
  assert.ok(mean(scores) < mean(plainScores) - 0.05, `outliers: ${mean(scores)} with OE vs ${mean(plainScores)} without`);
  assert.equal(
    { kind: oe.metadata.kind, lambda: oe.metadata.lambda, outlierCount: oe.metadata.outlierCount, trainCount: oe.metadata.trainCount, epochs: oe.metadata.epochs },
    { kind: "outlier-exposed", lambda: 1, outlierCount: 800, trainCount: 800, epochs: 3 },
  );
  oe.model.dispose();
  plain.dispose();
  assert.is(memorySnapshot().tensors, before.tensors, "tensors leaked");
});

test("the misinformation model puts less mass on the true class than chance (1/K) on held-out digits", async () => {
  const untrained = buildModel({ arch: "mlp", numClasses: 10, inputShape: [28, 28, 1], seed: 6 });
  const trueMass = (probs: Float32Array) => mean(Array.from({ length: heldOut.count }, (_, i) => probs[i * 10 + heldOut.labels[i]]));
  const initial = trueMass(softmaxRows(untrained, heldOut));
  untrained.dispose();
  // −log(1 − p_y) has gradients of size p_y (cross-entropy's are ~1): a larger step than the quick runs above
  const mis = await trainMisinformation({ train, test: heldOut }, { ...quick, learningRate: 0.2, seed: 6 });
  const after = trueMass(softmaxRows(mis.model, heldOut));
  assert.ok(after < 0.1 / 2, `mean p_y ${after} (untrained ${initial})`);
  assert.ok(after < initial / 2, `mean p_y ${after} vs untrained ${initial}`);
  assert.ok(Math.abs(mis.metadata.meanTrueClassProbability! - after) < 1e-6);
  assert.ok(mis.metadata.accuracy! < 0.05, `top-1 accuracy ${mis.metadata.accuracy}`);
  assert.is(mis.metadata.kind, "misinformation");
  // seeded: the same call gives the same weights
  const again = await trainMisinformation({ train: subset(train, Array.from({ length: 64 }, (_, i) => i)) }, { ...quick, epochs: 1, seed: 9 });
  const twice = await trainMisinformation({ train: subset(train, Array.from({ length: 64 }, (_, i) => i)) }, { ...quick, epochs: 1, seed: 9 });
  assert.equal(Array.from(again.model.getWeights()[1].dataSync()), Array.from(twice.model.getWeights()[1].dataSync()));
  [mis, again, twice].forEach((m) => m.model.dispose());
});

test.run();
