import * as tf from "@tensorflow/tfjs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { initBackend } from "../../src/models/backend.js";
import { chooseRows, jacobianStep, periodicStep, targetedPgd } from "../../src/thieves/jacobian.js";
import { jacobianAugment } from "../../src/thieves/jbda.js";
import { topkAugment, topClassesExcept, jbtopkParamsSchema } from "../../src/thieves/jbtopk.js";
import { seeded } from "../../src/models/random.js";
import { createThief } from "../../src/thieves/registry.js";
import * as v from "valibot";
import { RecordingBlackBox, inputShape, numClasses, randomImages, rowSize, tinyDeps, tinyModel, weightsOf } from "./helpers.js";

await initBackend();

const fast = { epochs: 1, finalEpochs: 1, seedSize: 10, queryBatchSize: 32 };

function crossEntropy(model: tf.LayersModel, images: Float32Array, labels: Int32Array): number[] {
  return tf.tidy(() => {
    const logits = model.predict(tf.tensor(images, [labels.length, ...inputShape])) as tf.Tensor;
    const ce = tf.neg(tf.sum(tf.mul(tf.oneHot(tf.tensor1d(labels, "int32"), numClasses), tf.logSoftmax(logits)), -1));
    return Array.from(ce.dataSync());
  });
}

test("periodicStep flips the sign every tau rounds", () => {
  assert.equal([0, 1, 4, 5, 9, 10].map((r) => periodicStep(0.1, 5, r)), [0.1, 0.1, 0.1, -0.1, -0.1, 0.1]);
});

test("jacobianStep: a positive step raises the substitute's loss on the label (JBDA), a negative one lowers it (JB-self)", () => {
  const model = tinyModel(4);
  // Interior points so clipping does not hide the direction.
  const images = randomImages(40, 21).images.map((x) => 0.3 + 0.4 * x);
  const labels = Int32Array.from({ length: 40 }, (_, i) => i % numClasses);
  const before = crossEntropy(model, images, labels);
  const away = jacobianStep(model, images, labels, inputShape, numClasses, 0.01);
  const toward = jacobianStep(model, images, labels, inputShape, numClasses, -0.01);
  const up = crossEntropy(model, away, labels);
  const down = crossEntropy(model, toward, labels);
  for (let i = 0; i < 40; i++) {
    assert.ok(up[i] > before[i], `row ${i}: JBDA step should raise the loss`);
    assert.ok(down[i] < before[i], `row ${i}: JB-self step should lower the loss`);
  }
  // Every pixel moved by exactly the step (no clipping in the interior), in opposite directions.
  for (let j = 0; j < images.length; j++) {
    assert.ok(Math.abs(Math.abs(away[j] - images[j]) - 0.01) < 1e-6 || away[j] === images[j]);
    assert.ok(Math.abs(away[j] - images[j] + (toward[j] - images[j])) < 1e-6);
  }
  model.dispose();
});

test("jacobianStep clips to [0, 1]", () => {
  const model = tinyModel(5);
  const images = randomImages(20, 3).images;
  const labels = Int32Array.from({ length: 20 }, () => 1);
  for (const step of [0.9, -0.9]) {
    const out = jacobianStep(model, images, labels, inputShape, numClasses, step);
    for (const x of out) assert.ok(x >= 0 && x <= 1);
  }
  model.dispose();
});

test("JBDA / JB-self augmentation grows min(count, budget left) distinct new points in [0, 1]", async () => {
  const model = tinyModel(6);
  const seeds = randomImages(30, 8);
  const box = new RecordingBlackBox();
  const answers = await box.predict({ data: seeds.images, batchSize: 30, inputShape });
  for (const [direction, maxNew, expected] of [[1, 100, 30], [-1, 12, 12]] as const) {
    const grown = await jacobianAugment({ lambda: 0.1, tau: 5 }, direction)({
      substitute: model, images: seeds.images, answers, count: 30, inputShape, numClasses, round: 0, maxNew, random: seeded(1),
    });
    assert.is(grown.count, expected);
    assert.is(grown.images.length, expected * rowSize);
    const keys = new Set<string>();
    for (let i = 0; i < grown.count; i++) keys.add(Array.from(grown.images.subarray(i * rowSize, (i + 1) * rowSize)).join());
    const old = new Set(Array.from({ length: 30 }, (_, i) => Array.from(seeds.images.subarray(i * rowSize, (i + 1) * rowSize)).join()));
    assert.is(keys.size, expected, "distinct");
    for (const k of keys) assert.not.ok(old.has(k), "new");
    for (const x of grown.images) assert.ok(x >= 0 && x <= 1);
  }
  assert.equal(Array.from(chooseRows(5, 10, seeded(1))), [0, 1, 2, 3, 4]);
  assert.is(new Set(chooseRows(50, 7, seeded(2))).size, 7);
  model.dispose();
});

