// The defended model: victim -> defense -> answer, with running statistics checked against a direct
// computation over every answer.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadCore } from "../../src/core/index.js";
import { createDefense, DefendedModel, DefenseInputError, RunningStats } from "../../src/defenses/index.js";
import type { InputBatch, ProbabilityModel } from "../../src/models/types.js";
import { argmax, lcg, randomRows, rowOf } from "./helpers.js";

const core = await loadCore();
const K = 5;

/** A deterministic victim: each input row of 3 floats picks its probabilities from a seeded table. */
const table = randomRows(64, K, 21);
const victim = async (batch: InputBatch) => {
  const out = new Float32Array(batch.batchSize * K);
  for (let i = 0; i < batch.batchSize; i++) out.set(rowOf(table, Math.floor(batch.data[i * 3]) % 64, K), i * K);
  return out;
};
const inputsFor = (ids: number[]): InputBatch => ({
  data: Float32Array.from(ids.flatMap((id) => [id, 0, 0])),
  batchSize: ids.length,
  inputShape: [3],
});

function directStats(ys: Float32Array[], ts: Float32Array[]) {
  const l1s: number[] = [];
  const l2s: number[] = [];
  const kls: number[] = [];
  let agree = 0;
  ys.forEach((y, i) => {
    const t = ts[i];
    l1s.push(y.reduce((s, v, k) => s + Math.abs(v - t[k]), 0));
    l2s.push(Math.sqrt(y.reduce((s, v, k) => s + (v - t[k]) ** 2, 0)));
    kls.push(y.reduce((s, v, k) => s + (v > 0 ? v * Math.log(v / Math.max(t[k], 1e-8)) : 0), 0));
    if (argmax(y) === argmax(t)) agree++;
  });
  const summary = (xs: number[]) => {
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
    return { mean, std, max: Math.max(...xs) };
  };
  return { l1: summary(l1s), l2: summary(l2s), kl: summary(kls), top1Agreement: agree / ys.length };
}

const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

test("predict and answer return the defended probabilities; statistics match a direct computation", async () => {
  const model = new DefendedModel(victim, createDefense("mad", { epsilon: 1.2, jacobian: "identity" }, { core }), { numClasses: K });
  const rnd = lcg(5);
  const ys: Float32Array[] = [];
  const ts: Float32Array[] = [];
  for (let b = 0; b < 7; b++) {
    const ids = Array.from({ length: 1 + Math.floor(rnd() * 9) }, () => Math.floor(rnd() * 64));
    const answer = await model.answer(inputsFor(ids));
    const y = await victim(inputsFor(ids));
    assert.equal(Array.from(answer.victimProbs), Array.from(y));
    for (let i = 0; i < ids.length; i++) {
      ys.push(rowOf(y, i, K));
      ts.push(rowOf(answer.probs, i, K));
      assert.is(answer.labels[i], argmax(rowOf(answer.probs, i, K)));
      assert.is(answer.victimLabels[i], argmax(rowOf(y, i, K)));
    }
    assert.equal(Array.from(await model.predict(inputsFor(ids))), Array.from(answer.probs), "predict = answer.probs");
    ys.push(...ids.map((_, i) => rowOf(y, i, K)));
    ts.push(...ids.map((_, i) => rowOf(answer.probs, i, K)));
  }
  const stats = model.stats();
  const expected = directStats(ys, ts);
  assert.is(stats.queries, ys.length);
  assert.is(stats.batches, 14);
  assert.is(stats.defense, "mad");
  assert.is(stats.params.epsilon, 1.2);
  for (const key of ["l1", "l2", "kl"] as const) {
    near(stats[key].mean, expected[key].mean, `${key} mean`);
    near(stats[key].std, expected[key].std, `${key} std`);
    near(stats[key].max, expected[key].max, `${key} max`);
  }
  near(stats.top1Agreement, expected.top1Agreement, "top-1 agreement");
  assert.ok(stats.top1Agreement < 1, "MAD with ε = 1.2 flips some top-1 classes");
  assert.equal(JSON.parse(model.exportStats()), JSON.parse(JSON.stringify(stats)));
  model.resetStats();
  const cleared = model.stats();
  assert.is(cleared.queries, 0);
  assert.equal(cleared.l1, { mean: 0, std: 0, max: 0 });
  assert.is(cleared.top1Agreement, 1);
});

