// Invalid input raises CoreInputError naming the row (null: the whole call) and the field.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadCore, CoreInputError, type PerturbOptions } from "../../src/core/index.js";

const core = await loadCore();
const good: PerturbOptions = { oracle: "extreme", objective: "angular", distance: "l1", epsilon: 0.1 };

function expectInputError(fn: () => unknown, field: string, row: number | null, message?: RegExp): void {
  try {
    fn();
  } catch (error) {
    assert.instance(error, CoreInputError, String(error));
    const e = error as CoreInputError;
    assert.is(e.field, field, e.message);
    assert.is(e.row, row, e.message);
    if (message) assert.match(e.message, message);
    return;
  }
  assert.unreachable(`expected CoreInputError(${field}, row ${row})`);
}

const rows = (...r: number[][]) => Float64Array.from(r.flat());

test("options: unknown names, negative or non-finite epsilon, bad seed, projections with kl", () => {
  expectInputError(() => core.createPerturber({ ...good, oracle: "best" as never }), "oracle", null, /one of extreme, argmax, random, argmin/);
  expectInputError(() => core.createPerturber({ ...good, objective: "cosine" as never }), "objective", null);
  expectInputError(() => core.createPerturber({ ...good, distance: "linf" as never }), "distance", null);
  expectInputError(() => core.createPerturber({ ...good, step: "greedy" as never }), "step", null);
  expectInputError(() => core.createPerturber({ ...good, epsilon: -0.1 }), "epsilon", null, />= 0/);
  expectInputError(() => core.createPerturber({ ...good, epsilon: NaN }), "epsilon", null);
  expectInputError(() => core.createPerturber({ ...good, epsilon: Infinity }), "epsilon", null);
  expectInputError(() => core.createPerturber({ ...good, epsilon: "0.1" as never }), "epsilon", null);
  expectInputError(() => core.createPerturber({ ...good, seed: -1 }), "seed", null);
  expectInputError(() => core.createPerturber({ ...good, seed: 1.5 }), "seed", null);
  expectInputError(() => core.createPerturber({ ...good, distance: "kl", step: "projections" }), "step", null, /l1 or l2/);
});

test("NaN, infinity, negative entries and bad sums name the row, the field and the entry", () => {
  const p = core.createPerturber(good);
  expectInputError(() => p.perturb(rows([0.5, 0.5], [NaN, 1]), 2), "probs", 1, /entry 0 is NaN/);
  expectInputError(() => p.perturb(rows([0.5, 0.5], [0.5, 0.5], [Infinity, 0]), 2), "probs", 2, /entry 0 is Infinity/);
  expectInputError(() => p.perturb(rows([1.1, -0.1]), 2), "probs", 0, /entry 1 is negative/);
  expectInputError(() => p.perturb(rows([0.5, 0.5], [0.6, 0.5]), 2), "probs", 1, /sums to 1\.1/);
  expectInputError(() => p.perturb(Float32Array.of(0.5, 0.5, 0.3, 0.3), 2), "probs", 1, /sums to/);
  // Within 1e-3 of 1 is accepted.
  p.perturb(rows([0.5, 0.4995]), 2);
});

test("proxy probabilities and Gram matrices are checked the same way", () => {
  const p = core.createPerturber(good);
  const y = rows([0.5, 0.5], [0.2, 0.8]);
  expectInputError(() => p.perturb(y, 2, { kind: "probs", proxyProbs: rows([0.5, 0.5], [0.2, NaN]) }), "proxyProbs", 1, /entry 1 is NaN/);
  expectInputError(() => p.perturb(y, 2, { kind: "probs", proxyProbs: rows([0.5, 0.6], [0.2, 0.8]) }), "proxyProbs", 0, /sums to/);
  expectInputError(() => p.perturb(y, 2, { kind: "gram", gram: rows([1, 0, 0, 1], [1, 0.5, 0.4, 1]) }), "gram", 1, /not symmetric/);
  expectInputError(() => p.perturb(y, 2, { kind: "gram", gram: rows([1, 0, 0, -1], [1, 0, 0, 1]) }), "gram", 0, /diagonal/);
  expectInputError(() => p.perturb(y, 2, { kind: "gram", gram: rows([1, 0, 0, 1], [1, 0, 0, NaN]) }), "gram", 1, /NaN/);
});

test("shape mismatches name the field and no row", () => {
  const p = core.createPerturber(good);
  expectInputError(() => p.perturb(rows([0.5, 0.3, 0.2]), 2), "probs", null, /not a multiple of numClasses 2/);
  expectInputError(() => p.perturb(rows([0.5, 0.5]), 1), "numClasses", null, />= 2/);
  expectInputError(() => p.perturb(rows([0.5, 0.5]), 2.5), "numClasses", null);
  expectInputError(() => p.perturb([0.5, 0.5] as never, 2), "probs", null, /Float32Array or Float64Array/);
  expectInputError(() => p.perturb(rows([0.5, 0.5]), 2, { kind: "probs", proxyProbs: rows([0.5, 0.3, 0.2]) }), "proxyProbs", null, /does not match/);
  expectInputError(() => p.perturb(rows([0.5, 0.5]), 2, { kind: "gram", gram: rows([1, 0, 0]) }), "gram", null, /does not match/);
  expectInputError(() => p.perturb(rows([0.5, 0.5]), 2, { kind: "gram", gram: Float32Array.of(1, 0, 0, 1) as never }), "gram", null, /Float64Array/);
  expectInputError(() => p.perturb(rows([0.5, 0.5]), 2, { kind: "hessian" } as never), "jacobian", null, /unknown kind/);
});

