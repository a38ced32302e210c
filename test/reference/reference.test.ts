// Validates the float64 reference itself: closed forms against an explicit G (last layer and a random
// multi-layer G), the projections against their optimality conditions, and the whole perturbation
// against the public reference implementation's vectors (test/fixtures/mad-reference.jsonl).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import {
  angularObjective,
  argmaxCandidate,
  argmaxIndex,
  argmaxOracle,
  dot,
  explicitAngularObjective,
  explicitSurrogateObjective,
  extremeOracle,
  gramOf,
  interpolate,
  isNearTie,
  klAlongSegment,
  klDivergence,
  l1Distance,
  l2Distance,
  lastLayerGram,
  lastLayerJacobian,
  lineSearch,
  lineSearchAlpha,
  projectOntoL1Ball,
  projectOntoL2Ball,
  projectOntoSimplex,
  referencePerturb,
  referencePerturbBatch,
  rowJacobian,
  surrogateObjective,
  type DistanceName,
  type ObjectiveName,
  type OracleName,
  type RowJacobian,
} from "./mad.js";
import { createRng, randomMatrix, randomSimplexPoint, type Rng } from "./random.js";

/** Relative error; `floor` is the value's natural scale where cancellation is absolute (H = 2 − 2cos ∈ [0, 4]). */
const relativeError = (actual: number, expected: number, floor = 0) =>
  Math.abs(actual - expected) / Math.max(Math.abs(expected), floor, 1e-300);

function assertClose(actual: number, expected: number, tolerance: number, what: string) {
  const err = relativeError(actual, expected, what.startsWith("H") ? 1 : 0);
  assert.ok(err <= tolerance, `${what}: ${actual} vs ${expected} (relative error ${err})`);
}

/** Points the objectives are evaluated at: random, sharp, vertices and argmax candidates. */
function evaluationPoints(rng: Rng, K: number, y: Float64Array): Float64Array[] {
  const points = [randomSimplexPoint(rng, K), randomSimplexPoint(rng, K, 4)];
  const k = rng.integer(0, K - 1);
  const e = new Float64Array(K);
  e[k] = 1;
  points.push(e);
  const m = argmaxIndex(y);
  points.push(argmaxCandidate([m, (m + 1) % K], m, K));
  return points;
}

test("last layer: H and S closed forms (probs, closed-form gram) equal explicit G over 200 random layers", () => {
  const rng = createRng(11);
  for (let trial = 0; trial < 200; trial++) {
    const K = rng.integer(2, 12);
    const hidden = rng.integer(1, 16);
    const layer = {
      K,
      hidden,
      W: randomMatrix(rng, K, hidden, 0.7),
      b: randomMatrix(rng, K, 1, 0.5),
      h: randomMatrix(rng, hidden, 1, 1.3),
    };
    const { G, D, p } = lastLayerJacobian(layer);
    const hSquared = dot(layer.h, layer.h);
    const y = randomSimplexPoint(rng, K, trial % 3 === 0 ? 3 : 1);
    const probs: RowJacobian = { kind: "probs", proxyProbs: p };
    const gram: RowJacobian = { kind: "gram", gram: lastLayerGram(p, hSquared) };
    // The closed-form Gram matrix is G Gᵀ.
    const M = gramOf(G, K, D);
    for (let i = 0; i < K * K; i++)
      assert.ok(Math.abs(M[i] - gram.gram[i]) <= 1e-9 * Math.max(1, Math.abs(M[i])), `M[${i}]`);
    for (const ytilde of evaluationPoints(rng, K, y)) {
      const H = explicitAngularObjective(G, D, ytilde, y);
      const S = explicitSurrogateObjective(G, D, ytilde, y);
      assertClose(angularObjective(ytilde, y, probs), H, 1e-9, `H probs (trial ${trial})`);
      assertClose(angularObjective(ytilde, y, gram), H, 1e-9, `H gram (trial ${trial})`);
      assertClose(hSquared * surrogateObjective(ytilde, y, probs), S, 1e-9, `S probs (trial ${trial})`);
      assertClose(surrogateObjective(ytilde, y, gram), S, 1e-9, `S gram (trial ${trial})`);
    }
  }
});

test("multi-layer G: gram-mode H and S (M = G Gᵀ) equal explicit G over 200 random K x D matrices", () => {
  const rng = createRng(12);
  for (let trial = 0; trial < 200; trial++) {
    const K = rng.integer(2, 12);
    const D = rng.integer(1, 40);
    const G = randomMatrix(rng, K, D);
    const gram: RowJacobian = { kind: "gram", gram: gramOf(G, K, D) };
    const explicit: RowJacobian = { kind: "explicit", G, D };
    const y = randomSimplexPoint(rng, K);
    for (const ytilde of evaluationPoints(rng, K, y)) {
      const H = explicitAngularObjective(G, D, ytilde, y);
      const S = explicitSurrogateObjective(G, D, ytilde, y);
      assertClose(angularObjective(ytilde, y, gram), H, 1e-9, `H gram (trial ${trial})`);
      assertClose(surrogateObjective(ytilde, y, gram), S, 1e-9, `S gram (trial ${trial})`);
      assertClose(angularObjective(ytilde, y, explicit), H, 1e-9, `H explicit (trial ${trial})`);
    }
  }
});

