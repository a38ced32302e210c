// The objectives H (angular) and S (surrogate) in reduced form (MAD.md §2), for the three proxy
// descriptors. A row is prepared once (its constants below); then any point on the segment
// ỹ(α) = (1 − α)·y + α·c is scored in O(1) from a few inner products of the candidate c.
export const JACOBIAN_IDENTITY: i32 = 0;
export const JACOBIAN_PROBS: i32 = 1;
export const JACOBIAN_GRAM: i32 = 2;
export const OBJECTIVE_ANGULAR: i32 = 0;
export const OBJECTIVE_SURROGATE: i32 = 1;

/** ‖a‖² at or below this leaves H undefined for the whole row: score with S instead. */
export const DEGENERATE_SQUARED_NORM: f64 = 1e-24;
/**
 * ‖ã‖² at or below this fraction of its scale: the candidate has no direction (e.g. ỹ = p). Every
 * point of the segment before it has cos = 1, so it scores that limit, H = 0. The scale (see
 * vanishingScale) bounds the operands whose cancellation produces ‖ã‖², so rounding noise never
 * passes for a direction.
 */
export const VANISHING_RELATIVE: f64 = 1e-14;

// Row constants (set by prepareRow*).
export let rowJacobian: i32 = JACOBIAN_IDENTITY;
/** The objective actually used for this row (angular falls back to surrogate when a = 0). */
export let rowAngular: bool = true;
export let yy: f64 = 0; // ‖y‖²
export let dd: f64 = 0; // probs: ‖d‖², d = p − y
export let dy: f64 = 0; // probs: d·y
export let yMy: f64 = 0; // gram: yᵀMy
export let gramScale: f64 = 0; // gram: trace M, the scale of xᵀMx on the simplex
// The row's top class m (first argmax of y) is kept out of every sum below and of the candidates'
// sums (cyRest, cdRest, ccRest: c's products over i ≠ m). For y ≈ e_m, ‖c − y‖² and (c − y)·d then
// come from small terms instead of differences of O(1) ones (1 − 2y_m + ‖y‖² loses every digit).
export let topClass: i32 = 0;
export let topY: f64 = 0; // y_m
export let topD: f64 = 0; // probs: d_m
export let yyRest: f64 = 0; // Σ_{i≠m} y_i²
export let dyRest: f64 = 0; // probs: Σ_{i≠m} d_i y_i

/** topClass, topY, yyRest (and topD, dyRest when d is given, probs). */
function prepareTop(y: usize, d: usize, K: i32): void {
  let m = 0;
  let best = load<f64>(y);
  for (let i = 1; i < K; i++) {
    const v = load<f64>(y + (<usize>i << 3));
    if (v > best) {
      best = v;
      m = i;
    }
  }
  let syy = 0.0;
  let sdy = 0.0;
  for (let i = 0; i < K; i++) {
    if (i == m) continue;
    const yi = load<f64>(y + (<usize>i << 3));
    syy += yi * yi;
    if (d) sdy += load<f64>(d + (<usize>i << 3)) * yi;
  }
  topClass = m;
  topY = best;
  topD = d ? load<f64>(d + (<usize>m << 3)) : 0.0;
  yyRest = syy;
  dyRest = sdy;
}

/** identity: nothing beyond ‖y‖². */
export function prepareRowIdentity(y: usize, K: i32, angular: bool): void {
  rowJacobian = JACOBIAN_IDENTITY;
  yy = dotProduct(y, y, K);
  prepareTop(y, 0, K);
  rowAngular = angular;
}

/** probs: writes d = p − y into `d`. */
export function prepareRowProbs(y: usize, p: usize, d: usize, K: i32, angular: bool): void {
  rowJacobian = JACOBIAN_PROBS;
  let sdd = 0.0;
  let sdy = 0.0;
  let syy = 0.0;
  for (let i = 0; i < K; i++) {
    const yi = load<f64>(y + (<usize>i << 3));
    const di = load<f64>(p + (<usize>i << 3)) - yi;
    store<f64>(d + (<usize>i << 3), di);
    sdd += di * di;
    sdy += di * yi;
    syy += yi * yi;
  }
  dd = sdd;
  dy = sdy;
  yy = syy;
  prepareTop(y, d, K);
  rowAngular = angular && sdd > DEGENERATE_SQUARED_NORM;
}

/** gram: writes My into `My`. M is K x K row-major f64 (symmetric). */
export function prepareRowGram(y: usize, M: usize, My: usize, K: i32, angular: bool): void {
  rowJacobian = JACOBIAN_GRAM;
  let quadratic = 0.0;
  let trace = 0.0;
  for (let i = 0; i < K; i++) {
    const row = M + ((<usize>i * <usize>K) << 3);
    const s = dotProduct(row, y, K);
    store<f64>(My + (<usize>i << 3), s);
    quadratic += s * load<f64>(y + (<usize>i << 3));
    trace += load<f64>(row + (<usize>i << 3));
  }
  yy = dotProduct(y, y, K);
  prepareTop(y, 0, K);
  yMy = quadratic;
  gramScale = trace;
  rowAngular = angular && quadratic > DEGENERATE_SQUARED_NORM;
}