test("a bad row in a batch big enough to be processed in chunks is reported with its batch row", () => {
  const K = 1000;
  const B = 2500; // 20 MB of f64: three chunks
  const probs = new Float64Array(B * K).fill(1 / K);
  probs[2345 * K + 17] = -1e-3;
  expectInputError(() => core.createPerturber(good).perturb(probs, K), "probs", 2345, /entry 17 is negative/);
});

test("the rows are checked as the core loads them, yet the error is validation's first problem: probs before proxyProbs, entry order within a row", () => {
  const p = core.createPerturber(good);
  const K = 10;
  const B = 40;
  const y = new Float64Array(B * K).fill(1 / K);
  const q = new Float64Array(B * K).fill(1 / K);
  q[2 * K + 1] = NaN; // an earlier row of the proxy...
  y[5 * K + 3] = -0.5; // ...and a later row of probs, its sum still 1
  y[5 * K + 4] = 1 / K + 0.5;
  expectInputError(() => p.perturb(y, K, { kind: "probs", proxyProbs: q }), "probs", 5, /entry 3 is negative/);
  y.fill(1 / K);
  y[7 * K + 8] = Infinity;
  q[7 * K + 1] = -1; // the same row: probs is named first
  expectInputError(() => p.perturb(y, K, { kind: "probs", proxyProbs: q }), "probs", 7, /entry 8 is Infinity/);
  // Float32 rows, and a sum that overflows.
  expectInputError(() => p.perturb(Float32Array.of(0.5, 0.5, NaN, 1), 2), "probs", 1, /entry 0 is NaN/);
  expectInputError(() => p.perturb(rows([0.5, 0.5], [1e308, 1e308]), 2), "probs", 1, /sums to Infinity/);
});

test("−0 is a valid entry: the same answers as +0", () => {
  for (const oracle of ["extreme", "argmax"] as const) {
    const p = core.createPerturber({ ...good, oracle });
    const negative = rows([0.7, -0, 0.3], [-0, 1, -0]);
    const positive = rows([0.7, 0, 0.3], [0, 1, 0]);
    const proxy = rows([0.2, 0.3, 0.5], [-0, 0.5, 0.5]);
    assert.equal(Array.from(p.perturb(negative, 3, { kind: "probs", proxyProbs: proxy })), Array.from(p.perturb(positive, 3, { kind: "probs", proxyProbs: proxy })));
  }
});

test("out: the answers in the caller's buffer; a buffer of another type or length, or sharing memory with the inputs, is refused", () => {
  const p = core.createPerturber(good);
  const y = rows([0.5, 0.5], [0.2, 0.8]);
  const proxy = { kind: "probs", proxyProbs: rows([0.3, 0.7], [0.6, 0.4]) } as const;
  const out = new Float64Array(4);
  assert.is(p.perturb(y, 2, proxy, out), out);
  assert.equal(Array.from(out), Array.from(p.perturb(y, 2, proxy)));
  expectInputError(() => p.perturb(y, 2, proxy, new Float32Array(4) as never), "out", null, /Float64Array like probs/);
  expectInputError(() => p.perturb(y, 2, proxy, new Float64Array(6)), "out", null, /length 6/);
  expectInputError(() => p.perturb(y, 2, proxy, y), "out", null, /shares memory with probs/);
  const shared = new Float64Array(8);
  shared.set(y);
  expectInputError(() => p.perturb(shared.subarray(0, 4), 2, proxy, shared.subarray(3, 7)), "out", null, /shares memory with probs/);
  expectInputError(() => p.perturb(y, 2, proxy, proxy.proxyProbs), "out", null, /shares memory with proxyProbs/);
  // Adjacent views of one buffer do not overlap.
  shared.set(y, 0);
  p.perturb(shared.subarray(0, 4), 2, proxy, shared.subarray(4, 8));
  assert.equal(Array.from(shared.subarray(4, 8)), Array.from(out));
});

test("an error leaves the perturber usable and its random stream where it was", () => {
  const options: PerturbOptions = { ...good, oracle: "random", seed: 9 };
  const a = core.createPerturber(options);
  const b = core.createPerturber(options);
  const y = rows([0.3, 0.3, 0.4]);
  expectInputError(() => a.perturb(rows([0.3, 0.3, 0.4], [NaN, 0.5, 0.5]), 3), "probs", 1);
  assert.equal(Array.from(a.perturb(y, 3)), Array.from(b.perturb(y, 3)));
});

test.run();
