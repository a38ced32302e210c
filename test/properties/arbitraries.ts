// fast-check generators and shared checks for the property tests of the WASM core against the
// float64 reference (test/reference/mad.ts).
import fc from "fast-check";
import * as assert from "uvu/assert";
import {
  argmaxIndex,
  distance,
  isNearTie,
  l1Distance,
  lineSearch,
  referencePerturb,
  stepTowards,
  objectiveFor,
  type DistanceName,
  type ObjectiveName,
  type OracleName,
  type ReferenceOptions,
  type RowJacobian,
  type StepName,
} from "../reference/mad.js";

/**
 * A double uniform in [min, max]. (fc.double draws uniformly over representable doubles, which
 * crowd near 0: logits would almost all be ~0 and every point would be uniform.)
 */
export function uniformDouble(min: number, max: number): fc.Arbitrary<number> {
  return fc.integer({ min: 0, max: 2 ** 30 }).map((i) => min + ((max - min) * i) / 2 ** 30);
}

/** A double whose logarithm is uniform in [log min, log max]. */
export function logUniformDouble(min: number, max: number): fc.Arbitrary<number> {
  return uniformDouble(Math.log(min), Math.log(max)).map(Math.exp);
}

/** Normalise in float64 so that rows sum to 1 up to rounding. */
function normalise(values: number[]): number[] {
  const total = values.reduce((a, b) => a + b, 0);
  return values.map((v) => v / total);
}

function softmax(z: number[], temperature: number): number[] {
  const max = Math.max(...z.map((v) => v * temperature));
  return normalise(z.map((v) => Math.exp(v * temperature - max)));
}

/**
 * A point on the simplex of dimension K, including the near-degenerate shapes MAD must handle:
 * generic, sharp (one-hot-ish), exactly one-hot, uniform, a tie at the top, and zero entries.
 */
export function simplexPoint(K: number): fc.Arbitrary<number[]> {
  const logits = fc.array(uniformDouble(-3, 3), { minLength: K, maxLength: K });
  const index = fc.integer({ min: 0, max: K - 1 });
  // Unbiased logits for the generic shapes (fast-check's bias repeats values, i.e. produces ties, often).
  const generic = fc.noBias(logits);
  // Shrinking towards 0 makes everything uniform: keep the tie-shaped cases to the explicit branches.
  return fc.oneof(
    { weight: 6, arbitrary: fc.tuple(generic, uniformDouble(0.1, 2)).map(([z, t]) => softmax(z, t)) },
    { weight: 2, arbitrary: fc.tuple(generic, uniformDouble(3, 12)).map(([z, t]) => softmax(z, t)) },
    {
      weight: 1,
      arbitrary: fc.tuple(index, logUniformDouble(1e-9, 1e-3)).map(([k, rest]) =>
        normalise(Array.from({ length: K }, (_, i) => (i === k ? 1 : rest))),
      ),
    },
    { weight: 1, arbitrary: index.map((k) => Array.from({ length: K }, (_, i) => (i === k ? 1 : 0))) },
    { weight: 1, arbitrary: fc.constant(Array.from({ length: K }, () => 1 / K)) },
    {
      weight: 1,
      // Two (or more) classes share the top: argmax must still pick the first one.
      arbitrary: fc.tuple(logits, index, index).map(([z, a, b]) => {
        const copy = [...z];
        copy[b] = copy[a];
        return softmax(copy, 1);
      }),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(logits, fc.array(fc.boolean(), { minLength: K, maxLength: K })).map(([z, zero]) => {
        const p = softmax(z, 1).map((v, i) => (zero[i] ? 0 : v));
        return p.some((v) => v > 0) ? normalise(p) : softmax(z, 1);
      }),
    },
  );
}

