// The detection evaluation (src/eval/detection.ts, behind `prediction-poisoning evaluate-detection`) at a
// tiny scale: a stand-in victim, two honest clients, one short JBDA run and one Knockoff run; the report
// carries every section and the δ table is read off the recorded tests.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { resolvePradaOptions } from "../../src/defenses/prada.js";
import { detectionReport, evaluateDetection } from "../../src/eval/detection.js";
import { initBackend } from "../../src/models/backend.js";
import { loadMnist } from "../../src/models/datasets.js";
import type { InputBatch, ProbabilityModel } from "../../src/models/types.js";

const DIM = 784;

/** Class = the row band of the ink's centre of mass; one-hot answers. */
const victim: ProbabilityModel = {
  inputShape: [28, 28, 1],
  numClasses: 10,
  async predict(batch: InputBatch) {
    const out = new Float32Array(batch.batchSize * 10);
    for (let b = 0; b < batch.batchSize; b++) {
      let mass = 0;
      let rows = 0;
      for (let i = 0; i < DIM; i++) if (batch.data[b * DIM + i] > 0.5) (mass++, (rows += Math.floor(i / 28)));
      out[b * 10 + (mass ? Math.min(9, Math.floor(((rows / mass) * 10) / 28)) : 0)] = 1;
    }
    return out;
  },
};

test("a small run: honest clients clear, JBDA flagged, Knockoff measured, report complete", async () => {
  await initBackend();
  const { test: digits } = loadMnist({ seed: 0 });
  const set = { images: digits.images, count: digits.count, inputShape: digits.inputShape };
  // A stand-in for natural images of another distribution: the digits flipped upside down.
  const flipped = new Float32Array(digits.images.length);
  for (let n = 0; n < digits.count; n++) for (let i = 0; i < DIM; i++) flipped[n * DIM + i] = digits.images[n * DIM + (DIM - 1 - i)];
  const config = {
    seed: 0,
    prada: resolvePradaOptions({}),
    honest: { clients: 2, queries: 400, batch: 16 },
    thieves: ["jbda"],
    thiefSeeds: [0],
    thiefBudget: 300,
    thiefParams: { epochs: 1, finalEpochs: 1, seedSize: 60 },
    knockoffSeeds: [0],
    knockoffBudget: 400,
  };
  const result = await evaluateDetection(config, { victim, digits: set, pool: { ...set, images: flipped } });
  assert.is(result.honest.clients.length, 2);
  assert.is(result.honest.flagged, 0);
  assert.is(result.honest.falsePositiveRate, 0);
  assert.ok(result.honest.tests > 40);
  const [jbda] = result.thieves;
  assert.is(jbda.queries, 300);
  assert.equal(jbda.roundStarts, [60, 120, 240]);
  assert.ok(jbda.firstAlarm !== null && jbda.firstAlarm <= 300, `JBDA first flagged at ${jbda.firstAlarm}`);
  assert.is(result.knockoff[0].queries, 400);
  assert.is(result.knockoff[0].series.length, result.knockoff[0].tests);
  const md = detectionReport(config, result, { command: "prediction-poisoning evaluate-detection", victim: "a stand-in" });
  for (const heading of ["## Honest clients", "## Jacobian thieves", "## Knockoff with natural images", "## Other thresholds"]) assert.ok(md.includes(heading), heading);
  assert.match(md, /\| 0\.95 \| \d+ of 2 \|/);
  assert.match(md, /\| jbda \| 0 \| 300 \| 60, 120, 240 \|/);
});

test.run();
