// The objectives H (angular) and S (surrogate) in reduced form (MAD.md §2), for the three proxy
// descriptors. A row is prepared once (its constants below); then any point on the segment
// ỹ(α) = (1 − α)·y + α·c is scored in O(1) from a few inner products of the candidate c. The row's
// constants live in its context (context.ts Row), which every function here takes.
import { Row } from "./context";
import { isProbabilityEntry, isProbabilitySum } from "./validation";

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
/** MAD-argmax candidates put this much extra mass on m so that argmax v_S = m strictly. */
export const ARGMAX_TIE_BREAK: f64 = 1e-5;

/** topClass, topY, yyRest (and topD, dyRest when d is given, probs). */
function prepareTop(row: Row, y: usize, d: usize, K: i32): void {
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
  row.topClass = m;
  row.topY = best;
  row.topD = d ? load<f64>(d + (<usize>m << 3)) : 0.0;
  row.yyRest = syy;
  row.dyRest = sdy;
}

/** identity: nothing beyond ‖y‖². */
export function prepareRowIdentity(row: Row, angular: bool): void {
  const K = row.K;
  row.jacobian = JACOBIAN_IDENTITY;
  row.yy = dotProduct(row.y, row.y, K);
  prepareTop(row, row.y, 0, K);
  row.angular = angular;
}

/** A row whose sum misses 1 by at most this is a probability vector to rounding: it is not divided by its sum (batch.ts loadRow). */
export const SUM_ROUNDING: f64 = 1e-14;

@inline
function readEntry(ptr: usize, isF32: bool, i: i32): f64 {
  return isF32 ? <f64>load<f32>(ptr + (<usize>i << 2)) : load<f64>(ptr + (<usize>i << 3));
}

/** prepareRowProbsAsLoaded's outcomes (ROW_NEEDS_DIVISION only inside it). */
export const ROW_PREPARED: i32 = 0;
export const ROW_NEEDS_DIVISION: i32 = 1;
export const ROW_INVALID: i32 = 2;

/**
 * probs: loads y and p (row starts yIn, pIn, f32 or f64) into the row, each divided by its sum
 * unless it is 1 to rounding (SUM_ROUNDING), checks them (validation.ts) and prepares the row:
 * d = p − y, ‖d‖², the top class m = first argmax of y, y_m, d_m, Σ_{i≠m} y_i² and Σ_{i≠m} d_i y_i,
 * every sum over the classes in order. ROW_INVALID: y or p is not a probability vector.
 * Float64 rows usually need no division and take one pass; float32 rows never sum to 1 to
 * rounding, so their sums come first and the pass divides as it loads.
 */
export function prepareRowProbsAsLoaded(row: Row, yIn: usize, yF32: bool, pIn: usize, pF32: bool, angular: bool): i32 {
  const K = row.K;
  if (!yF32 && !pF32) {
    const outcome = prepareAsLoaded(row, yIn, false, pIn, false, angular, 1.0, 1.0, true);
    if (outcome != ROW_NEEDS_DIVISION) return outcome;
  }
  const sumY = checkedSum(yIn, yF32, K);
  const sumP = checkedSum(pIn, pF32, K);
  if (!(isProbabilitySum(sumY) && isProbabilitySum(sumP))) return ROW_INVALID;
  // One loop per input type (the flags are constants once inlined): no type test per entry.
  const scaleY = divisorOf(sumY);
  const scaleP = divisorOf(sumP);
  if (yF32 && pF32) return prepareAsLoaded(row, yIn, true, pIn, true, angular, scaleY, scaleP, false);
  return prepareAsLoaded(row, yIn, yF32, pIn, pF32, angular, scaleY, scaleP, false);
}

/** What a row is multiplied by: 1/sum, or 1 when it sums to 1 to rounding (x·1 = x exactly). */
@inline
function divisorOf(sum: f64): f64 {
  return abs<f64>(sum - 1.0) > SUM_ROUNDING ? 1.0 / sum : 1.0;
}