/** y and the proxy's p: independent, p = y exactly (a = 0: H falls back to S), or p close to y. */
export function victimAndProxy(K: number): fc.Arbitrary<{ y: number[]; p: number[] }> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ y: simplexPoint(K), p: simplexPoint(K) }) },
    { weight: 1, arbitrary: simplexPoint(K).map((y) => ({ y, p: [...y] })) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(simplexPoint(K), fc.array(logUniformDouble(1e-12, 1e-5), { minLength: K, maxLength: K }))
        .map(([y, noise]) => ({ y, p: normalise(y.map((v, i) => v + noise[i])) })),
    },
  );
}

/**
 * Epsilon: 0 or in [1e-6, 2.5]. For smaller ε the candidates' reachable points differ from y by less
 * than ~1e-6 and the objective values that rank them carry relative rounding of ~1e-17/ε (S, H at a
 * materialised ỹ), so ties cannot be judged; such ε get their own deterministic test (valid, stays at y).
 */
export const epsilonArbitrary = fc.oneof(
  { weight: 6, arbitrary: uniformDouble(0, 2.5).filter((e) => e === 0 || e >= 1e-6) },
  { weight: 2, arbitrary: logUniformDouble(1e-6, 1) },
  { weight: 1, arbitrary: fc.constantFrom(0, 1e-6, 2, 2.5) },
);

export const objectives: ObjectiveName[] = ["angular", "surrogate"];
export const distances: DistanceName[] = ["l1", "l2", "kl"];

/**
 * A random Gram matrix M = G Gᵀ of a multi-layer Jacobian G = [G₁ | √λ I] (K x (D + K)), λ in
 * [0.05, 1]: full rank, as for a real network with D >> K. `singular` draws G₁ alone with D < K: then
 * candidates near the null space of M make H a ratio of cancelling sums that no float64
 * implementation resolves, so only invariants are checked there.
 */
export function gramMatrix(K: number, singular = false): fc.Arbitrary<number[]> {
  const rank = singular ? fc.integer({ min: 1, max: Math.max(1, K - 1) }) : fc.integer({ min: 1, max: K + 4 });
  const ridge = singular ? fc.constant(0) : uniformDouble(0.05, 1);
  return fc.tuple(rank, ridge).chain(([D, lambda]) =>
    fc.array(uniformDouble(-2, 2), { minLength: K * D, maxLength: K * D }).map((G) => {
      const M: number[] = [];
      for (let i = 0; i < K; i++)
        for (let j = 0; j < K; j++) {
          let s = i === j ? lambda : 0;
          for (let d = 0; d < D; d++) s += G[i * D + d] * G[j * D + d];
          M.push(s);
        }
      return M;
    }),
  );
}

export interface CoreLikeJacobian {
  kind: "probs" | "gram" | "identity";
  proxyProbs?: Float64Array;
  gram?: Float64Array;
}

/** The core's Jacobian for one row and the reference's. */
export function jacobianPair(
  kind: "probs" | "gram" | "identity",
  p: number[],
  gram: number[],
): { core: any; reference: RowJacobian } {
  if (kind === "probs") return { core: { kind, proxyProbs: Float64Array.from(p) }, reference: { kind, proxyProbs: p } };
  if (kind === "gram") return { core: { kind, gram: Float64Array.from(gram) }, reference: { kind, gram } };
  return { core: { kind: "identity" }, reference: { kind: "identity" } };
}

// ---------------------------------------------------------------- checks shared by the files

const sum = (x: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s;
};

/** On the simplex, inside the ball, no NaN (CORE_API.md tolerances; `slack` for Float32 outputs). */
export function assertValidOutput(out: ArrayLike<number>, y: ArrayLike<number>, options: ReferenceOptions, slack = 0) {
  for (let i = 0; i < out.length; i++) {
    assert.ok(Number.isFinite(out[i]), `entry ${i} is ${out[i]}`);
    assert.ok(out[i] >= 0, `entry ${i} is negative: ${out[i]}`);
  }
  assert.ok(Math.abs(sum(out) - 1) <= 1e-6 + slack, `sum ${sum(out)}`);
  const dist = distance(options.distance, y, out);
  assert.ok(
    dist <= options.epsilon * (1 + 1e-6) + 1e-9 + slack,
    `${options.distance} distance ${dist} exceeds epsilon ${options.epsilon}`,
  );
}

