// The properties every defense promises, checked for each registered defense (and several settings of the
// parametrised ones): finite non-negative answers, on the simplex where declared, within budget, top-1 kept
// where declared, no NaN on edge rows, a batch answered like its rows one by one, seeded reproducibility.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadCore } from "../../src/core/index.js";
import { createDefense, describeDefense, listDefenses, type Defense, type DefenseBatch, type DefenseDeps, type DefenseProxy } from "../../src/defenses/index.js";
import { argmax, batchOf, edgeRows, l1, randomRows, rowOf } from "./helpers.js";

const core = await loadCore();
const KEY = "000102030405060708090a0b0c0d0e0f";

type Config = {
  name: string;
  params: Record<string, unknown>;
  budget?: (y: Float32Array, t: Float32Array) => number;
  /** Extra dependencies (a surrogate), and whether batches carry inputs (fakeInputs). */
  deps?: DefenseDeps;
  inputs?: boolean;
};
const l1Budget = (eps: number) => (y: Float32Array, t: Float32Array) => l1(y, t) - eps;
const l2Budget = (eps: number) => (y: Float32Array, t: Float32Array) => {
  let s = 0;
  for (let k = 0; k < y.length; k++) s += (y[k] - t[k]) ** 2;
  return Math.sqrt(s) - eps;
};
const klBudget = (eps: number) => (y: Float32Array, t: Float32Array) => {
  let s = 0;
  for (let k = 0; k < y.length; k++) if (y[k] > 0) s += y[k] * Math.log(y[k] / t[k]);
  return s - eps;
};

// GRAD²'s surrogate, faked: its derivative for query b is the query's input itself (inputShape [K]), so
// every row depends on its own input only. fakeInputs derives that input from the row's y.
const fakeSurrogate: DefenseProxy = {
  probs: async () => {
    throw new Error("unused");
  },
  jacobian: async () => ({ kind: "identity" }),
  directionalLogProbDerivative: async (batch) => Float32Array.from(batch.data),
};
const fakeInputs = (probs: Float32Array, k: number) => ({
  data: Float32Array.from(probs, (v, i) => Math.sin(37 * v + (i % k))),
  batchSize: probs.length / k,
  inputShape: [k],
});

// Adaptive Misinformation's models, faked on the same inputs: m(x) = softmax(3x), the scorer's softmax(4x)
// (any class count), so some rows are confident and some not, each depending on its own input only.
const softmaxOfInputs = (scale: number) => ({
  probs: async (batch: { data: Float32Array; batchSize: number }) => {
    const k = batch.data.length / batch.batchSize;
    const out = new Float32Array(batch.data.length);
    for (let i = 0; i < batch.batchSize; i++) {
      let sum = 0;
      for (let j = 0; j < k; j++) sum += Math.exp(scale * batch.data[i * k + j]);
      for (let j = 0; j < k; j++) out[i * k + j] = Math.exp(scale * batch.data[i * k + j]) / sum;
    }
    return out;
  },
});
const amModels: DefenseDeps = { misinformation: softmaxOfInputs(3), scorer: softmaxOfInputs(4) };

