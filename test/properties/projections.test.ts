// Property tests: the core's projections (simplex, L1 ball, L2 ball) and its `projections` step
// against the float64 reference.
import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { loadCore } from "../../src/core/index.js";
import {
  l1Distance,
  l2Distance,
  projectOntoL1Ball,
  projectOntoL2Ball,
  projectOntoSimplex,
} from "../reference/mad.js";
import {
  assertKeepsTop1,
  assertMatchesReference,
  assertValidOutput,
  epsilonArbitrary,
  gramMatrix,
  jacobianPair,
  objectives,
  uniformDouble,
  victimAndProxy,
  type OracleName,
  type ReferenceOptions,
} from "./arbitraries.js";

const core = await loadCore();
const SEED = 20200202;

/** Mostly uniform entries; some from fc.double (crowded near 0, with exact 0s and repeats: ties). */
const vector = (K: number, bound: number) =>
  fc.array(fc.oneof({ weight: 4, arbitrary: uniformDouble(-bound, bound) }, fc.double({ min: -bound, max: bound, noNaN: true })), {
    minLength: K,
    maxLength: K,
  });

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

test("projectOntoSimplex equals the reference (3000 vectors, K = 1..64)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 64 }).chain((K) => vector(K, 5)),
      (v) => {
        const out = core.projectOntoSimplex(Float64Array.from(v));
        assert.ok(out instanceof Float64Array);
        assert.ok(maxAbsDiff(out, projectOntoSimplex(v)) <= 1e-12, `${JSON.stringify(v)} -> ${JSON.stringify(Array.from(out))}`);
      },
    ),
    { numRuns: 3000, seed: SEED, includeErrorInReport: true },
  );
});

test("projectOntoL1Ball and projectOntoL2Ball equal the reference (3000 cases each)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 32 }).chain((K) =>
        fc.tuple(vector(K, 3), vector(K, 3), fc.oneof(uniformDouble(0, 4), fc.double({ min: 0, max: 4, noNaN: true }), fc.constant(0))),
      ),
      ([v, center, r]) => {
        const l1 = core.projectOntoL1Ball(Float64Array.from(v), Float64Array.from(center), r);
        const l2 = core.projectOntoL2Ball(Float64Array.from(v), Float64Array.from(center), r);
        assert.ok(maxAbsDiff(l1, projectOntoL1Ball(v, center, r)) <= 1e-12, `L1: ${JSON.stringify({ v, center, r })}`);
        assert.ok(maxAbsDiff(l2, projectOntoL2Ball(v, center, r)) <= 1e-12, `L2: ${JSON.stringify({ v, center, r })}`);
        assert.ok(l1Distance(l1, center) <= r * (1 + 1e-12) + 1e-12);
        assert.ok(l2Distance(l2, center) <= r * (1 + 1e-12) + 1e-12);
      },
    ),
    { numRuns: 3000, seed: SEED + 1, includeErrorInReport: true },
  );
});

test("projections step (L1, L2): valid outputs equal to the reference; argmax keeps top-1 (3000 cases)", () => {
  let nearTies = 0;
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 12 }).chain((K) =>
        fc.record({
          K: fc.constant(K),
          rows: victimAndProxy(K),
          gram: gramMatrix(K),
          jacobianKind: fc.constantFrom("probs", "probs", "gram", "identity") as fc.Arbitrary<"probs" | "gram" | "identity">,
          oracle: fc.constantFrom("extreme", "argmax", "argmin") as fc.Arbitrary<OracleName>,
          objective: fc.constantFrom(...objectives),
          distance: fc.constantFrom("l1", "l2") as fc.Arbitrary<"l1" | "l2">,
          epsilon: epsilonArbitrary,
        }),
      ),
      (c) => {
        const options: ReferenceOptions = {
          oracle: c.oracle,
          objective: c.objective,
          distance: c.distance,
          epsilon: c.epsilon,
          step: "projections",
        };
        const jacobian = jacobianPair(c.jacobianKind, c.rows.p, c.gram);
        const { probs, targets } = core
          .createPerturber({ ...options, step: "projections" })
          .perturbWithTargets(Float64Array.from(c.rows.y), c.K, jacobian.core);
        assertValidOutput(probs, c.rows.y, options);
        if (c.oracle === "argmax") assertKeepsTop1(probs, c.rows.y, c.epsilon);
        if (assertMatchesReference(probs, targets, c.rows.y, options, jacobian.reference).nearTie) nearTies++;
      },
    ),
    { numRuns: 3000, seed: SEED + 2, includeErrorInReport: true },
  );
  assert.ok(nearTies < 1500, `too many near ties: ${nearTies}`);
});

test("projections with the KL distance are rejected with a CoreInputError naming the step", () => {
  assert.throws(
    () => core.createPerturber({ oracle: "extreme", objective: "angular", distance: "kl", epsilon: 0.1, step: "projections" }),
    (error: any) => error?.name === "CoreInputError" && error.field === "step",
  );
});

test.run();