/** argmax of out is m = first argmax of y, strictly (for epsilon > 0). */
export function assertKeepsTop1(out: ArrayLike<number>, y: ArrayLike<number>, epsilon: number) {
  const m = argmaxIndex(y);
  if (epsilon === 0) return;
  for (let i = 0; i < out.length; i++)
    if (i !== m) assert.ok(out[m] > out[i], `top-1 lost: out[${m}] = ${out[m]} <= out[${i}] = ${out[i]}`);
}

/** The objective the oracle uses for this row, at point x (H falls back to S when a = 0). */
export function rowObjective(objective: ObjectiveName, y: ArrayLike<number>, jacobian: RowJacobian) {
  return objectiveFor(objective, y, jacobian);
}

export interface Comparison {
  /** The reference's best two candidates were within 1e-9 relative: only the core's choice was checked. */
  nearTie: boolean;
}

/**
 * The core's output equals the reference's (L1 <= 1e-6). Near ties (best two candidates within 1e-9
 * relative), either candidate is right: then the core's target must score within 1e-9 of the best,
 * and its output must be the reference step from the core's own target.
 */
export function assertMatchesReference(
  coreOutput: ArrayLike<number>,
  coreTarget: ArrayLike<number>,
  y: number[],
  options: ReferenceOptions,
  jacobian: RowJacobian,
  tolerance = 1e-6,
  rowNumber = 0,
): Comparison {
  const reference = referencePerturb(y, options, jacobian, rowNumber);
  // `reachable` with KL scores each candidate at a bisected α (bracket 1e-13): its scores carry a relative
  // error of about 1e-13/α (α >= ~1e-5 for ε >= 1e-9), so ties are judged more loosely there.
  const tieTolerance = options.step === "reachable" && options.distance === "kl" ? 1e-6 : 1e-9;
  const nearTie = isNearTie(reference.choice, tieTolerance);
  const what = () =>
    `${options.oracle}/${options.objective}/${options.distance}/${options.step ?? "linesearch"} eps=${options.epsilon}\n` +
    `y=${JSON.stringify(y)}\njacobian=${JSON.stringify(jacobian)}\n` +
    `core=${JSON.stringify(Array.from(coreOutput))}\nreference=${JSON.stringify(Array.from(reference.output))}\n` +
    `coreTarget=${JSON.stringify(Array.from(coreTarget))}\nreferenceTarget=${JSON.stringify(Array.from(reference.target))}`;
  if (!nearTie) {
    assert.ok(l1Distance(coreTarget, reference.target) <= 1e-9, `target differs: ${what()}`);
    assert.ok(l1Distance(coreOutput, reference.output) <= tolerance, `output differs (L1 ${l1Distance(coreOutput, reference.output)}): ${what()}`);
    return { nearTie };
  }
  const score = rowObjective(options.objective, y, jacobian);
  const placed =
    options.step === "reachable" ? lineSearch(y, coreTarget, options.distance, options.epsilon) : coreTarget;
  const { best } = reference.choice;
  const scale = Math.max(Math.abs(best), reference.choice.scoredWith === "angular" ? 1 : 0);
  // A greedy path that forked at a near tie may end anywhere; otherwise the core's pick must be as good.
  if (!reference.choice.pathNearTie)
    assert.ok(score(placed) >= best - 2 * tieTolerance * scale, `near tie, but the core's target scores ${score(placed)} < ${best}: ${what()}`);
  const fromCoreTarget = stepTowards(y, Float64Array.from(coreTarget), options);
  assert.ok(l1Distance(coreOutput, fromCoreTarget) <= tolerance, `output differs from the step towards the core's target: ${what()}`);
  return { nearTie };
}

export type { DistanceName, ObjectiveName, OracleName, ReferenceOptions, StepName };
