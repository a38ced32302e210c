import { test } from "uvu";
import * as assert from "uvu/assert";
import { initBackend } from "../../src/models/backend.js";
import { createThief } from "../../src/thieves/registry.js";
import { knockoffQueryIndices } from "../../src/thieves/knockoff.js";
import { RecordingBlackBox, rejects, rowSize, tinyDeps, weightsOf, numClasses } from "./helpers.js";

await initBackend();
const fast = { epochs: 1, queryBatchSize: 64 };

test("knockoff queries exactly the budget, in batches no larger than queryBatchSize", async () => {
  const box = new RecordingBlackBox();
  const thief = createThief("knockoff", fast, tinyDeps());
  const result = await thief.steal(box, { budget: 150, seed: 3 });
  assert.is(result.queriesUsed, 150);
  assert.is(box.rows, 150);
  assert.equal(box.batches.map((b) => b.length / rowSize), [64, 64, 22]);
  assert.is(result.transferSet.count, 150);
  result.model.dispose();
});

test("knockoff queries the seeded sample of the pool, and a budget above the pool queries the pool once", async () => {
  const deps = tinyDeps();
  const box = new RecordingBlackBox();
  const result = await createThief("knockoff", fast, deps).steal(box, { budget: 1000, seed: 5 });
  assert.is(result.queriesUsed, 300);
  const expected = knockoffQueryIndices(300, 1000, 5);
  assert.is(new Set(expected).size, 300);
  const queried = box.allQueries();
  for (let i = 0; i < 5; i++) {
    assert.equal(Array.from(queried.subarray(i * rowSize, (i + 1) * rowSize)), Array.from(deps.pool!.images.subarray(expected[i] * rowSize, (expected[i] + 1) * rowSize)));
  }
  result.model.dispose();
});

test("knockoff is deterministic for a seed and differs across seeds", async () => {
  const run = async (seed: number) => {
    const box = new RecordingBlackBox();
    const result = await createThief("knockoff", fast, tinyDeps()).steal(box, { budget: 100, seed });
    const w = weightsOf(result.model);
    result.model.dispose();
    return { w, queries: box.allQueries() };
  };
  const a = await run(9);
  const b = await run(9);
  const c = await run(10);
  assert.equal(Array.from(a.w), Array.from(b.w));
  assert.equal(Array.from(a.queries), Array.from(b.queries));
  assert.not.equal(Array.from(a.queries), Array.from(c.queries));
});

test("top1 trains on one-hot argmax targets; knockoff on the soft answers", async () => {
  const soft = await createThief("knockoff", fast, tinyDeps()).steal(new RecordingBlackBox(), { budget: 50, seed: 1 });
  const hard = await createThief("top1", fast, tinyDeps()).steal(new RecordingBlackBox(), { budget: 50, seed: 1 });
  assert.equal(Array.from(soft.transferSet.targets), Array.from(soft.transferSet.answers));
  assert.equal(Array.from(hard.transferSet.answers), Array.from(soft.transferSet.answers));
  for (let r = 0; r < 50; r++) {
    const row = Array.from(hard.transferSet.targets.subarray(r * numClasses, (r + 1) * numClasses));
    const answers = Array.from(hard.transferSet.answers.subarray(r * numClasses, (r + 1) * numClasses));
    assert.equal(row.filter((v) => v === 1).length, 1);
    assert.is(row.indexOf(1), answers.indexOf(Math.max(...answers)));
  }
  soft.model.dispose();
  hard.model.dispose();
});

test("bad budgets, a missing pool and a broken black box fail with clear errors", async () => {
  const thief = createThief("knockoff", fast, tinyDeps());
  await rejects(() => thief.steal(new RecordingBlackBox(), { budget: 0, seed: 1 }), /budget must be an integer >= 1/);
  await rejects(() => thief.steal(new RecordingBlackBox(), { budget: 10, seed: -1 }), /seed must be/);
  await rejects(() => createThief("knockoff", fast, { buildSubstitute: tinyDeps().buildSubstitute }).steal(new RecordingBlackBox(), { budget: 10, seed: 1 }), /needs deps.pool/);
  const nan = new RecordingBlackBox();
  nan.predict = async (b) => new Float32Array(b.batchSize * numClasses).fill(NaN);
  await rejects(() => thief.steal(nan, { budget: 10, seed: 1 }), /non-finite value/);
  const short = new RecordingBlackBox();
  short.predict = async () => new Float32Array(2);
  await rejects(() => thief.steal(short, { budget: 10, seed: 1 }), /answered 2 values for 10 queries/);
});

test.run();
