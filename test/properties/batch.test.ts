// Property tests: batches equal row-by-row calls, Float32Array in gives Float32Array out, the random
// oracle is valid and reproducible, the opt-in `reachable` step beats the heuristic's H, and bad rows
// are reported by row and field.
import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { loadCore, CoreInputError } from "../../src/core/index.js";
import { argmaxIndex, type RowJacobian } from "../reference/mad.js";
import {
  assertKeepsTop1,
  assertMatchesReference,
  assertValidOutput,
  distances,
  epsilonArbitrary,
  objectives,
  rowObjective,
  simplexPoint,
  victimAndProxy,
  type OracleName,
  type ReferenceOptions,
} from "./arbitraries.js";

const core = await loadCore();
const SEED = 20200303;
const allOracles: OracleName[] = ["extreme", "argmax", "random", "argmin"];

const batchArbitrary = (maxK: number, maxB: number) =>
  fc.integer({ min: 2, max: maxK }).chain((K) =>
    fc.record({
      K: fc.constant(K),
      rows: fc.array(victimAndProxy(K), { minLength: 1, maxLength: maxB }),
      oracle: fc.constantFrom(...allOracles),
      objective: fc.constantFrom(...objectives),
      distance: fc.constantFrom(...distances),
      step: fc.constantFrom("linesearch", "projections", "reachable") as fc.Arbitrary<"linesearch" | "projections" | "reachable">,
      epsilon: epsilonArbitrary,
      seed: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
    }),
  ).filter((c) => !(c.step === "projections" && c.distance === "kl"));

function flatten(rows: number[][]): Float64Array {
  return Float64Array.from(rows.flat());
}

test("a batch equals the same rows perturbed one by one on a fresh perturber (800 batches)", () => {
  fc.assert(
    fc.property(batchArbitrary(10, 12), (c) => {
      const options = { oracle: c.oracle, objective: c.objective, distance: c.distance, epsilon: c.epsilon, step: c.step, seed: c.seed };
      const probs = flatten(c.rows.map((r) => r.y));
      const jacobian = { kind: "probs" as const, proxyProbs: flatten(c.rows.map((r) => r.p)) };
      const batch = core.createPerturber(options).perturb(probs, c.K, jacobian);
      const single = core.createPerturber(options);
      for (let row = 0; row < c.rows.length; row++) {
        const one = single.perturb(probs.slice(row * c.K, (row + 1) * c.K), c.K, {
          kind: "probs",
          proxyProbs: jacobian.proxyProbs.slice(row * c.K, (row + 1) * c.K),
        });
        assert.equal(Array.from(batch.subarray(row * c.K, (row + 1) * c.K)), Array.from(one), `row ${row}`);
      }
    }),
    { numRuns: 800, seed: SEED, includeErrorInReport: true },
  );
});

test("Float32Array in gives Float32Array out: the float64 answer rounded, valid within float32 slack (1500 cases)", () => {
  fc.assert(
    fc.property(batchArbitrary(12, 4), (c) => {
      const options = { oracle: c.oracle, objective: c.objective, distance: c.distance, epsilon: c.epsilon, step: c.step, seed: c.seed };
      const probs32 = Float32Array.from(c.rows.flatMap((r) => r.y));
      const proxy32 = Float32Array.from(c.rows.flatMap((r) => r.p));
      // Rows that float32 rounding pushed off the simplex by more than 1e-3 cannot occur for K <= 12.
      const out32 = core.createPerturber(options).perturb(probs32, c.K, { kind: "probs", proxyProbs: proxy32 });
      assert.ok(out32 instanceof Float32Array, "Float32Array out");
      const out64 = core
        .createPerturber(options)
        .perturb(Float64Array.from(probs32), c.K, { kind: "probs", proxyProbs: Float64Array.from(proxy32) });
      const slack = c.K * 2 ** -24;
      for (let row = 0; row < c.rows.length; row++) {
        const y = Array.from(probs32.subarray(row * c.K, (row + 1) * c.K));
        const total = y.reduce((a, b) => a + b, 0);
        const yNormalised = y.map((v) => v / total);
        const out = out32.subarray(row * c.K, (row + 1) * c.K);
        if (c.epsilon === 0) {
          assert.equal(Array.from(out), y, "epsilon = 0 returns the input as given");
          continue;
        }
        assertValidOutput(out, yNormalised, options, slack);
        if (c.oracle === "argmax") assertKeepsTop1(out, yNormalised, c.epsilon);
        for (let i = 0; i < c.K; i++) {
          const wide = out64[row * c.K + i];
          // Rounding (half an ulp) plus, for argmax, the documented one-ulp raise of ỹ_m after conversion.
          assert.ok(Math.abs(out[i] - wide) <= 2 ** -22 * Math.max(Math.abs(wide), 2 ** -126), `entry ${i}: ${out[i]} vs ${wide}`);
        }
      }
    }),
    { numRuns: 1500, seed: SEED + 1, includeErrorInReport: true },
  );
});

