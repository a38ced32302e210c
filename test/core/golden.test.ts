// Parity with the public PyTorch reference: every case of test/fixtures/mad-reference.jsonl (240),
// both the answer ỹ and the chosen target y*, with the tolerances of the fixture's README.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadCore, type Distance, type Objective, type Oracle } from "../../src/core/index.js";

interface GoldenCase {
  k: number;
  probs: number[];
  proxyProbs: number[];
  oracle: Oracle;
  objective: Objective;
  distance: Distance;
  epsilon: number;
  expected: number[];
  expectedTarget: number[];
}

const fixture = fileURLToPath(new URL("../fixtures/mad-reference.jsonl", import.meta.url));
const cases: GoldenCase[] = readFileSync(fixture, "utf8")
  .split("\n")
  .filter((line) => line.trim() !== "")
  .map((line) => JSON.parse(line));
const core = await loadCore();

const l1 = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s;
};

test("the fixture holds 240 cases over every oracle, objective and distance the reference has", () => {
  assert.is(cases.length, 240);
  const combos = new Set(cases.map((c) => `${c.oracle}/${c.objective}/${c.distance}`));
  assert.is(combos.size, 3 * 2 * 3);
});

test("every golden case: answer within L1 1e-4 (l1, l2) or 1e-3 (kl), target within 1e-4", () => {
  const failures: string[] = [];
  for (const [index, c] of cases.entries()) {
    const perturber = core.createPerturber({ oracle: c.oracle, objective: c.objective, distance: c.distance, epsilon: c.epsilon });
    const { probs, targets } = perturber.perturbWithTargets(Float64Array.from(c.probs), c.k, {
      kind: "probs",
      proxyProbs: Float64Array.from(c.proxyProbs),
    });
    const tolerance = c.distance === "kl" ? 1e-3 : 1e-4;
    const answerError = l1(probs, c.expected);
    const targetError = l1(targets, c.expectedTarget);
    if (answerError > tolerance) failures.push(`case ${index} (${c.oracle}/${c.objective}/${c.distance}, eps ${c.epsilon}): answer L1 error ${answerError}`);
    if (targetError > 1e-4) failures.push(`case ${index}: target L1 error ${targetError}`);
  }
  assert.equal(failures, []);
});

test("the whole fixture as one batch per configuration equals the case-by-case answers", () => {
  const groups = new Map<string, GoldenCase[]>();
  for (const c of cases) {
    const key = JSON.stringify([c.k, c.oracle, c.objective, c.distance, c.epsilon]);
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  let batched = 0;
  for (const group of groups.values()) {
    const { k, oracle, objective, distance, epsilon } = group[0];
    const perturber = core.createPerturber({ oracle, objective, distance, epsilon });
    const out = perturber.perturb(Float64Array.from(group.flatMap((c) => c.probs)), k, {
      kind: "probs",
      proxyProbs: Float64Array.from(group.flatMap((c) => c.proxyProbs)),
    });
    group.forEach((c, r) => {
      assert.ok(l1(out.subarray(r * k, (r + 1) * k), c.expected) <= (distance === "kl" ? 1e-3 : 1e-4));
    });
    batched += group.length;
  }
  assert.is(batched, cases.length);
});

test("Float32Array in: the golden answers hold to float32 precision", () => {
  for (const c of cases) {
    const perturber = core.createPerturber({ oracle: c.oracle, objective: c.objective, distance: c.distance, epsilon: c.epsilon });
    const out = perturber.perturb(Float32Array.from(c.probs), c.k, { kind: "probs", proxyProbs: Float32Array.from(c.proxyProbs) });
    assert.instance(out, Float32Array);
    const tolerance = (c.distance === "kl" ? 1e-3 : 1e-4) + c.k * 2 ** -23;
    assert.ok(l1(out, c.expected) <= tolerance, `${c.oracle}/${c.objective}/${c.distance}`);
  }
});

test.run();