const configs: Config[] = [
  { name: "none", params: {} },
  { name: "topk", params: { k: 3 } },
  { name: "topk", params: { k: 1, renormalize: true } },
  { name: "rounding", params: { decimals: 2 } },
  { name: "rounding", params: { decimals: 1, renormalize: true } },
  { name: "labels", params: {} },
  { name: "high-confidence", params: { cutoff: 0.2 } },
  { name: "high-confidence", params: { cutoff: 0.2, renormalize: true } },
  { name: "reverse-sigmoid", params: { beta: 0.7, gamma: 0.2 } },
  { name: "random-noise", params: { mode: "logit-uniform", epsilon: 2, norm: "l1", seed: 5 } },
  { name: "random-noise", params: { mode: "logit-gaussian", epsilon: 1, norm: "l2", seed: 6 } },
  { name: "random-noise", params: { mode: "prob-gaussian", sigma: 0.2, seed: 7 } },
  { name: "mad", params: { epsilon: 0.5 }, budget: l1Budget(0.5) },
  { name: "mad", params: { oracle: "random", epsilon: 0.8, seed: 3 }, budget: l1Budget(0.8) },
  { name: "mad", params: { objective: "surrogate", distance: "l2", step: "projections", epsilon: 0.3 }, budget: l2Budget(0.3) },
  { name: "mad", params: { distance: "kl", epsilon: 0.4 }, budget: klBudget(0.4) },
  { name: "mad-argmax", params: { epsilon: 1 }, budget: l1Budget(1) },
  { name: "mad-argmax", params: { epsilon: 0.6, step: "reachable" }, budget: l1Budget(0.6) },
  // Keyed (keyed.ts): the same promises with a secret key mixed in.
  { name: "mad-argmax", params: { epsilon: 1, keyMix: 0.5, key: KEY }, budget: l1Budget(1) },
  { name: "mad-argmax", params: { epsilon: 0.6, step: "reachable", keyJitter: 0.5, keyMix: 1, key: KEY }, budget: l1Budget(0.6) },
  { name: "mad", params: { epsilon: 0.5, keyMix: 0.5, keyJitter: 0.2, key: KEY }, budget: l1Budget(0.5) },
  { name: "mad", params: { objective: "surrogate", distance: "l2", step: "projections", epsilon: 0.3, keyMix: 0.8, key: KEY }, budget: l2Budget(0.3) },
  { name: "mad", params: { distance: "kl", epsilon: 0.4, keyMix: 0.7, key: KEY }, budget: klBudget(0.4) },
  { name: "modelguard-w", params: { epsilon: 1 }, budget: l1Budget(1) },
  { name: "modelguard-w", params: { epsilon: 0.2 }, budget: l1Budget(0.2) },
  { name: "modelguard-s", params: { epsilon: 1 }, budget: l1Budget(1) },
  { name: "modelguard-s", params: { epsilon: 0.1, capacity: 3 }, budget: l1Budget(0.1) },
  { name: "grad2", params: { epsilon: 1 }, budget: l1Budget(1), deps: { proxy: fakeSurrogate }, inputs: true },
  { name: "grad2", params: { epsilon: 0.3, direction: "minus-theta" }, budget: l1Budget(0.3), deps: { proxy: fakeSurrogate }, inputs: true },
  // Chains (chain.ts): the budgets add up.
  { name: "modelguard-s>mad-argmax", params: { "modelguard-s.epsilon": 0.3, "mad-argmax.epsilon": 0.5 }, budget: l1Budget(0.8) },
  { name: "modelguard-s>grad2", params: { "modelguard-s.epsilon": 0.5, "grad2.epsilon": 0.5 }, budget: l1Budget(1), deps: { proxy: fakeSurrogate }, inputs: true },
  // Adaptive Misinformation: the scorer's score, or the victim's own (no scorer); a soft switch (ν = 10) mixes.
  { name: "adaptive-misinformation", params: {}, deps: amModels, inputs: true },
  { name: "adaptive-misinformation", params: { tau: 0.5, nu: 10 }, deps: amModels, inputs: true },
  { name: "adaptive-misinformation", params: { tau: 0.4 }, deps: { misinformation: amModels.misinformation }, inputs: true },
];

const make = (c: Config): Defense => createDefense(c.name, c.params, { core, ...c.deps });
/** A batch as config `c` needs it: with the proxy view, and the inputs when it runs a surrogate. */
const view = (c: Config, probs: Float32Array, k: number, proxyProbs?: Float32Array): DefenseBatch =>
  batchOf(probs, k, { proxyProbs, ...(c.inputs ? { inputs: fakeInputs(probs, k) } : {}) });
const label = (c: Config) => `${c.name} ${JSON.stringify(c.params)}`;
const K = 10;
const B = 24;
const victim = randomRows(B, K, 11);
const proxy = randomRows(B, K, 12, 1);

const usesJacobian = (c: Config) => describeDefense(c.name).parameters.some((p) => p.name === "jacobian");

async function assertRejects(run: () => Promise<unknown>, pattern: RegExp, what: string): Promise<void> {
  try {
    await run();
  } catch (e) {
    assert.match(String(e), pattern, what);
    return;
  }
  assert.unreachable(`${what}: no error`);
}

test("every registered defense is exercised here", () => {
  const covered = new Set(configs.map((c) => c.name));
  for (const info of listDefenses()) assert.ok(covered.has(info.name), `${info.name} has no property test`);
});

function checkAnswers(c: Config, d: Defense, y: Float32Array, t: Float32Array, k: number, where: string) {
  assert.is(t.length, y.length, `${label(c)} ${where}: length`);
  for (let i = 0; i < y.length / k; i++) {
    const yr = rowOf(y, i, k);
    const tr = rowOf(t, i, k);
    let sum = 0;
    for (const v of tr) {
      assert.ok(Number.isFinite(v) && v >= 0, `${label(c)} ${where} row ${i}: entry ${v}`);
      sum += v;
    }
    if (d.traits.onSimplex) assert.ok(Math.abs(sum - 1) <= 1e-5, `${label(c)} ${where} row ${i}: sums to ${sum}`);
    else if (c.name !== "rounding") assert.ok(sum <= 1 + 1e-6, `${label(c)} ${where} row ${i}: sums to ${sum} > 1`);
    if (d.traits.keepsTop1) assert.is(argmax(tr), argmax(yr), `${label(c)} ${where} row ${i}: top-1 changed`);
    if (c.budget) assert.ok(c.budget(yr, tr) <= 1e-4, `${label(c)} ${where} row ${i}: over budget by ${c.budget(yr, tr)}`);
  }
}

