// distillSurrogate (surrogate.ts): GRAD²'s surrogate, a zoo model trained on a victim's probability vectors.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { initBackend } from "../../src/models/backend.js";
import { loadMnist, subset } from "../../src/models/datasets.js";
import { Proxy } from "../../src/models/proxy.js";
import { distillSurrogate, SURROGATE_DEFAULTS } from "../../src/models/surrogate.js";
import { predictLogits, softLabels, trainModel } from "../../src/models/training.js";
import { buildModel, type ModelSpec } from "../../src/models/zoo.js";
import { rejects } from "./helpers.js";

const mnist = loadMnist({ seed: 0 });
const train = subset(mnist.train, Array.from({ length: 384 }, (_, i) => i));
const held = subset(mnist.test, Array.from({ length: 300 }, (_, i) => i));

test.before(async () => {
  await initBackend();
});

/** A quickly trained MLP victim and its softmax answers on `images`. */
async function victimAnswers(images: Float32Array, count: number): Promise<Float32Array> {
  const victim = buildModel({ arch: "mlp", numClasses: 10, inputShape: [28, 28, 1], seed: 9 });
  await trainModel(victim, softLabels(train), { epochs: 3, batchSize: 32, optimizer: "sgd", learningRate: 0.05, momentum: 0.5, seed: 0 });
  const logits = predictLogits(victim, images, count, [28, 28, 1]);
  victim.dispose();
  const probs = new Float32Array(logits.length);
  for (let i = 0; i < count; i++) {
    const row = logits.subarray(i * 10, i * 10 + 10);
    const m = Math.max(...row);
    let s = 0;
    for (let k = 0; k < 10; k++) s += probs[i * 10 + k] = Math.exp(row[k] - m);
    for (let k = 0; k < 10; k++) probs[i * 10 + k] /= s;
  }
  return probs;
}

test("distilled on the victim's answers: 10 epochs by default, loss falls, agrees with the victim, seeded", async () => {
  assert.is(SURROGATE_DEFAULTS.epochs, 10);
  const probs = await victimAnswers(train.images, train.count);
  const spec: ModelSpec = { arch: "mlp", numClasses: 10, inputShape: [28, 28, 1], seed: 4 };
  const epochs: number[] = [];
  const { model, result } = await distillSurrogate({ spec, images: train.images, probs, progress: (e) => epochs.push(e.epoch) });
  assert.is(result.epochs, 10);
  assert.equal(epochs, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.ok(result.history[9].loss < result.history[0].loss, `loss ${result.history.map((h) => h.loss.toFixed(3))}`);
  // Top-1 agreement with the victim on held-out digits, far above chance.
  const victimHeld = await victimAnswers(held.images, held.count);
  const surrogate = new Proxy(model, spec);
  const p = await surrogate.probs({ data: held.images, batchSize: held.count, inputShape: [28, 28, 1] });
  let agree = 0;
  for (let i = 0; i < held.count; i++) {
    const top = (a: Float32Array) => a.subarray(i * 10, i * 10 + 10).reduce((b, v, k, r) => (v > r[b] ? k : b), 0);
    if (top(p) === top(victimHeld)) agree++;
  }
  assert.ok(agree / held.count > 0.6, `agreement ${agree / held.count}`);
  // The same seed reproduces the surrogate.
  const again = await distillSurrogate({ spec, images: train.images, probs, epochs: 2 });
  const twice = await distillSurrogate({ spec, images: train.images, probs, epochs: 2 });
  assert.equal(Array.from(again.model.getWeights()[0].dataSync().subarray(0, 40)), Array.from(twice.model.getWeights()[0].dataSync().subarray(0, 40)));
  again.model.dispose();
  twice.model.dispose();
  surrogate.dispose();
});

test("mismatched images and probabilities are named", async () => {
  const spec: ModelSpec = { arch: "mlp", numClasses: 10, inputShape: [28, 28, 1], seed: 0 };
  await rejects(distillSurrogate({ spec, images: new Float32Array(784 * 2 + 1), probs: new Float32Array(20) }), /not a whole number of \[28,28,1\] inputs/);
  await rejects(distillSurrogate({ spec, images: new Float32Array(784 * 2), probs: new Float32Array(30) }), /30 probability values for 2 images x 10 classes/);
});

test.run();