test("identity: H and S equal explicit G = I", () => {
  const rng = createRng(13);
  for (let trial = 0; trial < 100; trial++) {
    const K = rng.integer(2, 12);
    const I = new Float64Array(K * K);
    for (let i = 0; i < K; i++) I[i * K + i] = 1;
    const y = randomSimplexPoint(rng, K);
    for (const ytilde of evaluationPoints(rng, K, y)) {
      assertClose(angularObjective(ytilde, y, { kind: "identity" }), explicitAngularObjective(I, K, ytilde, y), 1e-9, "H");
      assertClose(surrogateObjective(ytilde, y, { kind: "identity" }), explicitSurrogateObjective(I, K, ytilde, y), 1e-9, "S");
    }
  }
});

test("oracles choose the same target from closed forms as from explicit G", () => {
  const rng = createRng(14);
  for (let trial = 0; trial < 150; trial++) {
    const K = rng.integer(2, 8);
    const hidden = rng.integer(1, 6);
    const layer = { K, hidden, W: randomMatrix(rng, K, hidden), b: randomMatrix(rng, K, 1), h: randomMatrix(rng, hidden, 1) };
    const { G, D, p } = lastLayerJacobian(layer);
    const y = randomSimplexPoint(rng, K, 2);
    for (const objective of ["angular", "surrogate"] as const) {
      for (const oracle of [extremeOracle, argmaxOracle]) {
        const closed = oracle(y, objective, { kind: "probs", proxyProbs: p });
        const explicit = oracle(y, objective, { kind: "explicit", G, D });
        if (isNearTie(explicit)) continue; // a genuine tie: rounding may pick either
        assert.equal(Array.from(closed.target), Array.from(explicit.target), `${oracle.name} ${objective} trial ${trial}`);
      }
    }
    // With S, the extreme vertex is the one farthest from y: e at argmin y.
    const extremeS = extremeOracle(y, "surrogate", { kind: "probs", proxyProbs: p });
    let argmin = 0;
    for (let i = 1; i < K; i++) if (y[i] < y[argmin]) argmin = i;
    assert.is(argmaxIndex(extremeS.target), argmin);
  }
});

test("argmax oracle keeps the top-1 label; greedy (K > limit) scores no better than exhaustive", () => {
  const rng = createRng(15);
  for (let trial = 0; trial < 60; trial++) {
    const K = rng.integer(3, 11);
    const y = randomSimplexPoint(rng, K, 2);
    const jacobian: RowJacobian = { kind: "probs", proxyProbs: randomSimplexPoint(rng, K, 2) };
    const exact = argmaxOracle(y, "angular", jacobian);
    const greedy = argmaxOracle(y, "angular", jacobian, 2);
    assert.is(argmaxIndex(exact.target), argmaxIndex(y));
    assert.is(argmaxIndex(greedy.target), argmaxIndex(y));
    assert.ok(greedy.best <= exact.best + 1e-12, `greedy ${greedy.best} > exact ${exact.best}`);
  }
});

test("degenerate inputs give defined outputs: p = y, one-hot y, uniform y, K = 2, epsilon = 0", () => {
  const rng = createRng(16);
  const cases: Array<[Float64Array, RowJacobian]> = [];
  const y = randomSimplexPoint(rng, 5);
  cases.push([y, { kind: "probs", proxyProbs: Float64Array.from(y) }]);
  cases.push([Float64Array.from([0, 0, 1, 0]), { kind: "probs", proxyProbs: Float64Array.from([0, 0, 1, 0]) }]);
  cases.push([Float64Array.from([0.25, 0.25, 0.25, 0.25]), { kind: "probs", proxyProbs: randomSimplexPoint(rng, 4) }]);
  cases.push([Float64Array.from([0.3, 0.7]), { kind: "identity" }]);
  cases.push([Float64Array.from([0.3, 0.7]), { kind: "gram", gram: new Float64Array(4) }]);
  for (const [y, jacobian] of cases)
    for (const oracle of ["extreme", "argmax", "argmin", "random"] as OracleName[])
      for (const objective of ["angular", "surrogate"] as ObjectiveName[])
        for (const distance of ["l1", "l2", "kl"] as DistanceName[])
          for (const epsilon of [0, 0.3, 3]) {
            const r = referencePerturb(y, { oracle, objective, distance, epsilon }, jacobian);
            assert.ok(r.output.every(Number.isFinite), `NaN for ${oracle} ${objective} ${distance} ${epsilon}`);
            if (epsilon === 0) assert.equal(Array.from(r.output), Array.from(y));
          }
});