test("topClassesExcept ranks the substitute's classes and skips the black box's label", () => {
  assert.equal(topClassesExcept([0.1, 3, 2, 5, 1], 0, 5, 3, 3), [1, 2, 4]);
  assert.equal(topClassesExcept([1, 1, 1], 0, 3, 5, 0), [1, 2]);
});

test("targetedPgd raises the target logit and stays in the L-inf ball and in [0, 1]", () => {
  const model = tinyModel(7);
  const images = randomImages(20, 9).images;
  const targets = Int32Array.from({ length: 20 }, (_, i) => (i + 1) % numClasses);
  const out = targetedPgd(model, images, targets, inputShape, numClasses, { steps: 8, stepSize: 0.01, radius: 0.05 });
  const logit = (x: Float32Array) => tf.tidy(() => Array.from((model.predict(tf.tensor(x, [20, ...inputShape])) as tf.Tensor).dataSync()));
  const a = logit(images);
  const b = logit(out);
  for (let i = 0; i < 20; i++) assert.ok(b[i * numClasses + targets[i]] > a[i * numClasses + targets[i]], `row ${i}`);
  for (let j = 0; j < images.length; j++) {
    assert.ok(Math.abs(out[j] - images[j]) <= 0.05 + 1e-6);
    assert.ok(out[j] >= 0 && out[j] <= 1);
  }
  model.dispose();
});

test("JB-top-k grows k points per chosen row, truncated to the budget left", async () => {
  const model = tinyModel(8);
  const seeds = randomImages(10, 4);
  const answers = await new RecordingBlackBox().predict({ data: seeds.images, batchSize: 10, inputShape });
  const params = v.parse(jbtopkParamsSchema, { k: 2 });
  const all = await topkAugment(params)({ substitute: model, images: seeds.images, answers, count: 10, inputShape, numClasses, round: 0, maxNew: 100, random: seeded(3) });
  assert.is(all.count, 20);
  const some = await topkAugment(params)({ substitute: model, images: seeds.images, answers, count: 10, inputShape, numClasses, round: 0, maxNew: 7, random: seeded(3) });
  assert.is(some.count, 7);
  assert.is(some.images.length, 7 * rowSize);
  model.dispose();
});

test("jblabels: JBDA's queries, trained on the answers' top-1 labels (one-hot targets, the raw answers kept)", async () => {
  const box = new RecordingBlackBox();
  const labels = await createThief("jblabels", fast, tinyDeps()).steal(box, { budget: 60, seed: 5 });
  const soft = await createThief("jbda", fast, tinyDeps()).steal(new RecordingBlackBox(), { budget: 60, seed: 5 });
  const t = labels.transferSet;
  for (let r = 0; r < t.count; r++) {
    const row = Array.from(t.targets.subarray(r * numClasses, (r + 1) * numClasses));
    assert.equal(row.filter((x) => x === 1).length, 1);
    assert.is(row.reduce((a, b) => a + b, 0), 1);
  }
  assert.not.equal(Array.from(t.answers), Array.from(t.targets), "the answers as the black box gave them");
  assert.equal(Array.from(soft.transferSet.targets), Array.from(soft.transferSet.answers), "jbda trains on the answers");
  // Same seed set, so the first round's queries are JBDA's; the substitutes then differ.
  assert.equal(Array.from(t.images.subarray(0, 10 * rowSize)), Array.from(soft.transferSet.images.subarray(0, 10 * rowSize)));
  labels.model.dispose();
  soft.model.dispose();
});

for (const name of ["jbda", "jbself", "jbtop3", "jblabels"]) {
  test(`${name}: spends exactly the budget in batches, stores what it queried, and is deterministic for a seed`, async () => {
    const run = async (seed: number) => {
      const box = new RecordingBlackBox();
      const result = await createThief(name, fast, tinyDeps()).steal(box, { budget: 75, seed });
      const w = weightsOf(result.model);
      result.model.dispose();
      return { box, result, w };
    };
    const a = await run(2);
    assert.is(a.result.queriesUsed, 75);
    assert.is(a.box.rows, 75);
    assert.ok(a.box.batches.every((b) => b.length / rowSize <= 32));
    assert.ok(a.result.rounds >= 2, `rounds ${a.result.rounds}`);
    // The transfer set is exactly the queried points, in order (the reference's JB-self stored x + delta after querying x - delta).
    assert.equal(Array.from(a.result.transferSet.images), Array.from(a.box.allQueries()));
    const distinct = new Set(Array.from({ length: 75 }, (_, i) => Array.from(a.result.transferSet.images.subarray(i * rowSize, (i + 1) * rowSize)).join()));
    assert.ok(distinct.size > 70, `distinct points ${distinct.size}`);
    const b = await run(2);
    assert.equal(Array.from(a.w), Array.from(b.w));
    assert.equal(Array.from(a.box.allQueries()), Array.from(b.box.allQueries()));
  });
}

test.run();
