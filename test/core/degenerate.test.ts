// Degenerate inputs have defined answers: p = y (a = 0), one-hot y, uniform y, K = 2, epsilon = 0,
// epsilon beyond the simplex's diameter, a proxy equal to a vertex (ã = 0), ties at the top.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadCore, type Distance, type Jacobian, type Objective, type Oracle, type Step } from "../../src/core/index.js";
import { angularObjective } from "../reference/mad.js";
import { assertValidAnswer, createRng, keepsTop1Strictly, randomGram } from "./helpers.js";

const core = await loadCore();

/** H = 2 − 2cos(p − x, p − y), computed directly (the reference's objective). */
function angularH(y: ArrayLike<number>, p: ArrayLike<number>, x: ArrayLike<number>): number {
  return angularObjective(x, y, { kind: "probs", proxyProbs: p });
}
const oracles: Oracle[] = ["extreme", "argmax", "random", "argmin"];
const objectives: Objective[] = ["angular", "surrogate"];
const distances: Distance[] = ["l1", "l2", "kl"];
const steps: Step[] = ["linesearch", "projections", "reachable"];

function* configurations(epsilons: number[]) {
  for (const oracle of oracles)
    for (const objective of objectives)
      for (const distance of distances)
        for (const step of steps)
          for (const epsilon of epsilons) if (!(step === "projections" && distance === "kl")) yield { oracle, objective, distance, step, epsilon };
}

function jacobiansFor(y: Float64Array, p: Float64Array): Jacobian[] {
  const K = y.length;
  return [{ kind: "identity" }, { kind: "probs", proxyProbs: p }, { kind: "gram", gram: randomGram(createRng(K), K) }];
}

function assertAllValid(name: string, y: Float64Array, p: Float64Array, epsilons = [0.01, 0.3, 1, 3]): void {
  for (const options of configurations(epsilons)) {
    for (const jacobian of jacobiansFor(y, p)) {
      const label = `${name} ${JSON.stringify(options)} ${jacobian.kind}`;
      const out = core.createPerturber(options).perturb(y, y.length, jacobian);
      assertValidAnswer(y, out, options.distance, options.epsilon, false, label);
      if (options.oracle === "argmax") assert.ok(keepsTop1Strictly(y, out), `${label}: top-1 lost: ${Array.from(out)}`);
      const out32 = core.createPerturber(options).perturb(Float32Array.from(y), y.length, jacobian.kind === "probs" ? { kind: "probs", proxyProbs: Float32Array.from(p) } : jacobian);
      assertValidAnswer(Float32Array.from(y), out32, options.distance, options.epsilon, true, `${label} f32`);
      if (options.oracle === "argmax") assert.ok(keepsTop1Strictly(Float32Array.from(y), out32), `${label} f32: top-1 lost: ${Array.from(out32)}`);
    }
  }
}

test("p = y (a = 0): angular falls back to surrogate, deterministically, never NaN", () => {
  const y = Float64Array.of(0.5, 0.2, 0.3);
  for (const distance of distances) {
    const options = { oracle: "extreme" as const, distance, epsilon: 0.4 };
    const angular = core.createPerturber({ ...options, objective: "angular" }).perturbWithTargets(y, 3, { kind: "probs", proxyProbs: y });
    const surrogate = core.createPerturber({ ...options, objective: "surrogate" }).perturbWithTargets(y, 3, { kind: "probs", proxyProbs: y });
    assert.equal(Array.from(angular.probs), Array.from(surrogate.probs));
    // S = ‖e_k − y‖² is largest at argmin y.
    assert.equal(Array.from(angular.targets), [0, 1, 0]);
  }
  assertAllValid("p = y", y, y);
});

test("a zero Gram matrix (a = 0 in gram mode) falls back to S, which is 0 everywhere: first vertex", () => {
  const y = Float64Array.of(0.2, 0.5, 0.3);
  const { probs, targets } = core
    .createPerturber({ oracle: "extreme", objective: "angular", distance: "l1", epsilon: 0.2 })
    .perturbWithTargets(y, 3, { kind: "gram", gram: new Float64Array(9) });
  assert.equal(Array.from(targets), [1, 0, 0]);
  assertValidAnswer(y, probs, "l1", 0.2);
});

test("a proxy sitting on a vertex (ã = 0 for that candidate) scores it H = 0 (its limit along the segment), never NaN", () => {
  const y = Float64Array.of(0.25, 0.25, 0.4, 0.1);
  const p = Float64Array.of(0, 0, 0, 1);
  assertAllValid("p = e_3", y, p);
  // e_3 = p is the worst direction (every point towards it has cos = 1): extreme never picks it.
  for (const distance of distances)
    for (const step of ["linesearch", "reachable"] as const) {
      const { probs, targets } = core
        .createPerturber({ oracle: "extreme", objective: "angular", distance, epsilon: 0.3, step })
        .perturbWithTargets(y, 4, { kind: "probs", proxyProbs: p });
      assert.ok(targets[3] !== 1, `${distance}/${step}: target is p itself`);
      assert.ok(angularH(y, p, probs) > 0, `${distance}/${step}: H = ${angularH(y, p, probs)}`);
    }
});

