// Steps: from the oracle's target y* to the answer ỹ inside the ε-ball around y (MAD.md §4).
import { projectOntoL1Ball, projectOntoL2Ball } from "./balls";
import { projectOntoSimplex } from "./simplex";
import { DISTANCE_L1, DISTANCE_L2, clampedAlpha, distanceBetween, l2Distance, lineSearchAlpha } from "./distances";

export const STEP_LINESEARCH: i32 = 0;
export const STEP_PROJECTIONS: i32 = 1;
/** Opt-in: the oracle scores candidates at their reachable point; then the line search. */
export const STEP_REACHABLE: i32 = 2;

export const PROJECTION_ROUNDS: i32 = 100;
export const PROJECTION_TOLERANCE: f64 = 1e-4;

/** out = (1 − α)·y + α·t with the paper's α. */
export function lineSearch(distance: i32, y: usize, t: usize, out: usize, K: i32, epsilon: f64): void {
  const alpha = lineSearchAlpha(distance, y, t, K, epsilon);
  const keep = 1.0 - alpha;
  for (let i = 0; i < K; i++) {
    const offset = <usize>i << 3;
    store<f64>(out + offset, keep * load<f64>(y + offset) + alpha * load<f64>(t + offset));
  }
}

/** Whether lineSearchToVertex serves this distance (KL bisects along the materialised target). */
export function stepsToVertex(distance: i32): bool {
  return distance == DISTANCE_L1 || distance == DISTANCE_L2;
}

/**
 * lineSearch towards the vertex e_k (L1 or L2), without reading the target: the same operations on
 * the same values, so the same bits (|y_i − 0| = y_i, |y_k − 1| = 1 − y_k; (1 − α)·y_i + α·0 =
 * (1 − α)·y_i for y_i >= 0), two classes at a time where the order does not matter. knownL1:
 * ‖y − e_k‖₁ when the oracle has summed it already, else NaN.
 */
export function lineSearchToVertex(distance: i32, y: usize, k: i32, out: usize, K: i32, epsilon: f64, knownL1: f64): void {
  let s = 0.0;
  if (distance == DISTANCE_L1 && knownL1 == knownL1) {
    s = knownL1; // the oracle summed it on its pass (oracles.ts), in this order
  } else if (distance == DISTANCE_L1) {
    for (let i = 0; i < k; i++) s += abs<f64>(load<f64>(y + (<usize>i << 3)));
    s += abs<f64>(load<f64>(y + (<usize>k << 3)) - 1.0);
    for (let i = k + 1; i < K; i++) s += abs<f64>(load<f64>(y + (<usize>i << 3)));
  } else {
    for (let i = 0; i < k; i++) {
      const v = load<f64>(y + (<usize>i << 3));
      s += v * v;
    }
    const gap = load<f64>(y + (<usize>k << 3)) - 1.0;
    s += gap * gap;
    for (let i = k + 1; i < K; i++) {
      const v = load<f64>(y + (<usize>i << 3));
      s += v * v;
    }
    s = Math.sqrt(s);
  }
  const alpha = clampedAlpha(epsilon, s);
  const keep = 1.0 - alpha;
  const keepLanes = f64x2.splat(keep);
  let i = 0;
  for (; i + 1 < K; i += 2) {
    const offset = <usize>i << 3;
    v128.store(out + offset, f64x2.mul(keepLanes, v128.load(y + offset)));
  }
  if (i < K) store<f64>(out + (<usize>i << 3), keep * load<f64>(y + (<usize>i << 3)));
  store<f64>(out + (<usize>k << 3), keep * load<f64>(y + (<usize>k << 3)) + alpha);
}

/**
 * Alternating projections (L1 or L2 only): from t, project onto the ε-ball around y, then onto the
 * simplex, until a round moves less than 1e-4 (at most 100 rounds). The iterate can end slightly
 * outside the ball; pulling it towards y along the segment fixes that and stays on the simplex.
 * `scratch` holds 4K f64.
 */
export function alternatingProjections(distance: i32, y: usize, t: usize, out: usize, K: i32, epsilon: f64, scratch: usize): void {
  const ball = scratch;
  const ballScratch = scratch + (<usize>K << 3);
  const sorted = ballScratch;
  memory.copy(out, t, <usize>K << 3);
  for (let round = 0; round < PROJECTION_ROUNDS; round++) {
    if (distance == DISTANCE_L1) projectOntoL1Ball(out, y, ball, K, epsilon, ballScratch);
    else projectOntoL2Ball(out, y, ball, K, epsilon);
    projectOntoSimplex(ball, ball, K, 1.0, sorted);
    const change = l2Distance(ball, out, K);
    memory.copy(out, ball, <usize>K << 3);
    if (change < PROJECTION_TOLERANCE) break;
  }
  const dist = distanceBetween(distance, y, out, K);
  if (dist > epsilon) {
    const scale = epsilon / dist;
    for (let i = 0; i < K; i++) {
      const offset = <usize>i << 3;
      const yi = load<f64>(y + offset);
      store<f64>(out + offset, yi + scale * (load<f64>(out + offset) - yi));
    }
  }
}
