// Adaptive Misinformation: y' = (1 − α)·y + α·m(x), α = σ(ν·(τ − s(x))). Stub scorer and misinformation models
// (the input of a row is its score), then the real thing with scratch LeNets on 28x28x1 inputs.
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  ALPHA_SNAP, createDefense, DefendedModel, DefenseConfigError, DefenseInputError, describeDefense, misinformationWeight, parseParameterStrings,
  publicParameters, type AdaptiveMisinformationDefense, type DefenseDeps, type DefenseModel,
} from "../../src/defenses/index.js";
import { initBackend } from "../../src/models/backend.js";
import { Proxy } from "../../src/models/proxy.js";
import type { InputBatch } from "../../src/models/types.js";
import { batchOf, l1, lcg, randomRows, rowOf } from "./helpers.js";

const NAME = "adaptive-misinformation";
const K = 10;

/** A scorer whose max softmax on row i is the row's input value x_i (any class count). */
function stubScorer(classes = 5): DefenseModel & { calls: number } {
  return {
    calls: 0,
    async probs(batch: InputBatch) {
      this.calls++;
      const out = new Float32Array(batch.batchSize * classes);
      for (let i = 0; i < batch.batchSize; i++) {
        const s = Math.max(batch.data[i], 1 / classes);
        out[i * classes] = s;
        for (let k = 1; k < classes; k++) out[i * classes + k] = (1 - s) / (classes - 1);
      }
      return out;
    },
  };
}

/** m(x): a row that depends on the input, heaviest on the last class. */
function stubMisinformation(classes = K): DefenseModel & { calls: number } {
  return {
    calls: 0,
    async probs(batch: InputBatch) {
      this.calls++;
      const out = new Float32Array(batch.batchSize * classes);
      for (let i = 0; i < batch.batchSize; i++) {
        let sum = 0;
        for (let k = 0; k < classes; k++) sum += (k + 1) * (1 + batch.data[i]);
        for (let k = 0; k < classes; k++) out[i * classes + k] = ((k + 1) * (1 + batch.data[i])) / sum;
      }
      return out;
    },
  };
}

const inputsOf = (scores: number[]): InputBatch => ({ data: Float32Array.from(scores), batchSize: scores.length, inputShape: [1] });
const build = (params: Record<string, unknown> = {}, deps: DefenseDeps = { misinformation: stubMisinformation(), scorer: stubScorer() }) =>
  createDefense(NAME, params, deps) as AdaptiveMisinformationDefense;

function fails(fn: () => unknown, pattern: RegExp, parameter?: string) {
  try {
    fn();
  } catch (e) {
    assert.instance(e, DefenseConfigError);
    assert.match((e as Error).message, pattern);
    assert.is((e as DefenseConfigError).parameter, parameter);
    return;
  }
  assert.unreachable(`expected an error matching ${pattern}`);
}

