// Distances between y and ỹ and the line-search step size α along ỹ(α) = (1 − α)·y + α·t.
export const DISTANCE_L1: i32 = 0;
export const DISTANCE_L2: i32 = 1;
export const DISTANCE_KL: i32 = 2;

/** The reference adds this to ‖y − y*‖ so α never divides by zero. */
export const LINESEARCH_GUARD: f64 = 1e-7;
/** The KL line search bisects until the bracket on α is this narrow. */
export const KL_ALPHA_TOLERANCE: f64 = 1e-13;

export function l1Distance(a: usize, b: usize, K: i32): f64 {
  let s = 0.0;
  for (let i = 0; i < K; i++) s += abs<f64>(load<f64>(a + (<usize>i << 3)) - load<f64>(b + (<usize>i << 3)));
  return s;
}

export function l2Distance(a: usize, b: usize, K: i32): f64 {
  let s = 0.0;
  for (let i = 0; i < K; i++) {
    const d = load<f64>(a + (<usize>i << 3)) - load<f64>(b + (<usize>i << 3));
    s += d * d;
  }
  return Math.sqrt(s);
}

/** KL(y ‖ x) with 0·log 0 = 0; +∞ where x_i = 0 < y_i. */
export function klDivergence(y: usize, x: usize, K: i32): f64 {
  let s = 0.0;
  for (let i = 0; i < K; i++) {
    const yi = load<f64>(y + (<usize>i << 3));
    if (yi <= 0) continue;
    const xi = load<f64>(x + (<usize>i << 3));
    if (xi <= 0) return Infinity;
    s += yi * Math.log(yi / xi);
  }
  return s;
}

export function distanceBetween(kind: i32, y: usize, x: usize, K: i32): f64 {
  if (kind == DISTANCE_L1) return l1Distance(y, x, K);
  if (kind == DISTANCE_L2) return l2Distance(y, x, K);
  return klDivergence(y, x, K);
}

/**
 * φ(u) = u − log(1 + u) >= 0. Along a segment, KL = Σ_{y_i>0} y_i φ(u_i) + α Σ_{y_i=0} t_i with
 * u_i = α (t_i − y_i)/y_i: a sum of non-negative terms, so tiny α (tiny ε) does not drown in the
 * cancellation of the first-order terms that the plain Σ y log(y/x) suffers from.
 */
@inline
function phi(u: f64): f64 {
  if (abs<f64>(u) < 1e-3) return u * u * (0.5 - u * (1.0 / 3.0 - u * (0.25 - u * (0.2 - u / 6.0))));
  return u - Math.log1p(u);
}

/** KL(y ‖ (1 − α)y + α t), evaluated without materialising ỹ(α). */
export function klAlongSegment(y: usize, t: usize, K: i32, alpha: f64): f64 {
  let s = 0.0;
  for (let i = 0; i < K; i++) {
    const yi = load<f64>(y + (<usize>i << 3));
    const ti = load<f64>(t + (<usize>i << 3));
    if (yi <= 0) {
      s += alpha * ti;
      continue;
    }
    const u = (alpha * (ti - yi)) / yi;
    if (u <= -1) return Infinity;
    s += yi * phi(u);
  }
  return s;
}

/** KL(y ‖ (1 − α)y + α e_k) in O(1): every entry but k shrinks by (1 − α). */
export function klAlongSegmentToVertex(yk: f64, alpha: f64): f64 {
  const rest = 1.0 - yk;
  let s = 0.0;
  if (rest > 0) {
    if (alpha >= 1) return Infinity;
    s += rest * phi(-alpha);
  }
  s += yk > 0 ? yk * phi((alpha * rest) / yk) : alpha;
  return s;
}

@inline
export function clampedAlpha(epsilon: f64, dist: f64): f64 {
  const alpha = epsilon / (dist + LINESEARCH_GUARD);
  return alpha < 0 ? 0.0 : alpha > 1 ? 1.0 : alpha;
}

/** Largest α in [0, 1] with KL(ỹ(α)) <= ε, by bisection (KL grows monotonically in α). */
export function klAlpha(y: usize, t: usize, K: i32, epsilon: f64): f64 {
  if (klAlongSegment(y, t, K, 1.0) <= epsilon) return 1.0;
  let feasible = 0.0;
  let infeasible = 1.0;
  while (infeasible - feasible > KL_ALPHA_TOLERANCE) {
    const mid = 0.5 * (feasible + infeasible);
    if (klAlongSegment(y, t, K, mid) <= epsilon) feasible = mid;
    else infeasible = mid;
  }
  return feasible;
}

/** The same for a vertex target e_k, O(1) per evaluation. */
export function klAlphaToVertex(yk: f64, epsilon: f64): f64 {
  if (klAlongSegmentToVertex(yk, 1.0) <= epsilon) return 1.0;
  let feasible = 0.0;
  let infeasible = 1.0;
  while (infeasible - feasible > KL_ALPHA_TOLERANCE) {
    const mid = 0.5 * (feasible + infeasible);
    if (klAlongSegmentToVertex(yk, mid) <= epsilon) feasible = mid;
    else infeasible = mid;
  }
  return feasible;
}

/** The paper's line-search α towards a materialised target t. */
export function lineSearchAlpha(kind: i32, y: usize, t: usize, K: i32, epsilon: f64): f64 {
  if (epsilon <= 0) return 0.0;
  if (kind == DISTANCE_L1) return clampedAlpha(epsilon, l1Distance(y, t, K));
  if (kind == DISTANCE_L2) return clampedAlpha(epsilon, l2Distance(y, t, K));
  return klAlpha(y, t, K, epsilon);
}