/** Σ of a row's entries in order; NaN when an entry is negative, infinite or NaN. */
function checkedSum(ptr: usize, isF32: bool, K: i32): f64 {
  let sum = 0.0;
  let signs: u64 = 0;
  for (let i = 0; i < K; i++) {
    const v = readEntry(ptr, isF32, i);
    signs |= reinterpret<u64>(v);
    sum += v;
  }
  if ((signs >> 63) != 0 && !entriesAreProbabilities(ptr, isF32, K)) return NaN;
  return sum;
}

/**
 * The pass of prepareRowProbsAsLoaded for fixed input types, y and p multiplied by scaleY and
 * scaleP as they load. The sums over i ≠ m restart from the full prefix sums whenever the running
 * first argmax m moves (they hold Σ_{i<m} then), so each sum still adds its terms in class order.
 * With `check` (scales 1) it also checks the entries and sums without a test each: with no sign
 * bit set and both sums finite (near 1), no entry is negative, infinite or NaN; a set sign bit (a
 * negative entry, or a −0 that is fine) sends the row to the exact check. It then says
 * ROW_NEEDS_DIVISION when a sum is not 1 to rounding, and nothing it wrote counts.
 */
@inline
function prepareAsLoaded(row: Row, yIn: usize, yF32: bool, pIn: usize, pF32: bool, angular: bool, scaleY: f64, scaleP: f64, check: bool): i32 {
  const K = row.K;
  const y = row.y;
  const d = row.d;
  let sumY = 0.0;
  let sumP = 0.0;
  let sdd = 0.0;
  let sdy = 0.0;
  let syy = 0.0;
  let m = 0;
  let best = -Infinity; // below every entry of a valid row, so class 0 is the first argmax so far
  let yyRest = 0.0;
  let dyRest = 0.0;
  let signs: u64 = 0;
  for (let i = 0; i < K; i++) {
    const yi = readEntry(yIn, yF32, i) * scaleY;
    const pi = readEntry(pIn, pF32, i) * scaleP;
    if (check) {
      signs |= reinterpret<u64>(yi) | reinterpret<u64>(pi);
      sumY += yi;
      sumP += pi;
    }
    const di = pi - yi;
    const offset = <usize>i << 3;
    store<f64>(y + offset, yi);
    store<f64>(d + offset, di);
    const yy = yi * yi;
    const dy = di * yi;
    if (yi > best) {
      // i is the first argmax so far: the sums over the other classes are the prefix before it.
      m = i;
      best = yi;
      yyRest = syy;
      dyRest = sdy;
    } else {
      yyRest += yy;
      dyRest += dy;
    }
    sdd += di * di;
    sdy += dy;
    syy += yy;
  }
  if (check) {
    if (!(isProbabilitySum(sumY) && isProbabilitySum(sumP))) return ROW_INVALID;
    if ((signs >> 63) != 0 && !(entriesAreProbabilities(yIn, yF32, K) && entriesAreProbabilities(pIn, pF32, K))) return ROW_INVALID;
    if (abs<f64>(sumY - 1.0) > SUM_ROUNDING || abs<f64>(sumP - 1.0) > SUM_ROUNDING) return ROW_NEEDS_DIVISION;
  }
  row.jacobian = JACOBIAN_PROBS;
  row.dd = sdd;
  row.topClass = m;
  row.topY = best;
  row.topD = load<f64>(d + (<usize>m << 3));
  row.yyRest = yyRest;
  row.dyRest = dyRest;
  row.angular = angular && sdd > DEGENERATE_SQUARED_NORM;
  return ROW_PREPARED;
}

/** Every entry finite and non-negative (validation.ts isProbabilityEntry). */
function entriesAreProbabilities(ptr: usize, isF32: bool, K: i32): bool {
  for (let i = 0; i < K; i++) if (!isProbabilityEntry(readEntry(ptr, isF32, i))) return false;
  return true;
}