test("projectOntoSimplex satisfies its optimality conditions", () => {
  const rng = createRng(17);
  for (let trial = 0; trial < 500; trial++) {
    const K = rng.integer(1, 15);
    const v = randomMatrix(rng, K, 1, trial % 2 ? 3 : 0.3);
    const x = projectOntoSimplex(v);
    let total = 0;
    for (const xi of x) (total += xi), assert.ok(xi >= 0);
    assert.ok(Math.abs(total - 1) <= 1e-12, `sum ${total}`);
    // x = max(v − θ, 0): the positive entries share one shift θ, the zero entries lie at or below it.
    const positive = Array.from(x.keys()).filter((i) => x[i] > 0);
    const theta = v[positive[0]] - x[positive[0]];
    for (let i = 0; i < K; i++) {
      if (x[i] > 0) assert.ok(Math.abs(v[i] - x[i] - theta) <= 1e-12);
      else assert.ok(v[i] <= theta + 1e-12);
    }
  }
});

/** Variational inequality of a Euclidean projection: (v − x)·(z − x) <= 0 for every feasible z. */
function assertIsProjection(v: Float64Array, x: Float64Array, feasible: Float64Array[], what: string) {
  for (const z of feasible) {
    let s = 0;
    for (let i = 0; i < v.length; i++) s += (v[i] - x[i]) * (z[i] - x[i]);
    assert.ok(s <= 1e-10, `${what}: (v − x)·(z − x) = ${s}`);
  }
}

test("projectOntoL1Ball and projectOntoL2Ball land in the ball and are Euclidean projections", () => {
  const rng = createRng(18);
  for (let trial = 0; trial < 300; trial++) {
    const K = rng.integer(1, 10);
    const center = randomMatrix(rng, K, 1);
    const v = randomMatrix(rng, K, 1, 2);
    const r = rng.uniform() * 3;
    for (const [project, dist, name] of [
      [projectOntoL1Ball, l1Distance, "l1"],
      [projectOntoL2Ball, l2Distance, "l2"],
    ] as const) {
      const x = project(v, center, r);
      assert.ok(dist(x, center) <= r * (1 + 1e-12) + 1e-12, `${name} outside`);
      if (dist(v, center) <= r) assert.equal(Array.from(x), Array.from(v));
      const feasible = Array.from({ length: 30 }, () => project(randomMatrix(rng, K, 1, 3), center, r));
      assertIsProjection(v, x, feasible, name);
    }
  }
});

test("line search: L1/L2 closed-form alpha, KL root within 1e-13 in alpha", () => {
  const rng = createRng(19);
  for (let trial = 0; trial < 300; trial++) {
    const K = rng.integer(2, 10);
    const y = randomSimplexPoint(rng, K, 2);
    const target = new Float64Array(K);
    target[rng.integer(0, K - 1)] = 1;
    const epsilon = rng.uniform() * 2.5;
    for (const distance of ["l1", "l2"] as const) {
      const d = distance === "l1" ? l1Distance(y, target) : l2Distance(y, target);
      const alpha = Math.min(1, epsilon / (d + 1e-7));
      assertClose(lineSearchAlpha(y, target, distance, epsilon), alpha, 1e-15, distance);
      const out = lineSearch(y, target, distance, epsilon);
      assert.ok((distance === "l1" ? l1Distance(out, y) : l2Distance(out, y)) <= epsilon + 1e-12);
    }
    const alpha = lineSearchAlpha(y, target, "kl", epsilon);
    const kl = (a: number) => klDivergence(y, lineSearch(y, target, "kl", 0).map((v, i) => (1 - a) * v + a * target[i]));
    assert.ok(kl(alpha) <= epsilon, "KL root infeasible");
    if (alpha < 1) assert.ok(kl(alpha + 2e-13) > epsilon - 1e-12, `KL root not tight: ${kl(alpha + 2e-13)} vs ${epsilon}`);
  }
});

test("klAlongSegment equals KL(y ‖ ỹ(α)) evaluated directly (rel 1e-9), also off the support of y", () => {
  const rng = createRng(22);
  for (let trial = 0; trial < 2000; trial++) {
    const K = rng.integer(2, 8);
    const y = randomSimplexPoint(rng, K, 3);
    if (trial % 3 === 0) {
      y[rng.integer(0, K - 1)] = 0;
      const total = y.reduce((a, b) => a + b, 0);
      for (let i = 0; i < K; i++) y[i] /= total;
    }
    const target = randomSimplexPoint(rng, K, 3);
    const alpha = rng.uniform() * 0.999;
    const direct = klDivergence(y, interpolate(y, target, alpha));
    if (direct > 1e-6) assertClose(klAlongSegment(y, target, alpha), direct, 1e-9, "KL");
  }
  // Tiny α: the series gives KL ≈ α²·χ²/2 (χ² = Σ (t_i − y_i)²/y_i = 1 here) where the direct sum is rounding noise.
  assertClose(klAlongSegment([0.5, 0.5], [1, 0], 1e-12), 5e-25, 1e-9, "KL small");
});