/** Σ a_i b_i, two lanes at a time (SIMD). */
export function dotProduct(a: usize, b: usize, K: i32): f64 {
  let acc = f64x2.splat(0);
  let i = 0;
  for (; i + 1 < K; i += 2) {
    const offset = <usize>i << 3;
    acc = f64x2.add(acc, f64x2.mul(v128.load(a + offset), v128.load(b + offset)));
  }
  let s = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  if (i < K) s += load<f64>(a + (<usize>i << 3)) * load<f64>(b + (<usize>i << 3));
  return s;
}

/** ‖c − y‖² from c_m (m = topClass) and c's sums over i ≠ m: cancellation-free when c ≈ y ≈ e_m. */
@inline
export function squaredGap(cm: f64, cyRest: f64, ccRest: f64): f64 {
  const gap = cm - topY;
  return gap * gap + max<f64>(ccRest - 2 * cyRest + yyRest, 0);
}

/** probs: (c − y)·d, likewise split at m. */
@inline
export function gapDotD(cm: f64, cdRest: f64): f64 {
  return (cm - topY) * topD + cdRest - dyRest;
}

/**
 * probs: the size of the terms whose cancellation gives ‖p − ỹ(α)‖² = dd − 2α(c − y)·d + α²‖c − y‖²,
 * so rounding noise in it stays below VANISHING_RELATIVE times this (the (c − y)·d terms are bounded
 * by the same sum: 2α|u·d| ≤ dd + α²‖u‖²).
 */
@inline
export function vanishingScale(alpha: f64, uu: f64, ccRest: f64): f64 {
  return dd + alpha * alpha * (uu + ccRest + yyRest);
}

/**
 * The objective at ỹ(α) = (1 − α)·y + α·c for a candidate c on the simplex, given c_m (m = topClass),
 * cyRest = Σ_{i≠m} c_i y_i, cdRest = Σ_{i≠m} c_i d_i (probs), ccRest = Σ_{i≠m} c_i², cMy = cᵀMy and
 * cMc = cᵀMc (gram). Larger is better.
 */
@inline
export function scoreOnSegment(alpha: f64, cm: f64, cyRest: f64, cdRest: f64, ccRest: f64, cMy: f64, cMc: f64): f64 {
  if (rowJacobian == JACOBIAN_GRAM) {
    const uMy = cMy - yMy;
    const uMu = cMc - 2 * cMy + yMy;
    if (!rowAngular) return alpha * alpha * max<f64>(uMu, 0);
    const cross = yMy + alpha * uMy;
    const norm = yMy + 2 * alpha * uMy + alpha * alpha * uMu;
    if (norm <= VANISHING_RELATIVE * gramScale) return 0.0; // ã → 0 along the segment: cos → 1
    return 2.0 - 2.0 * clampCosine(cross / Math.sqrt(norm * yMy));
  }
  const uu = squaredGap(cm, cyRest, ccRest);
  if (!rowAngular) return alpha * alpha * uu;
  if (rowJacobian == JACOBIAN_PROBS) {
    // p − ỹ = d − α(c − y): its products with d and itself.
    const shift = gapDotD(cm, cdRest);
    const cross = dd - alpha * shift;
    const norm = dd - 2 * alpha * shift + alpha * alpha * uu;
    if (norm <= VANISHING_RELATIVE * vanishingScale(alpha, uu, ccRest)) return 0.0; // ã → 0 along the segment: cos → 1
    return 2.0 - 2.0 * clampCosine(cross / Math.sqrt(norm * dd));
  }
  const cy = cm * topY + cyRest;
  const cross = yy + alpha * (cy - yy);
  const norm = yy + 2 * alpha * (cy - yy) + alpha * alpha * uu;
  return 2.0 - 2.0 * clampCosine(cross / Math.sqrt(norm * yy));
}

@inline
function clampCosine(c: f64): f64 {
  return c > 1 ? 1.0 : c < -1 ? -1.0 : c;
}

/** The objective at an arbitrary simplex point x (c = x, α = 1); `scratch` holds K f64 (gram). */
export function scorePoint(x: usize, y: usize, d: usize, M: usize, My: usize, K: i32, scratch: usize): f64 {
  const m = topClass;
  let cyRest = 0.0;
  let cdRest = 0.0;
  let ccRest = 0.0;
  for (let i = 0; i < K; i++) {
    if (i == m) continue;
    const xi = load<f64>(x + (<usize>i << 3));
    cyRest += xi * load<f64>(y + (<usize>i << 3));
    ccRest += xi * xi;
    if (rowJacobian == JACOBIAN_PROBS) cdRest += xi * load<f64>(d + (<usize>i << 3));
  }
  let cMy = 0.0;
  let cMc = 0.0;
  if (rowJacobian == JACOBIAN_GRAM) {
    cMy = dotProduct(x, My, K);
    for (let i = 0; i < K; i++) store<f64>(scratch + (<usize>i << 3), dotProduct(M + ((<usize>i * <usize>K) << 3), x, K));
    cMc = dotProduct(x, scratch, K);
  }
  return scoreOnSegment(1.0, load<f64>(x + (<usize>m << 3)), cyRest, cdRest, ccRest, cMy, cMc);
}