/** gram: My = M·y into row.My. row.M: K x K row-major f64 (symmetric). */
export function prepareRowGram(row: Row, angular: bool): void {
  const K = row.K;
  const y = row.y;
  const M = row.M;
  const My = row.My;
  row.jacobian = JACOBIAN_GRAM;
  let quadratic = 0.0;
  let trace = 0.0;
  for (let i = 0; i < K; i++) {
    const line = M + ((<usize>i * <usize>K) << 3);
    const s = dotProduct(line, y, K);
    store<f64>(My + (<usize>i << 3), s);
    quadratic += s * load<f64>(y + (<usize>i << 3));
    trace += load<f64>(line + (<usize>i << 3));
  }
  row.yy = dotProduct(y, y, K);
  prepareTop(row, y, 0, K);
  row.yMy = quadratic;
  row.gramScale = trace;
  row.angular = angular && quadratic > DEGENERATE_SQUARED_NORM;
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

/**
 * max(x, 0) for every x but NaN (finite here: validated rows), as a select: wasm's f64.max must
 * order ±0 and propagate NaN, which V8 compiles to a branchy sequence on x64. f64x2.pmax(0, x) is
 * the same select for two lanes.
 */
@inline
export function positivePart(x: f64): f64 {
  return x > 0 ? x : 0.0;
}

/** ‖c − y‖² from c_m (m = topClass) and c's sums over i ≠ m: cancellation-free when c ≈ y ≈ e_m. */
@inline
export function squaredGap(row: Row, cm: f64, cyRest: f64, ccRest: f64): f64 {
  const gap = cm - row.topY;
  return gap * gap + positivePart(ccRest - 2 * cyRest + row.yyRest);
}

/** probs: (c − y)·d, likewise split at m. */
@inline
export function gapDotD(row: Row, cm: f64, cdRest: f64): f64 {
  return (cm - row.topY) * row.topD + cdRest - row.dyRest;
}

/**
 * probs: the size of the terms whose cancellation gives ‖p − ỹ(α)‖² = dd − 2α(c − y)·d + α²‖c − y‖²,
 * so rounding noise in it stays below VANISHING_RELATIVE times this (the (c − y)·d terms are bounded
 * by the same sum: 2α|u·d| ≤ dd + α²‖u‖²).
 */
@inline
export function vanishingScale(row: Row, alpha: f64, uu: f64, ccRest: f64): f64 {
  return row.dd + alpha * alpha * (uu + ccRest + row.yyRest);
}

// One scorer per Jacobian kind: the objective at ỹ(α) = (1 − α)·y + α·c for a candidate c on the
// simplex, from c_m (m = topClass), cyRest = Σ_{i≠m} c_i y_i, cdRest = Σ_{i≠m} c_i d_i (probs),
// ccRest = Σ_{i≠m} c_i², cMy = cᵀMy and cMc = cᵀMc (gram). Larger is better.

/** probs: p − ỹ = d − α(c − y), scored by its products with d and itself. */
@inline
export function scoreProbs(row: Row, alpha: f64, cm: f64, cyRest: f64, cdRest: f64, ccRest: f64): f64 {
  const uu = squaredGap(row, cm, cyRest, ccRest);
  if (!row.angular) return alpha * alpha * uu;
  const dd = row.dd;
  const shift = gapDotD(row, cm, cdRest);
  const cross = dd - alpha * shift;
  const norm = dd - 2 * alpha * shift + alpha * alpha * uu;
  if (norm <= VANISHING_RELATIVE * vanishingScale(row, alpha, uu, ccRest)) return 0.0; // ã → 0 along the segment: cos → 1
  return 2.0 - 2.0 * clampCosine(cross / Math.sqrt(norm * dd));
}

/** identity (G = I): ã = ỹ itself. */
@inline
export function scoreIdentity(row: Row, alpha: f64, cm: f64, cyRest: f64, ccRest: f64): f64 {
  const uu = squaredGap(row, cm, cyRest, ccRest);
  if (!row.angular) return alpha * alpha * uu;
  const yy = row.yy;
  const cy = cm * row.topY + cyRest;
  const cross = yy + alpha * (cy - yy);
  const norm = yy + 2 * alpha * (cy - yy) + alpha * alpha * uu;
  return 2.0 - 2.0 * clampCosine(cross / Math.sqrt(norm * yy));
}

/** gram: the quadratic forms of M. */
@inline
export function scoreGram(row: Row, alpha: f64, cMy: f64, cMc: f64): f64 {
  const yMy = row.yMy;
  const uMy = cMy - yMy;
  const uMu = cMc - 2 * cMy + yMy;
  if (!row.angular) return alpha * alpha * positivePart(uMu);
  const cross = yMy + alpha * uMy;
  const norm = yMy + 2 * alpha * uMy + alpha * alpha * uMu;
  if (norm <= VANISHING_RELATIVE * row.gramScale) return 0.0; // ã → 0 along the segment: cos → 1
  return 2.0 - 2.0 * clampCosine(cross / Math.sqrt(norm * yMy));
}

/** The row's scorer (by its Jacobian kind) at ỹ(α) towards c. */
@inline
export function scoreOnSegment(row: Row, alpha: f64, cm: f64, cyRest: f64, cdRest: f64, ccRest: f64, cMy: f64, cMc: f64): f64 {
  const kind = row.jacobian;
  if (kind == JACOBIAN_GRAM) return scoreGram(row, alpha, cMy, cMc);
  if (kind == JACOBIAN_PROBS) return scoreProbs(row, alpha, cm, cyRest, cdRest, ccRest);
  return scoreIdentity(row, alpha, cm, cyRest, ccRest);
}

@inline
function clampCosine(c: f64): f64 {
  return c > 1 ? 1.0 : c < -1 ? -1.0 : c;
}

/**
 * Comparison key of a MAD-argmax candidate scored at itself (probs, identity), for the searches that
 * compare many: (key, norm) in the two lanes. v_S is given by n = |S| and its sums over S \ {m},
 * syRest = Σ y, sdRest = Σ d; 1/(n + δ) and Σ_{i≠m} (v_S)_i² come from the row's size tables.
 * Angular: H is largest where cos = cross/√(norm·const) is smallest, so the key is cross·|cross| and
 * candidates compare by cross-multiplication with the norms (no sqrt, no division: keyBeats).
 * Surrogate: ‖v − y‖², larger is better (norm 1, unused).
 */
@inline
export function keyAtCandidate(row: Row, n: i32, syRest: f64, sdRest: f64, probs: bool): v128 {
  const inv = load<f64>(row.sizeInverse + (<usize>(n - 1) << 3));
  const cm = (1 + ARGMAX_TIE_BREAK) * inv;
  const cyRest = syRest * inv;
  const ccRest = load<f64>(row.sizeSquares + (<usize>(n - 1) << 3));
  const uu = squaredGap(row, cm, cyRest, ccRest);
  if (!row.angular) return f64x2(uu, 1);
  if (probs) {
    const dd = row.dd;
    const shift = gapDotD(row, cm, sdRest * inv);
    const cross = dd - shift;
    const norm = dd - 2 * shift + uu;
    if (norm <= VANISHING_RELATIVE * vanishingScale(row, 1.0, uu, ccRest)) return f64x2(dd, 1); // ã = 0: limit cos = 1 (H = 0)
    return f64x2(cross * abs<f64>(cross), norm);
  }
  const cy = cm * row.topY + cyRest;
  return f64x2(cy * cy, cm * cm + ccRest);
}

/** Key a beats key b: smaller cos (angular, by cross-multiplication) or larger ‖v − y‖² (surrogate). */
@inline
export function keyBeats(row: Row, a: v128, b: v128): bool {
  const aKey = f64x2.extract_lane(a, 0);
  const bKey = f64x2.extract_lane(b, 0);
  return row.angular ? aKey * f64x2.extract_lane(b, 1) < bKey * f64x2.extract_lane(a, 1) : aKey > bKey;
}