async function rejects(run: () => Promise<unknown>, pattern: RegExp, type?: new (...args: never[]) => Error) {
  try {
    await run();
  } catch (e) {
    if (type) assert.instance(e, type);
    assert.match((e as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected a rejection matching ${pattern}`);
}

test("parameters: defaults, documented ranges, string coercion", () => {
  const d = build();
  assert.equal(d.params, { tau: 0.5, nu: 1000, score: "auto" });
  assert.equal(publicParameters(NAME, {}), { tau: 0.5, nu: 1000, score: "auto" });
  const info = describeDefense(NAME);
  assert.not.ok(info.needsCore);
  const tau = info.parameters.find((p) => p.name === "tau")!;
  assert.equal([tau.min, tau.max, tau.exclusiveMin, tau.exclusiveMax], [0, 1, true, true]);
  for (const bad of [0, 1, -0.1, 1.5, NaN, "0.5"]) fails(() => build({ tau: bad }), /parameter "tau": must be a number > 0 and < 1/, "tau");
  for (const bad of [0, -5, 2e6, Infinity]) fails(() => build({ nu: bad }), /parameter "nu": must be a number > 0 and <= 1000000/, "nu");
  fails(() => build({ score: "both" }), /parameter "score": must be one of "auto", "scorer", "victim"/, "score");
  fails(() => build({ alpha: 1 }), /unknown parameter \(known: tau, nu, score\)/, "alpha");
  assert.equal(parseParameterStrings(NAME, { tau: "0.5", nu: "100", score: "victim" }), { tau: 0.5, nu: 100, score: "victim" });
  assert.equal(build({ tau: 0.99, nu: 10000 }).params, { tau: 0.99, nu: 10000, score: "auto" });
});

test("a missing misinformation model (or scorer for score=scorer) is a DefenseConfigError saying how to pass one", () => {
  fails(() => createDefense(NAME, {}), /needs the misinformation model f\^: pass deps.misinformation.*trainMisinformation\(\)/);
  fails(() => createDefense(NAME, {}, { scorer: stubScorer() }), /deps.misinformation/);
  fails(() => createDefense(NAME, { score: "scorer" }, { misinformation: stubMisinformation() }), /"scorer" needs the out-of-distribution scorer: pass deps.scorer/, "score");
});

test("traits, and where the score comes from", () => {
  const d = build();
  assert.equal(d.traits, { keepsTop1: false, needsInput: true, stateful: false, randomized: false, onSimplex: true });
  assert.is(d.scoreSource, "scorer");
  assert.is(build({ score: "victim" }).scoreSource, "victim");
  assert.is(build({}, { misinformation: stubMisinformation() }).scoreSource, "victim");
  assert.is(build({ score: "scorer" }).scoreSource, "scorer");
});

test("α = σ(ν·(τ − s)), snapped to exactly 0 and 1 near the ends", () => {
  assert.is(misinformationWeight(0.9, 0.9, 1000), 0.5);
  assert.ok(Math.abs(misinformationWeight(0.895, 0.9, 1000) - 1 / (1 + Math.exp(-5))) < 1e-12);
  assert.is(misinformationWeight(0.99, 0.9, 1000), 0);
  assert.is(misinformationWeight(0.1, 0.9, 1000), 1);
  assert.is(misinformationWeight(1, 0.5, 1e6), 0);
  assert.is(misinformationWeight(0, 0.5, 1e6), 1);
  const justBelow = 0.9 + Math.log(1 / ALPHA_SNAP - 1) / 1000 + 1e-6;
  assert.is(misinformationWeight(justBelow, 0.9, 1000), 0);
});

test("in-distribution confident rows (α ≈ 0) are answered with y exactly, without running the misinformation model", async () => {
  const misinformation = stubMisinformation();
  const scorer = stubScorer();
  const d = build({ tau: 0.9 }, { misinformation, scorer });
  const y = randomRows(4, K, 1);
  const { probs } = await d.apply(batchOf(y, K, { inputs: inputsOf([0.999, 0.95, 0.97, 1]) }));
  assert.equal(Array.from(probs), Array.from(y));
  assert.is(scorer.calls, 1);
  assert.is(misinformation.calls, 0);
});

test("low-score rows (α ≈ 1) are answered with m(x); a mixed batch mixes per row", async () => {
  const misinformation = stubMisinformation();
  const d = build({ tau: 0.9 }, { misinformation, scorer: stubScorer() });
  const y = randomRows(4, K, 2);
  const scores = [0.2, 0.999, 0.5, 0.85];
  const inputs = inputsOf(scores);
  const { probs } = await d.apply(batchOf(y, K, { inputs }));
  const m = await stubMisinformation().probs(inputs);
  for (const i of [0, 2, 3]) assert.equal(Array.from(rowOf(probs, i, K)), Array.from(rowOf(m, i, K)), `row ${i}`);
  assert.equal(Array.from(rowOf(probs, 1, K)), Array.from(rowOf(y, 1, K)));
  assert.is(misinformation.calls, 1);
});

test("in between, y' = (1 − α)·y + α·m(x) with α = σ(ν·(τ − s)); at s = τ the midpoint", async () => {
  const tau = 0.6, nu = 10;
  const d = build({ tau, nu });
  const scores = [0.6, 0.3, 0.75, 0.95, 0.45];
  const inputs = inputsOf(scores);
  const y = randomRows(scores.length, K, 3);
  const { probs } = await d.apply(batchOf(y, K, { inputs }));
  const m = await stubMisinformation().probs(inputs);
  scores.forEach((s, i) => {
    const a = 1 / (1 + Math.exp(-nu * (tau - s)));
    for (let k = 0; k < K; k++) {
      const expected = (1 - a) * y[i * K + k] + a * m[i * K + k];
      assert.ok(Math.abs(probs[i * K + k] - expected) < 1e-7, `row ${i} class ${k}: ${probs[i * K + k]} vs ${expected}`);
    }
  });
  for (let k = 0; k < K; k++) assert.ok(Math.abs(probs[k] - (y[k] + m[k]) / 2) < 1e-7);
});

test("without a scorer (or with score=victim) the score is max_k y_k of the victim's answer", async () => {
  const confident = new Float32Array(K).fill(0.001);
  confident[4] = 1 - 0.009;
  const flat = new Float32Array(K).fill(0.1);
  const y = new Float32Array([...confident, ...flat]);
  const inputs = inputsOf([0.0, 0.99]); // the stub scorer would say the opposite
  const m = await stubMisinformation().probs(inputs);
  for (const d of [build({}, { misinformation: stubMisinformation() }), build({ score: "victim" })]) {
    const { probs } = await d.apply(batchOf(y, K, { inputs }));
    assert.equal(Array.from(rowOf(probs, 0, K)), Array.from(confident));
    assert.equal(Array.from(rowOf(probs, 1, K)), Array.from(rowOf(m, 1, K)));
  }
});

test("answers are non-negative and on the simplex for random rows, scores and settings", async () => {
  const rnd = lcg(4);
  for (const [tau, nu] of [[0.5, 10], [0.9, 1000], [0.3, 3], [0.99, 1e6]]) {
    for (const score of ["scorer", "victim"]) {
      const B = 64;
      const y = randomRows(B, K, 5 + tau * 100, 1 + 4 * rnd());
      const inputs = inputsOf(Array.from({ length: B }, () => rnd()));
      const { probs } = await build({ tau, nu, score }).apply(batchOf(y, K, { inputs }));
      for (let i = 0; i < B; i++) {
        const row = rowOf(probs, i, K);
        assert.ok(row.every((v) => Number.isFinite(v) && v >= 0), `row ${i}`);
        const sum = row.reduce((s, v) => s + v, 0);
        assert.ok(Math.abs(sum - 1) <= 1e-5, `τ ${tau} ν ${nu} ${score} row ${i}: sums to ${sum}`);
      }
    }
  }
});

test("a batch of B rows gets the answers of the B rows sent one by one; inputs never modified", async () => {
  const B = 40;
  const rnd = lcg(9);
  const y = randomRows(B, K, 6);
  const scores = Array.from({ length: B }, (_, i) => (i % 4 === 0 ? 0.999 : rnd()));
  for (const params of [{ tau: 0.5, nu: 20 }, {}, { score: "victim", tau: 0.7 }]) {
    const yCopy = y.slice();
    const inputs = inputsOf(scores);
    const whole = await build(params).apply(batchOf(yCopy, K, { inputs }));
    assert.equal(Array.from(yCopy), Array.from(y));
    assert.equal(Array.from(inputs.data), Array.from(Float32Array.from(scores)));
    const single = build(params);
    for (let i = 0; i < B; i++) {
      const { probs } = await single.apply(batchOf(rowOf(y, i, K), K, { inputs: inputsOf([scores[i]]) }));
      assert.equal(Array.from(probs), Array.from(rowOf(whole.probs, i, K)), `${JSON.stringify(params)} row ${i}`);
    }
  }
});

test("bad input is a DefenseInputError; a misbehaving model is reported", async () => {
  const d = build();
  const y = randomRows(3, K, 7);
  const bad = y.slice();
  bad[K + 2] = NaN;
  await rejects(() => d.apply(batchOf(bad, K, { inputs: inputsOf([0.1, 0.1, 0.1]) })), /probs, row 1: class 2 is NaN/, DefenseInputError);
  await rejects(() => d.apply(batchOf(y, K)), /inputs: adaptive-misinformation runs its misinformation model and its scorer on the queries/, DefenseInputError);
  await rejects(() => d.apply(batchOf(y, K, { inputs: inputsOf([0.1, 0.1]) })), /inputs: batchSize 2 does not match probs batchSize 3/, DefenseInputError);
  assert.is((await d.apply({ probs: new Float32Array(0), batchSize: 0, numClasses: K })).probs.length, 0);
  const inputs = inputsOf([0.1, 0.1, 0.1]);
  await rejects(() => build({}, { misinformation: stubMisinformation(7), scorer: stubScorer() }).apply(batchOf(y, K, { inputs })), /misinformation answered 21 values for 3 queries, expected 3 x 10/);
  const logits: DefenseModel = { probs: async (b) => new Float32Array(b.batchSize * K).fill(2) };
  await rejects(() => build({}, { misinformation: logits }).apply(batchOf(y, K, { inputs: inputsOf([0, 0, 0]) })), /misinformation model's answer is not probabilities.*sums to 20/);
  await rejects(() => build({}, { misinformation: stubMisinformation(), scorer: logits }).apply(batchOf(y, K, { inputs })), /scorer model's answer is not probabilities/);
});

test("real models: scratch LeNet scorer and misinformation model on 28x28x1 inputs, behind a DefendedModel", async () => {
  await initBackend();
  const spec = { arch: "lenet" as const, numClasses: K, inputShape: [28, 28, 1] };
  const scorer = Proxy.scratch({ ...spec, seed: 1 });
  const misinformation = Proxy.scratch({ ...spec, seed: 2 });
  const defense = createDefense(NAME, {}, { scorer, misinformation });
  const B = 6;
  const rnd = lcg(10);
  const batch: InputBatch = { data: Float32Array.from({ length: B * 784 }, () => rnd()), batchSize: B, inputShape: [28, 28, 1] };
  const y = randomRows(B, K, 8, 6);
  const model = new DefendedModel(async () => y, defense, { numClasses: K, inputShape: [28, 28, 1] });
  const answer = await model.answer(batch);
  const m = await misinformation.probs(batch);
  // an untrained scorer is never confident: every row gets m(x)
  for (let i = 0; i < B; i++) assert.ok(l1(rowOf(answer.probs, i, K), rowOf(m, i, K)) < 1e-6, `row ${i}`);
  assert.equal(Array.from(answer.victimProbs), Array.from(y));
  scorer.dispose();
  misinformation.dispose();
});

test.run();