test("random oracle: valid, reproducible for a seed, equal to the reference's counter-based draw (1000 batches)", () => {
  fc.assert(
    fc.property(batchArbitrary(12, 6), (c) => {
      const options = { oracle: "random" as const, objective: c.objective, distance: c.distance, epsilon: c.epsilon, step: c.step, seed: c.seed };
      const probs = flatten(c.rows.map((r) => r.y));
      const jacobian = { kind: "probs" as const, proxyProbs: flatten(c.rows.map((r) => r.p)) };
      const first = core.createPerturber(options).perturbWithTargets(probs, c.K, jacobian);
      const again = core.createPerturber(options).perturbWithTargets(probs, c.K, jacobian);
      assert.equal(Array.from(first.probs), Array.from(again.probs), "same seed, same answer");
      for (let row = 0; row < c.rows.length; row++) {
        const { y, p } = c.rows[row];
        const target = first.targets.subarray(row * c.K, (row + 1) * c.K);
        const out = first.probs.subarray(row * c.K, (row + 1) * c.K);
        assertValidOutput(out, y, options);
        assertMatchesReference(out, target, y, options, { kind: "probs", proxyProbs: p }, 1e-6, row);
      }
    }),
    { numRuns: 1000, seed: SEED + 2, includeErrorInReport: true },
  );
});

test("random oracle: targets spread over all classes for a long batch", () => {
  const K = 5;
  const B = 5000;
  const y = new Float64Array(B * K).fill(1 / K);
  const { targets } = core
    .createPerturber({ oracle: "random", objective: "angular", distance: "l1", epsilon: 0.5, seed: 7 })
    .perturbWithTargets(y, K);
  const counts = new Array(K).fill(0);
  for (let row = 0; row < B; row++) counts[argmaxIndex(targets.subarray(row * K, (row + 1) * K))]++;
  for (const n of counts) assert.ok(Math.abs(n - B / K) < 5 * Math.sqrt(B / K), `counts ${counts}`);
});

test("reachable step: H >= the heuristic's H at the same epsilon, and equal to the reference (1200 cases)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 12 }).chain((K) =>
        fc.record({
          K: fc.constant(K),
          rows: victimAndProxy(K),
          oracle: fc.constantFrom("extreme", "argmax") as fc.Arbitrary<OracleName>,
          distance: fc.constantFrom(...distances),
          epsilon: epsilonArbitrary,
        }),
      ),
      (c) => {
        const base = { oracle: c.oracle, objective: "angular" as const, distance: c.distance, epsilon: c.epsilon };
        const jacobian = { kind: "probs" as const, proxyProbs: Float64Array.from(c.rows.p) };
        const reference: RowJacobian = { kind: "probs", proxyProbs: c.rows.p };
        const y = Float64Array.from(c.rows.y);
        const heuristic = core.createPerturber({ ...base, step: "linesearch" }).perturb(y, c.K, jacobian);
        const better = core.createPerturber({ ...base, step: "reachable" }).perturbWithTargets(y, c.K, jacobian);
        const options: ReferenceOptions = { ...base, step: "reachable" };
        assertValidOutput(better.probs, c.rows.y, options);
        if (c.oracle === "argmax") assertKeepsTop1(better.probs, c.rows.y, c.epsilon);
        // H with the core's conventions (S when p = y; a vanishing ã scores its limit, H = 0).
        const H = rowObjective("angular", c.rows.y, reference);
        assert.ok(H(better.probs) >= H(heuristic) - 1e-9, `reachable H ${H(better.probs)} < heuristic H ${H(heuristic)}`);
        assertMatchesReference(better.probs, better.targets, c.rows.y, options, reference);
      },
    ),
    { numRuns: 1200, seed: SEED + 3, includeErrorInReport: true },
  );
});

test("a bad row raises a CoreInputError naming that row and field (500 batches)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 8 }).chain((K) =>
        fc.record({
          K: fc.constant(K),
          rows: fc.array(simplexPoint(K), { minLength: 1, maxLength: 6 }),
          badRow: fc.nat(),
          badIndex: fc.nat(),
          field: fc.constantFrom("probs", "proxyProbs"),
          value: fc.constantFrom(NaN, -0.5, Infinity, 3),
        }),
      ),
      (c) => {
        const row = c.badRow % c.rows.length;
        const probs = flatten(c.rows);
        const proxyProbs = flatten(c.rows);
        (c.field === "probs" ? probs : proxyProbs)[row * c.K + (c.badIndex % c.K)] = c.value;
        const perturber = core.createPerturber({ oracle: "extreme", objective: "angular", distance: "l1", epsilon: 0.3 });
        let caught: unknown = null;
        try {
          perturber.perturb(probs, c.K, { kind: "probs", proxyProbs });
        } catch (error) {
          caught = error;
        }
        assert.ok(caught instanceof CoreInputError, `expected a CoreInputError, got ${caught}`);
        assert.is((caught as CoreInputError).row, row);
        assert.is((caught as CoreInputError).field, c.field);
      },
    ),
    { numRuns: 500, seed: SEED + 4, includeErrorInReport: true },
  );
});

test.run();