interface GoldenCase {
  k: number;
  probs: number[];
  proxyProbs: number[];
  oracle: OracleName;
  objective: ObjectiveName;
  distance: DistanceName;
  epsilon: number;
  expected: number[];
  expectedTarget: number[];
}

const golden: GoldenCase[] = readFileSync(new URL("../fixtures/mad-reference.jsonl", import.meta.url), "utf8")
  .trim()
  .split("\n")
  .map((line) => JSON.parse(line));

test("golden vectors: all 240 cases of the public reference (L1 <= 1e-4; KL <= 1e-3)", () => {
  assert.is(golden.length, 240);
  for (const [index, c] of golden.entries()) {
    const { output, target } = referencePerturb(
      c.probs,
      { oracle: c.oracle, objective: c.objective, distance: c.distance, epsilon: c.epsilon },
      { kind: "probs", proxyProbs: c.proxyProbs },
    );
    const what = `case ${index} (${c.oracle} ${c.objective} ${c.distance} K=${c.k} eps=${c.epsilon})`;
    assert.ok(l1Distance(target, c.expectedTarget) <= 1e-4, `${what}: target`);
    const tolerance = c.distance === "kl" ? 1e-3 : 1e-4;
    assert.ok(l1Distance(output, c.expected) <= tolerance, `${what}: L1 error ${l1Distance(output, c.expected)}`);
  }
});

test("reachable step scores at least the heuristic's H; projections stay on the simplex and in the ball", () => {
  const rng = createRng(21);
  for (let trial = 0; trial < 200; trial++) {
    const K = rng.integer(2, 9);
    const y = randomSimplexPoint(rng, K, 2);
    const jacobian: RowJacobian = { kind: "probs", proxyProbs: randomSimplexPoint(rng, K, 2) };
    const epsilon = rng.uniform() * 2.5;
    for (const oracle of ["extreme", "argmax"] as const)
      for (const distance of ["l1", "l2", "kl"] as const) {
        const options = { oracle, objective: "angular", distance, epsilon } as const;
        const heuristic = referencePerturb(y, options, jacobian).output;
        const reachable = referencePerturb(y, { ...options, step: "reachable" }, jacobian).output;
        const H = (x: Float64Array) => angularObjective(x, y, jacobian);
        assert.ok(H(reachable) >= H(heuristic) - 1e-12, `${oracle} ${distance}: ${H(reachable)} < ${H(heuristic)}`);
        if (distance === "kl") continue;
        const projected = referencePerturb(y, { ...options, step: "projections" }, jacobian).output;
        assert.ok(projected.every((v) => v >= 0));
        assert.ok(Math.abs(projected.reduce((a, b) => a + b, 0) - 1) <= 1e-12);
        const dist = distance === "l1" ? l1Distance(projected, y) : l2Distance(projected, y);
        assert.ok(dist <= epsilon * (1 + 1e-12), `projections outside the ball: ${dist} > ${epsilon}`);
        if (oracle === "argmax") assert.is(argmaxIndex(projected), argmaxIndex(y));
      }
  }
});

test("referencePerturbBatch equals row-by-row referencePerturb for every Jacobian kind", () => {
  const rng = createRng(20);
  const K = 6;
  const B = 7;
  const probs = new Float64Array(B * K);
  const proxy = new Float64Array(B * K);
  const gram = new Float64Array(B * K * K);
  for (let row = 0; row < B; row++) {
    probs.set(randomSimplexPoint(rng, K), row * K);
    proxy.set(randomSimplexPoint(rng, K), row * K);
    gram.set(gramOf(randomMatrix(rng, K, 9), K, 9), row * K * K);
  }
  const options = { oracle: "argmax", objective: "angular", distance: "l2", epsilon: 0.4 } as const;
  for (const jacobian of [{ kind: "probs", proxyProbs: proxy }, { kind: "gram", gram }, { kind: "identity" }] as const) {
    const batch = referencePerturbBatch(probs, K, options, jacobian);
    for (let row = 0; row < B; row++) {
      const single = referencePerturb(probs.subarray(row * K, (row + 1) * K), options, rowJacobian(jacobian, row, K));
      assert.equal(Array.from(batch.probs.subarray(row * K, (row + 1) * K)), Array.from(single.output));
    }
  }
});

test.run();
