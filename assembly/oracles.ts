// Oracles: choose the target y* that the step moves y towards (MAD.md §3), written to row.target
// (K f64). With `reachable` scoring (row.reachable), candidates are scored at the point the line
// search can reach, ỹ(α), instead of at the candidate itself.
import { Row } from "./context";
import {
  JACOBIAN_GRAM, JACOBIAN_PROBS, VANISHING_RELATIVE, gapDotD, scoreOnSegment, squaredGap, vanishingScale,
} from "./objectives";
import { DISTANCE_L1, DISTANCE_L2, clampedAlpha, klAlphaToVertex } from "./distances";
import { exhaustiveArgmax } from "./exhaustive";
import { sortedArgmax } from "./sorted";
import { greedyArgmax } from "./greedy";

export const ORACLE_EXTREME: i32 = 0;
export const ORACLE_ARGMAX: i32 = 1;
export const ORACLE_RANDOM: i32 = 2;
export const ORACLE_ARGMIN: i32 = 3;

/** MAD-argmax enumerates all 2^(K−1) subsets up to this K (Gray-code walk), searches beyond: the default. */
export const EXACT_ARGMAX_LIMIT: i32 = 20;
/** Largest exact limit accepted: 2^23 subsets per row (the counters are i32). */
export const MAX_EXACT_ARGMAX_LIMIT: i32 = 24;

@inline
function at(ptr: usize, i: i32): f64 {
  return load<f64>(ptr + (<usize>i << 3));
}

function writeVertex(target: usize, K: i32, k: i32): void {
  memory.fill(target, 0, <usize>K << 3);
  store<f64>(target + (<usize>k << 3), 1.0);
}

export function firstArgmin(y: usize, K: i32): i32 {
  let best = 0;
  let value = at(y, 0);
  for (let i = 1; i < K; i++) {
    const v = at(y, i);
    if (v < value) {
      value = v;
      best = i;
    }
  }
  return best;
}

/** The row's target by the configured oracle; n: the row's number for the random oracle. */
export function chooseTarget(row: Row, n: u64): void {
  const oracle = row.options.oracle;
  if (oracle == ORACLE_EXTREME) extremeOracle(row);
  else if (oracle == ORACLE_ARGMAX) argmaxOracle(row);
  else if (oracle == ORACLE_ARGMIN) writeVertex(row.target, row.K, firstArgmin(row.y, row.K));
  else randomOracle(row, n);
}

// ---------------------------------------------------------------- extreme

function extremeOracle(row: Row): void {
  const K = row.K;
  if (!row.reachable) {
    writeVertex(row.target, K, extremeAtVertices(row));
    return;
  }
  let best = -Infinity;
  let bestK = 0;
  const gram = row.jacobian == JACOBIAN_GRAM;
  const probs = row.jacobian == JACOBIAN_PROBS;
  const distance = row.options.distance;
  const epsilon = row.reachEpsilon;
  for (let k = 0; k < K; k++) {
    const yk = at(row.y, k);
    // e_k split at m = topClass: c_m, Σ_{i≠m} c_i y_i, Σ_{i≠m} c_i d_i, Σ_{i≠m} c_i².
    const isTop = k == row.topClass;
    const cm = isTop ? 1.0 : 0.0;
    const cyRest = isTop ? 0.0 : yk;
    const cdRest = probs && !isTop ? at(row.d, k) : 0.0;
    const ccRest = isTop ? 0.0 : 1.0;
    const cMy = gram ? at(row.My, k) : 0.0;
    const cMc = gram ? load<f64>(row.M + ((<usize>k * <usize>K + <usize>k) << 3)) : 0.0;
    let alpha: f64;
    if (distance == DISTANCE_L1) alpha = clampedAlpha(epsilon, 2.0 * (1.0 - yk));
    else if (distance == DISTANCE_L2) alpha = clampedAlpha(epsilon, Math.sqrt(squaredGap(row, cm, cyRest, ccRest)));
    else alpha = klAlphaToVertex(yk, epsilon);
    const score = scoreOnSegment(row, alpha, cm, cyRest, cdRest, ccRest, cMy, cMc);
    if (score > best) {
      best = score;
      bestK = k;
    }
  }
  writeVertex(row.target, K, bestK);
}