test("y within 1e-6 of a one-hot proxy: the vanishing candidate p is detected, not ranked by rounding noise", () => {
  // ‖p − c‖² for c = p is computed from terms of size ‖p − y‖² ≈ 1e-11: read from O(1) sums, its
  // rounding noise (1e-16) beat every real candidate and the core answered p itself (H = 0).
  const y = Float64Array.of(1.23e-6, 0.9999975, 1.23e-6);
  const p = Float64Array.of(0, 1, 0);
  for (const oracle of ["argmax", "extreme"] as const)
    for (const distance of distances)
      for (const step of ["linesearch", "reachable"] as const) {
        const label = `${oracle}/${distance}/${step}`;
        const { probs, targets } = core
          .createPerturber({ oracle, objective: "angular", distance, epsilon: 0.1, step })
          .perturbWithTargets(y, 3, { kind: "probs", proxyProbs: p });
        assert.ok(!Array.from(targets).every((v, i) => v === p[i]), `${label}: target is p: ${Array.from(targets)}`);
        assert.ok(!Array.from(probs).every((v, i) => v === p[i]), `${label}: answer is p`);
        // The best candidates (towards class 0 or 2) reach cos = cos 30°: H = 2 − √3 ≈ 0.268.
        assert.ok(angularH(y, p, probs) > 0.25, `${label}: H = ${angularH(y, p, probs)}`);
        assertValidAnswer(y, probs, distance, 0.1, false, label);
      }
});

test("one-hot y", () => {
  assertAllValid("one-hot", Float64Array.of(0, 0, 1, 0, 0), Float64Array.of(0.1, 0.2, 0.3, 0.2, 0.2));
  assertAllValid("one-hot first", Float64Array.of(1, 0, 0), Float64Array.of(1, 0, 0));
});

test("uniform y (a tie everywhere): argmax keeps class 0 strictly on top for every epsilon > 0", () => {
  const y = new Float64Array(6).fill(1 / 6);
  assertAllValid("uniform", y, Float64Array.of(0.3, 0.1, 0.1, 0.2, 0.2, 0.1), [1e-12, 1e-6, 0.05, 0.5, 2.5]);
});

test("K = 2", () => {
  assertAllValid("K=2", Float64Array.of(0.7, 0.3), Float64Array.of(0.4, 0.6));
  assertAllValid("K=2 tie", Float64Array.of(0.5, 0.5), Float64Array.of(0.9, 0.1));
  assertAllValid("K=2 one-hot", Float64Array.of(0, 1), Float64Array.of(0.5, 0.5));
});

test("epsilon = 0 returns the input bit for bit (Float64 and Float32), every configuration", () => {
  const rng = createRng(3);
  for (const options of configurations([0])) {
    const y = Float64Array.of(0.1, 0.6, 0.1, 0.2);
    const p = Float64Array.from({ length: 4 }, () => rng.uniform());
    const total = p.reduce((a, b) => a + b, 0);
    p.forEach((v, i) => (p[i] = v / total));
    assert.equal(Array.from(core.createPerturber(options).perturb(y, 4, { kind: "probs", proxyProbs: p })), Array.from(y));
    const y32 = Float32Array.from(y);
    assert.equal(Array.from(core.createPerturber(options).perturb(y32, 4)), Array.from(y32));
  }
});

test("epsilon beyond the diameter: the line search lands on the target itself", () => {
  const y = Float64Array.of(0.1, 0.6, 0.05, 0.25);
  const p = Float64Array.of(0.4, 0.1, 0.3, 0.2);
  for (const oracle of oracles) {
    for (const [distance, epsilon] of [["l1", 2.5], ["l2", 2], ["kl", 1e6]] as const) {
      const { probs, targets } = core
        .createPerturber({ oracle, objective: "angular", distance, epsilon })
        .perturbWithTargets(y, 4, { kind: "probs", proxyProbs: p });
      for (let i = 0; i < 4; i++) assert.ok(Math.abs(probs[i] - targets[i]) < 1e-9, `${oracle}/${distance}: ${Array.from(probs)} vs ${Array.from(targets)}`);
      if (distance !== "kl") assert.equal(Array.from(probs), Array.from(targets));
    }
  }
  assertAllValid("huge epsilon", y, p, [10, 1e6]);
});

test("tiny KL budgets move y by O(√ε), not by the rounding noise of Σ y log(y/ỹ)", () => {
  const y = Float64Array.of(0.2, 0.3, 0.5);
  const p = Float64Array.of(0.6, 0.3, 0.1);
  for (const oracle of oracles)
    for (const step of ["linesearch", "reachable"] as const)
      for (const epsilon of [1e-30, 1e-100, 5e-324]) {
        const out = core.createPerturber({ oracle, objective: "angular", distance: "kl", epsilon, step }).perturb(y, 3, { kind: "probs", proxyProbs: p });
        const moved = out.reduce((a, v, i) => a + Math.abs(v - y[i]), 0);
        assert.ok(moved <= 4 * Math.sqrt(6 * epsilon) + 1e-16, `${oracle}/${step} eps ${epsilon}: moved ${moved}`);
      }
});

test("a tie at the top and a tiny budget: argmax still separates the first class by at least one ulp", () => {
  const y = Float64Array.of(0.4, 0.4, 0.2);
  for (const distance of distances)
    for (const epsilon of [1e-300, 1e-15, 1e-9]) {
      const out = core.createPerturber({ oracle: "argmax", objective: "angular", distance, epsilon }).perturb(y, 3);
      assert.ok(out[0] > out[1] && out[0] > out[2], `${distance} ${epsilon}: ${Array.from(out)}`);
      const out32 = core.createPerturber({ oracle: "argmax", objective: "angular", distance, epsilon }).perturb(Float32Array.from(y), 3);
      assert.ok(out32[0] > out32[1] && out32[0] > out32[2], `f32 ${distance} ${epsilon}: ${Array.from(out32)}`);
    }
});

test.run();
