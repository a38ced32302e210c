// The smooth thief in the tiny world. On 4x4 images a one-pixel shift is a different image to the tiny
// victim (its logits read single pixels), so these tests jitter with noise only (maxShift 0).
import type * as tf from "@tensorflow/tfjs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadCore } from "../../src/core/index.js";
import { createDefense, DefendedModel } from "../../src/defenses/index.js";
import { rowArgmax } from "../../src/models/argmax.js";
import { initBackend } from "../../src/models/backend.js";
import { predictLogits } from "../../src/models/training.js";
import { knockoffQueryIndices } from "../../src/thieves/knockoff.js";
import { createThief } from "../../src/thieves/registry.js";
import { jitterImages } from "../../src/thieves/smooth.js";
import { seeded } from "../../src/models/random.js";
import { RecordingBlackBox, inputShape, numClasses, randomImages, rejects, rowSize, tinyDeps, weightsOf } from "./helpers.js";

await initBackend();
const core = await loadCore();
// Adam: plain SGD at lr 0.01 barely moves the tiny model in a few hundred steps.
const fast = { epochs: 30, optimizer: "adam", learningRate: 0.01, queryBatchSize: 64, maxShift: 0 };

/** Fraction of fresh random images on which the stolen model's top-1 is the black box's. */
async function agreement(model: tf.LayersModel): Promise<number> {
  const fresh = randomImages(600, 4242);
  const truth = await new RecordingBlackBox().predict({ data: fresh.images, batchSize: fresh.count, inputShape });
  const logits = predictLogits(model, fresh.images, fresh.count, inputShape);
  let agree = 0;
  for (let i = 0; i < fresh.count; i++) if (rowArgmax(logits, i, numClasses) === rowArgmax(truth, i, numClasses)) agree++;
  return agree / fresh.count;
}

function meanL1(a: Float32Array, b: Float32Array): number {
  let total = 0;
  for (let i = 0; i < a.length; i++) total += Math.abs(a[i] - b[i]);
  return total / (a.length / numClasses);
}

test("jitterImages shifts by whole pixels (vacated pixels 0) and keeps noisy pixels in [0, 1]", () => {
  const image = Float32Array.from({ length: rowSize }, (_, i) => (i + 1) / rowSize);
  const shifts = new Set<string>();
  for (let trial = 0; trial < 20; trial++) {
    const out = jitterImages(image, 1, inputShape, { maxShift: 1, noise: 0 }, seeded(trial));
    // Find the (dy, dx) that explains the output.
    let found = "";
    for (let dy = -1; dy <= 1 && !found; dy++) {
      for (let dx = -1; dx <= 1 && !found; dx++) {
        let same = true;
        for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) {
          const inside = y - dy >= 0 && y - dy < 4 && x - dx >= 0 && x - dx < 4;
          if (out[y * 4 + x] !== (inside ? image[(y - dy) * 4 + (x - dx)] : 0)) same = false;
        }
        if (same) found = `${dy},${dx}`;
      }
    }
    assert.ok(found, `trial ${trial}: not a shift of the image`);
    shifts.add(found);
  }
  assert.ok(shifts.size > 3, `only shifts ${[...shifts]}`);
  const noisy = jitterImages(image, 1, inputShape, { maxShift: 0, noise: 0.5 }, seeded(1));
  assert.ok(noisy.every((x) => x >= 0 && x <= 1));
  assert.ok(noisy.some((x, i) => x !== image[i]));
});

test("smooth learns the undefended black box", async () => {
  const result = await createThief("smooth", fast, tinyDeps()).steal(new RecordingBlackBox(), { budget: 300, seed: 1 });
  const accuracy = await agreement(result.model);
  assert.ok(accuracy > 0.8, `agreement ${accuracy} (chance 1/3)`);
  result.model.dispose();
});

test("smooth spends exactly the budget on copies of Knockoff's first floor(budget / copies) images, in batches <= queryBatchSize", async () => {
  const deps = tinyDeps();
  const box = new RecordingBlackBox();
  const result = await createThief("smooth", { ...fast, epochs: 1, maxShift: 1 }, deps).steal(box, { budget: 200, seed: 3 });
  assert.is(result.queriesUsed, 200);
  assert.is(box.rows, 200);
  assert.equal(box.batches.map((b) => b.length / rowSize), [64, 64, 64, 8]);
  assert.equal(result.diagnostics, { originals: 50, copies: 4, meanSpread: result.diagnostics!.meanSpread });
  // Block 0 of the queries: the originals, Knockoff's sample for a budget of 50.
  const indices = knockoffQueryIndices(300, 50, 3);
  const queried = box.allQueries();
  for (let i = 0; i < 50; i++) {
    assert.equal(Array.from(queried.subarray(i * rowSize, (i + 1) * rowSize)), Array.from(deps.pool!.images.subarray(indices[i] * rowSize, (indices[i] + 1) * rowSize)));
  }
  // Every copy of an original carries the group's mean answer.
  const { answers, targets } = result.transferSet;
  for (let j = 0; j < 50 * numClasses; j++) {
    const mean = (answers[j] + answers[j + 150] + answers[j + 300] + answers[j + 450]) / 4;
    for (let c = 0; c < 4; c++) assert.ok(Math.abs(targets[j + c * 150] - mean) < 1e-6);
  }
  // A budget that copies do not divide leaves the remainder unspent; one below `copies` buys nothing.
  const short = await createThief("smooth", { ...fast, epochs: 1 }, tinyDeps()).steal(new RecordingBlackBox(), { budget: 203, seed: 3 });
  assert.is(short.queriesUsed, 200);
  await rejects(() => createThief("smooth", fast, tinyDeps()).steal(new RecordingBlackBox(), { budget: 3, seed: 3 }), /budget of 3 cannot pay for one image's 4 copies/);
  result.model.dispose();
  short.model.dispose();
});

test("smooth is deterministic for a seed and differs across seeds", async () => {
  const run = async (seed: number) => {
    const box = new RecordingBlackBox();
    const result = await createThief("smooth", { ...fast, epochs: 2, maxShift: 1 }, tinyDeps()).steal(box, { budget: 120, seed });
    const out = { weights: Array.from(weightsOf(result.model)), queries: Array.from(box.allQueries()) };
    result.model.dispose();
    return out;
  };
  const a = await run(9);
  const b = await run(9);
  const c = await run(10);
  assert.equal(a, b);
  assert.not.equal(a.queries, c.queries);
});

test("smooth's averaged targets are closer to the black box's answers than single noisy answers", async () => {
  const blackBox = new DefendedModel(new RecordingBlackBox(), createDefense("random-noise", { mode: "prob-gaussian", sigma: 0.5 }, { core }));
  const result = await createThief("smooth", fast, tinyDeps()).steal(blackBox, { budget: 300, seed: 1 });
  const { images, count, answers, targets } = result.transferSet;
  const truth = await new RecordingBlackBox().predict({ data: images, batchSize: count, inputShape });
  const single = meanL1(answers, truth);
  const averaged = meanL1(targets, truth);
  // Measured: single 0.61, averaged 0.47 (clipping biases the noise, and averaging cannot remove a bias).
  assert.ok(averaged < 0.85 * single, `averaged mean L1 ${averaged} vs single ${single}`);
  assert.ok(blackBox.stats().queries === 300);
  result.model.dispose();
});

test.run();