/**
 * The paper's extreme oracle (scored at the vertices) without sqrt or division: angular minimises
 * cos ∝ cross/√norm, compared as cross·|cross| / norm by cross-multiplication; surrogate maximises
 * ‖e_k − y‖²_M. Ties: the first k.
 */
function extremeAtVertices(row: Row): i32 {
  const K = row.K;
  const kind = row.jacobian;
  const angular = row.angular;
  const dd = row.dd;
  let bestK = 0;
  let bestKey = 0.0;
  let bestNorm = 1.0;
  for (let k = 0; k < K; k++) {
    const yk = at(row.y, k);
    let key: f64;
    let norm = 1.0;
    if (kind == JACOBIAN_PROBS) {
      // e_k split at m = topClass (see squaredGap): exact for k = m when y ≈ e_m.
      const isTop = k == row.topClass;
      const ccRest = isTop ? 0.0 : 1.0;
      const cm = isTop ? 1.0 : 0.0;
      const uu = squaredGap(row, cm, isTop ? 0.0 : yk, ccRest);
      if (angular) {
        const shift = gapDotD(row, cm, isTop ? 0.0 : at(row.d, k));
        const cross = dd - shift;
        norm = dd - 2.0 * shift + uu;
        if (norm <= VANISHING_RELATIVE * vanishingScale(row, 1.0, uu, ccRest)) {
          key = dd; // ã = 0: every point before the vertex has cos = 1, so score its limit, H = 0
          norm = 1;
        } else key = cross * abs<f64>(cross);
      } else key = uu;
    } else if (kind == JACOBIAN_GRAM) {
      const mkk = load<f64>(row.M + ((<usize>k * <usize>K + <usize>k) << 3));
      const myk = at(row.My, k);
      if (angular) {
        norm = mkk;
        if (norm <= VANISHING_RELATIVE * row.gramScale) {
          key = row.yMy; // ã = 0: limit along the segment is cos = 1 (H = 0)
          norm = 1;
        } else key = myk * abs<f64>(myk);
      } else key = max<f64>(mkk - 2.0 * myk + row.yMy, 0);
    } else {
      const isTop = k == row.topClass;
      key = angular ? yk * yk : squaredGap(row, isTop ? 1.0 : 0.0, isTop ? 0.0 : yk, isTop ? 0.0 : 1.0); // identity: cos(e_k, y) = y_k/‖y‖
    }
    if (k == 0 || (angular ? key * bestNorm < bestKey * norm : key > bestKey)) {
      bestK = k;
      bestKey = key;
      bestNorm = norm;
    }
  }
  return bestK;
}

// ---------------------------------------------------------------- random

/** Counter-based: the n-th row a perturber processes gets u = splitmix64(seed, n). */
function randomOracle(row: Row, n: u64): void {
  const K = row.K;
  let z: u64 = (<u64>row.options.seed) * 0x9e3779b97f4a7c15 + n * 0xd1b54a32d192ed03 + 0x632be59bd9b4e019;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  z = z ^ (z >> 31);
  const u = <f64>(z >> 11) * 1.1102230246251565e-16; // 2^-53
  let k = <i32>Math.floor(u * <f64>K);
  if (k >= K) k = K - 1;
  writeVertex(row.target, K, k);
}

// ---------------------------------------------------------------- argmax (MAD-argmax)

/**
 * The best v_S = (1_S + δe_m)/(|S| + δ) over subsets S ∋ m: exhaustive up to the exact limit
 * (exhaustive.ts); beyond it the sorted search for probs and identity scored at the candidates
 * (sorted.ts), else the greedy (greedy.ts).
 */
function argmaxOracle(row: Row): void {
  const atCandidates = !row.reachable && row.jacobian != JACOBIAN_GRAM;
  if (row.K <= row.options.exactLimit) exhaustiveArgmax(row, atCandidates);
  else if (atCandidates) sortedArgmax(row);
  else greedyArgmax(row);
}