for (const c of configs) {
  test(`${label(c)}: answers are valid on random rows`, async () => {
    const d = make(c);
    const { probs } = await d.apply(view(c, victim, K, proxy));
    checkAnswers(c, d, victim, probs, K, "random");
  });

  test(`${label(c)}: no NaN and promises kept on edge rows`, async () => {
    for (const [name, k, row] of edgeRows()) {
      const d = make(c);
      const proxyRow = new Float32Array(k).fill(1 / k);
      const { probs } = await d.apply(view(c, row, k, proxyRow));
      checkAnswers(c, d, row, probs, k, name);
      // MAD without any proxy view refuses (never a silent G = I), GRAD² without the inputs; the others need none.
      if (usesJacobian(c)) await assertRejects(() => make(c).apply(batchOf(row, k)), /jacobian "identity"/, label(c));
      else if (c.inputs) await assertRejects(() => make(c).apply(batchOf(row, k)), /inputs/, label(c));
      else checkAnswers(c, d, row, (await make(c).apply(batchOf(row, k))).probs, k, `${name} (no proxy view)`);
    }
  });

  test(`${label(c)}: a batch gets the answers of its rows sent one by one`, async () => {
    const whole = await make(c).apply(view(c, victim, K, proxy));
    // A fresh instance per side, so seeded streams start at the same place.
    const single = make(c);
    for (let i = 0; i < B; i++) {
      const { probs } = await single.apply(view(c, rowOf(victim, i, K), K, rowOf(proxy, i, K)));
      assert.equal(Array.from(probs), Array.from(rowOf(whole.probs, i, K)), `${label(c)} row ${i}`);
    }
  });

  test(`${label(c)}: inputs are never modified`, async () => {
    const copy = victim.slice();
    await make(c).apply(view(c, copy, K, proxy));
    assert.equal(Array.from(copy), Array.from(victim));
  });
}

test("randomised defenses: same seed same answers, another seed other answers, reset restarts the stream", async () => {
  const batch = batchOf(victim, K, { proxyProbs: proxy });
  for (const c of configs.filter((c) => make(c).traits.randomized)) {
    const a = await make(c).apply(batch);
    const b = await make(c).apply(batch);
    assert.equal(Array.from(a.probs), Array.from(b.probs), label(c));
    const other = await createDefense(c.name, { ...c.params, seed: 99 }, { core }).apply(batch);
    assert.not.equal(Array.from(a.probs), Array.from(other.probs), `${label(c)} ignores its seed`);
    const d = make(c);
    const first = await d.apply(batch);
    const second = await d.apply(batch);
    assert.not.equal(Array.from(first.probs), Array.from(second.probs), `${label(c)}: the stream does not advance`);
    d.reset?.();
    const afterReset = await d.apply(batch);
    assert.equal(Array.from(afterReset.probs), Array.from(first.probs), `${label(c)}: reset does not restart`);
  }
});

test("deterministic defenses answer a repeated query identically", async () => {
  for (const c of configs.filter((c) => !make(c).traits.randomized)) {
    const d = make(c);
    const a = await d.apply(view(c, victim, K, proxy));
    const b = await d.apply(view(c, victim, K, proxy));
    assert.equal(Array.from(a.probs), Array.from(b.probs), label(c));
  }
});

test("a malformed batch is rejected with the row and the field", async () => {
  for (const c of configs) {
    const bad = victim.slice(0, 3 * K);
    bad[K + 2] = NaN;
    try {
      await make(c).apply(batchOf(bad, K));
      assert.unreachable(`${label(c)} accepted NaN`);
    } catch (e) {
      const message = String((e as Error).message);
      assert.ok(/row 1/.test(message) && /probs/.test(message), `${label(c)}: ${message}`);
    }
    try {
      await make(c).apply({ probs: victim, batchSize: B, numClasses: 7 });
      assert.unreachable(`${label(c)} accepted a wrong shape`);
    } catch (e) {
      assert.ok(/probs/.test(String(e)), `${label(c)}: ${String(e)}`);
    }
  }
});

test.run();
