// The watermark-aware thief (src/thieves/unmark.ts): on answers carrying class-keyed soft marks it finds
// each class's keyed runner-up without the key and takes the mark back out; answers without marks keep
// their top-1; and it steals like Knockoff (the same queries, soft targets).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createDefense, createWatermarker, watermarkClass, withWatermark } from "../../src/defenses/index.js";
import { loadCore } from "../../src/core/index.js";
import { initBackend } from "../../src/models/backend.js";
import { argmaxRows } from "../../src/models/argmax.js";
import { createThief } from "../../src/thieves/registry.js";
import { removeClassMarks } from "../../src/thieves/unmark.js";
import { RecordingBlackBox, tinyDeps } from "./helpers.js";
import { lcg, randomRows } from "../defenses/helpers.js";

await initBackend();
const KEY = "ab".repeat(32);
const K = 10;
const N = 3000;

test("removeClassMarks: estimates π from the answers alone, lowers the marked runner-ups, keeps every top-1", async () => {
  const core = await loadCore();
  const random = lcg(3);
  const inputs = Float32Array.from({ length: N * 4 }, () => random());
  // Peaked rows like a confident victim's: the soft mark's class becomes the runner-up.
  const victim = randomRows(N, K, 5).map((p) => p ** 3);
  for (let i = 0; i < N; i++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += victim[i * K + k];
    for (let k = 0; k < K; k++) victim[i * K + k] /= s;
  }
  const marked = withWatermark(createDefense("none", {}, { core }), { key: KEY, rate: 0, softRate: 0.5 });
  const answers = (await marked.apply({ probs: victim, batchSize: N, numClasses: K, inputs: { data: inputs, batchSize: N, inputShape: [2, 2, 1] } })).probs;
  const { cleaned, estimate, changed } = removeClassMarks(answers, N, K);
  const marker = createWatermarker(KEY, 0, 0.5);
  const pi = await Promise.all(Array.from({ length: K }, async (_, t) => watermarkClass(t, await marker.classOffset(t, K))));
  assert.equal(Array.from(estimate), pi, "π̂ = π");
  // Half the answers are marked; the capped mass makes π(t) the runner-up on most of them.
  assert.ok(changed >= 0.25 * N, `${changed} answers cleaned`);
  assert.equal(Array.from(argmaxRows(cleaned, N, K)), Array.from(argmaxRows(answers, N, K)), "top-1 kept");
  for (let i = 0; i < N; i++) {
    const row = cleaned.subarray(i * K, (i + 1) * K);
    assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5, `row ${i} sums to 1`);
  }
  // After cleaning, π(t) is no longer the runner-up of the cleaned rows more often than another class.
  const again = removeClassMarks(cleaned, N, K);
  const stillPi = again.estimate.filter((e, t) => e === pi[t]).length;
  assert.ok(stillPi <= 3, `${stillPi} of ${K} classes still point at π`);
});

test("unmark steals like Knockoff (same queries, soft targets) and reports the share it cleaned", async () => {
  const box = new RecordingBlackBox();
  const thief = createThief("unmark", { epochs: 1, queryBatchSize: 64 }, tinyDeps());
  const result = await thief.steal(box, { budget: 120, seed: 3 });
  assert.is(result.queriesUsed, 120);
  assert.ok(result.diagnostics && result.diagnostics.cleanedShare >= 0 && result.diagnostics.cleanedShare <= 1);
  result.model.dispose();
  assert.throws(() => createThief("unmark", { labels: "top1" }, tinyDeps()), /fixed to "soft"/);
});

test.run();
