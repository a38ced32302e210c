// Shared checks for the core's own tests: validity of an answer (simplex, ball, top-1) and small
// generators. The float64 reference (test/reference/) stays the oracle for numeric comparisons.
import * as assert from "uvu/assert";
import type { Jacobian } from "../../src/core/index.js";
import { createRng, randomSimplexPoint, type Rng } from "../reference/random.js";
import { distance, type DistanceName } from "../reference/mad.js";

export { createRng, randomSimplexPoint, type Rng };

export function row(a: ArrayLike<number>, r: number, K: number): number[] {
  return Array.from({ length: K }, (_, i) => a[r * K + i]);
}

export function firstArgmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

/** Top-1 kept strictly: ỹ_m > ỹ_j for every j ≠ m, m = first argmax of y. */
export function keepsTop1Strictly(y: ArrayLike<number>, out: ArrayLike<number>): boolean {
  const m = firstArgmax(y);
  for (let j = 0; j < out.length; j++) if (j !== m && !(out[m] > out[j])) return false;
  return true;
}

/** On the simplex and inside the ball, with the tolerances of /work/notes/CORE_API.md. */
export function assertValidAnswer(
  y: ArrayLike<number>,
  out: ArrayLike<number>,
  kind: DistanceName,
  epsilon: number,
  float32 = false,
  label = "",
): void {
  const K = y.length;
  const slack = float32 ? K * 2 ** -24 : 0;
  let sum = 0;
  for (let i = 0; i < K; i++) {
    assert.ok(Number.isFinite(out[i]), `${label} entry ${i} is ${out[i]}`);
    assert.ok(out[i] >= 0, `${label} entry ${i} is negative (${out[i]})`);
    sum += out[i];
  }
  assert.ok(Math.abs(sum - 1) <= 1e-9 + slack, `${label} sums to ${sum}`);
  if (kind === "kl" && float32) return; // KL of a rounded vector has no useful absolute bound
  const d = distance(kind, y, out);
  assert.ok(d <= epsilon * (1 + 1e-6) + 4 * K * 2 ** -52 + (kind === "l2" ? Math.sqrt(K) : K) * slack, `${label} ${kind} distance ${d} > epsilon ${epsilon}`);
}

export function randomRows(rng: Rng, B: number, K: number, sharpness = 2): Float64Array {
  const out = new Float64Array(B * K);
  for (let r = 0; r < B; r++) out.set(randomSimplexPoint(rng, K, sharpness), r * K);
  return out;
}

/** A random symmetric positive semi-definite K x K matrix A Aᵀ (A: K x D normal). */
export function randomGram(rng: Rng, K: number, D = K + 3): Float64Array {
  const A = Float64Array.from({ length: K * D }, () => rng.normal());
  const M = new Float64Array(K * K);
  for (let i = 0; i < K; i++)
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += A[i * D + d] * A[j * D + d];
      M[i * K + j] = M[j * K + i] = s;
    }
  return M;
}

/** A batch's Jacobian of each kind with random proxies or Gram matrices (identity: nothing to draw). */
export function randomJacobian(rng: Rng, kind: Jacobian["kind"], B: number, K: number): Jacobian {
  if (kind === "probs") return { kind, proxyProbs: randomRows(rng, B, K, 1) };
  if (kind === "gram") {
    const gram = new Float64Array(B * K * K);
    for (let r = 0; r < B; r++) gram.set(randomGram(rng, K), r * K * K);
    return { kind, gram };
  }
  return { kind: "identity" };
}

/** Row r of a batch's Jacobian, as a one-row Jacobian. */
export function rowJacobian(jacobian: Jacobian, r: number, K: number): Jacobian {
  if (jacobian.kind === "probs") return { kind: "probs", proxyProbs: jacobian.proxyProbs.slice(r * K, (r + 1) * K) };
  if (jacobian.kind === "gram") return { kind: "gram", gram: jacobian.gram.slice(r * K * K, (r + 1) * K * K) };
  return { kind: "identity" };
}

