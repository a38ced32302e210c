// Property tests: the WASM core's MAD with the default line-search step against the float64
// reference, on thousands of random rows (extreme, argmax, argmin x H, S x L1, L2, KL x probs, gram, identity).
import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { loadCore } from "../../src/core/index.js";
import {
  assertKeepsTop1,
  assertMatchesReference,
  assertValidOutput,
  distances,
  epsilonArbitrary,
  gramMatrix,
  jacobianPair,
  objectives,
  victimAndProxy,
  type OracleName,
  type ReferenceOptions,
} from "./arbitraries.js";

const core = await loadCore();
const SEED = 20200101;

/** One random case: K, y, p, Gram matrix, epsilon and the options to run. */
function caseArbitrary(oracles: OracleName[], minK: number, maxK: number) {
  return fc.integer({ min: minK, max: maxK }).chain((K) =>
    fc.record({
      K: fc.constant(K),
      rows: victimAndProxy(K),
      gram: gramMatrix(K),
      jacobianKind: fc.constantFrom("probs", "probs", "gram", "identity") as fc.Arbitrary<"probs" | "gram" | "identity">,
      oracle: fc.constantFrom(...oracles),
      objective: fc.constantFrom(...objectives),
      distance: fc.constantFrom(...distances),
      epsilon: epsilonArbitrary,
    }),
  );
}

function checkCase(c: {
  K: number;
  rows: { y: number[]; p: number[] };
  gram: number[];
  jacobianKind: "probs" | "gram" | "identity";
  oracle: OracleName;
  objective: "angular" | "surrogate";
  distance: "l1" | "l2" | "kl";
  epsilon: number;
}) {
  const options: ReferenceOptions = { oracle: c.oracle, objective: c.objective, distance: c.distance, epsilon: c.epsilon };
  const jacobian = jacobianPair(c.jacobianKind, c.rows.p, c.gram);
  const perturber = core.createPerturber({ ...options, step: "linesearch" });
  const y = Float64Array.from(c.rows.y);
  const { probs, targets } = perturber.perturbWithTargets(y, c.K, jacobian.core);
  assert.ok(probs instanceof Float64Array, "Float64Array in, Float64Array out");
  assert.equal(Array.from(y), c.rows.y, "the input is not mutated");
  assertValidOutput(probs, c.rows.y, options);
  if (c.oracle === "argmax") assertKeepsTop1(probs, c.rows.y, c.epsilon);
  if (c.epsilon === 0) assert.equal(Array.from(probs), c.rows.y, "epsilon = 0 returns y");
  return assertMatchesReference(probs, targets, c.rows.y, options, jacobian.reference);
}

test("extreme and argmin, K = 2..40: valid outputs equal to the reference (2000 cases)", () => {
  let nearTies = 0;
  fc.assert(
    fc.property(caseArbitrary(["extreme", "argmin"], 2, 40), (c) => {
      if (checkCase(c).nearTie) nearTies++;
    }),
    { numRuns: 2000, seed: SEED, includeErrorInReport: true },
  );
  assert.ok(nearTies < 1000, `too many near ties to be a real comparison: ${nearTies}`);
});

test("argmax (exact enumeration), K = 2..12: valid, keeps top-1 strictly, equal to the reference (2000 cases)", () => {
  let nearTies = 0;
  fc.assert(
    fc.property(caseArbitrary(["argmax"], 2, 12), (c) => {
      if (checkCase(c).nearTie) nearTies++;
    }),
    { numRuns: 2000, seed: SEED + 1, includeErrorInReport: true },
  );
  assert.ok(nearTies < 1000, `too many near ties to be a real comparison: ${nearTies}`);
});

test("argmax greedy beyond the exact limit (K = 21..40): valid, keeps top-1, equal to the reference (60 cases)", () => {
  fc.assert(
    fc.property(caseArbitrary(["argmax"], 21, 40), (c) => {
      checkCase(c);
    }),
    { numRuns: 60, seed: SEED + 2, includeErrorInReport: true },
  );
});

test("argmax at the exact limit K = 20 (2^19 subsets): equal to the reference", () => {
  fc.assert(
    fc.property(caseArbitrary(["argmax"], 20, 20), (c) => {
      checkCase(c);
    }),
    { numRuns: 3, seed: SEED + 4, includeErrorInReport: true },
  );
});