test("a label-keeping defense agrees on top-1 everywhere and the undefended one moves nothing", async () => {
  const kept = new DefendedModel(victim, createDefense("modelguard-w", { epsilon: 1 }, { core }));
  const none = new DefendedModel(victim, createDefense("none"));
  const ids = Array.from({ length: 40 }, (_, i) => i);
  await kept.predict(inputsFor(ids));
  await none.predict(inputsFor(ids));
  assert.is(kept.stats().top1Agreement, 1);
  assert.ok(kept.stats().l1.mean > 0.5);
  assert.equal(none.stats().l1, { mean: 0, std: 0, max: 0 });
  assert.is(none.stats().kl.mean, 0);
});

test("a function victim's shape is learnt from its first answer; a ProbabilityModel's is known", async () => {
  const model = new DefendedModel(victim, createDefense("labels"));
  assert.throws(() => model.numClasses, /unknown until the first answer/);
  await model.predict(inputsFor([1, 2]));
  assert.is(model.numClasses, K);
  assert.equal(model.inputShape, [3]);
  const asModel: ProbabilityModel = { inputShape: [3], numClasses: K, predict: victim };
  const wrapped = new DefendedModel(asModel, createDefense("topk", { k: 2 }));
  assert.is(wrapped.numClasses, K);
  const probs = await wrapped.predict(inputsFor([3]));
  assert.is(probs.filter((v) => v > 0).length, 2);
});

test("a misbehaving victim is reported, not passed on", async () => {
  const bad = new DefendedModel(async (b: InputBatch) => {
    const out = await victim(b);
    out[K + 1] = NaN;
    return out;
  }, createDefense("none"));
  try {
    await bad.predict(inputsFor([1, 2, 3]));
    assert.unreachable();
  } catch (e) {
    assert.instance(e, DefenseInputError);
    assert.match(String(e), /victim output, row 1: class 1 is NaN/);
  }
  const logits = new DefendedModel(async () => new Float32Array([2, 1, 0.5, 0, 0]), createDefense("none"));
  await logits.predict(inputsFor([0])).then(
    () => assert.unreachable(),
    (e) => assert.match(String(e), /not 1 \(probabilities expected, not logits\)/),
  );
  const short = new DefendedModel(victim, createDefense("none"), { numClasses: 4 });
  await short.predict(inputsFor([0])).then(
    () => assert.unreachable(),
    (e) => assert.match(String(e), /5 classes per row, expected 4/),
  );
});

test("the model's proxy fills proxyProbs for MAD; the client id reaches the defense", async () => {
  const proxyProbs = randomRows(64, K, 99, 1);
  const proxy = { probs: async (b: InputBatch) => proxyProbs.slice(0, b.batchSize * K) };
  let seenClient: string | undefined;
  const spy = createDefense("mad-argmax", { epsilon: 0.8 }, { core });
  const original = spy.apply.bind(spy);
  const recording = { ...spy, apply: async (batch: Parameters<typeof spy.apply>[0]) => ((seenClient = batch.clientId), original(batch)) };
  const model = new DefendedModel(victim, recording, { proxy });
  const ids = [4, 8, 15, 16];
  const answer = await model.answer(inputsFor(ids), { clientId: "alice" });
  assert.is(seenClient, "alice");
  const y = await victim(inputsFor(ids));
  const expected = core
    .createPerturber({ oracle: "argmax", objective: "angular", distance: "l1", epsilon: 0.8 })
    .perturb(y, K, { kind: "probs", proxyProbs: proxyProbs.slice(0, ids.length * K) });
  assert.equal(Array.from(answer.probs), Array.from(expected));
});

test("Welford statistics stay exact where the textbook formula cancels", () => {
  const s = new RunningStats();
  const values = [1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16];
  values.forEach((v) => s.push(v));
  near(s.summary().mean, 1e9 + 10, "mean");
  near(s.summary().std, Math.sqrt(22.5), "std");
  assert.is(s.summary().max, 1e9 + 16);
});

test.run();