test("singular Gram matrices (rank < K): valid outputs, argmax keeps top-1, never NaN (1000 cases)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 10 }).chain((K) =>
        fc.record({
          K: fc.constant(K),
          y: victimAndProxy(K).map((r) => r.y),
          gram: gramMatrix(K, true),
          oracle: fc.constantFrom("extreme", "argmax", "argmin") as fc.Arbitrary<OracleName>,
          objective: fc.constantFrom(...objectives),
          distance: fc.constantFrom(...distances),
          epsilon: epsilonArbitrary,
        }),
      ),
      (c) => {
        const options: ReferenceOptions = { oracle: c.oracle, objective: c.objective, distance: c.distance, epsilon: c.epsilon };
        const probs = core
          .createPerturber(options)
          .perturb(Float64Array.from(c.y), c.K, { kind: "gram", gram: Float64Array.from(c.gram) });
        assertValidOutput(probs, c.y, options);
        if (c.oracle === "argmax") assertKeepsTop1(probs, c.y, c.epsilon);
      },
    ),
    { numRuns: 1000, seed: SEED + 3, includeErrorInReport: true },
  );
});

test("tiny epsilon (1e-17 down to the smallest double): valid outputs that stay at y", () => {
  const rows = [
    { y: [0.2, 0.3, 0.5], p: [0.6, 0.3, 0.1] },
    { y: [1 / 7, 1 / 7, 1 / 7, 1 / 7, 1 / 7, 1 / 7, 1 / 7], p: [1 / 7, 1 / 7, 1 / 7, 1 / 7, 1 / 7, 1 / 7, 1 / 7] },
    { y: [0.125, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125, 0], p: [0.5, 0.5, 0, 0, 0, 0, 0, 0, 0] },
  ];
  for (const { y, p } of rows)
    for (const oracle of ["extreme", "argmax", "argmin", "random"] as OracleName[])
      for (const objective of objectives)
        for (const distance of distances)
          for (const step of ["linesearch", "projections", "reachable"] as const)
            for (const epsilon of [1e-17, 1e-100, 1e-300, 5e-324]) {
              if (step === "projections" && distance === "kl") continue;
              const options: ReferenceOptions = { oracle, objective, distance, epsilon, step };
              const out = core.createPerturber(options).perturb(Float64Array.from(y), y.length, { kind: "probs", proxyProbs: Float64Array.from(p) });
              assertValidOutput(out, y, options);
              // The exact answer moves y by O(sqrt(ε)) at most (KL), by ε (L1, L2).
              const bound = distance === "kl" ? 4 * Math.sqrt(2 * epsilon * y.length) + 1e-15 : 2 * epsilon + 1e-15;
              const moved = out.reduce((a, v, i) => a + Math.abs(v - y[i]), 0);
              assert.ok(moved <= bound, `${oracle}/${objective}/${distance}/${step} eps=${epsilon}: moved ${moved} > ${bound}`);
            }
});

test("K = 2 and K = 3 exhaustively over the objective/distance/oracle grid with degenerate rows", () => {
  const rows: Array<{ y: number[]; p: number[] }> = [
    { y: [0.5, 0.5], p: [0.5, 0.5] },
    { y: [1, 0], p: [0, 1] },
    { y: [0.3, 0.7], p: [0.3, 0.7] },
    { y: [1 / 3, 1 / 3, 1 / 3], p: [0.2, 0.3, 0.5] },
    { y: [0, 0, 1], p: [0, 0, 1] },
    { y: [0, 1, 0], p: [1, 0, 0] },
  ];
  for (const { y, p } of rows)
    for (const oracle of ["extreme", "argmax", "argmin"] as OracleName[])
      for (const objective of objectives)
        for (const distance of distances)
          for (const epsilon of [0, 0.05, 0.5, 1.9, 2, 2.5])
            for (const jacobianKind of ["probs", "identity"] as const)
              checkCase({ K: y.length, rows: { y, p }, gram: [], jacobianKind, oracle, objective, distance, epsilon });
});

test.run();
