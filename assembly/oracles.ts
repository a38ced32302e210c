// Oracles: choose the target y* that the step moves y towards (MAD.md §3), written to row.target
// (a vertex e_k as k in row.targetVertex, see targetVector)
// (K f64). With `reachable` scoring (row.reachable), candidates are scored at the point the line
// search can reach, ỹ(α), instead of at the candidate itself.
import { Row } from "./context";
import {
  JACOBIAN_GRAM, JACOBIAN_PROBS, VANISHING_RELATIVE, gapDotD, positivePart, scoreOnSegment, squaredGap, vanishingScale,
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

/** The target e_k, as k in row.targetVertex: row.target is filled only when a step needs it (targetVector). */
function writeVertex(row: Row, k: i32): void {
  row.targetVertex = k;
  row.targetFilled = false;
}

/** row.target as a vector: a vertex target is written out on first use (most steps never read it). */
export function targetVector(row: Row): usize {
  if (row.targetVertex >= 0 && !row.targetFilled) {
    memory.fill(row.target, 0, <usize>row.K << 3);
    store<f64>(row.target + (<usize>row.targetVertex << 3), 1.0);
    row.targetFilled = true;
  }
  return row.target;
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
  row.targetVertex = -1;
  row.vertexL1 = NaN;
  if (oracle == ORACLE_EXTREME) extremeOracle(row);
  else if (oracle == ORACLE_ARGMAX) argmaxOracle(row);
  else if (oracle == ORACLE_ARGMIN) writeVertex(row, firstArgmin(row.y, row.K));
  else randomOracle(row, n);
}

// ---------------------------------------------------------------- extreme

function extremeOracle(row: Row): void {
  const K = row.K;
  if (!row.reachable) {
    writeVertex(row, extremeAtVertices(row));
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
  writeVertex(row, bestK);
}

/**
 * The paper's extreme oracle (scored at the vertices) without sqrt or division: angular minimises
 * cos ∝ cross/√norm, compared as cross·|cross| / norm by cross-multiplication; surrogate maximises
 * ‖e_k − y‖²_M. Ties: the first k.
 */
function extremeAtVertices(row: Row): i32 {
  if (row.jacobian == JACOBIAN_PROBS) return extremeVertexProbs(row);
  const K = row.K;
  const keys = row.vertexKeys;
  const norms = row.vertexNorms;
  vertexKeysScalar(row, keys, norms);
  const angular = row.angular;
  let bestK = 0;
  let bestKey = at(keys, 0);
  let bestNorm = at(norms, 0);
  for (let k = 1; k < K; k++) {
    const key = at(keys, k);
    const norm = at(norms, k);
    if (angular ? key * bestNorm < bestKey * norm : key > bestKey) {
      bestK = k;
      bestKey = key;
      bestNorm = norm;
    }
  }
  return bestK;
}

/**
 * probs: the extreme vertex. Angular compares two classes per step (vertexPairsAngular); the
 * surrogate's key is one sum per class.
 */
function extremeVertexProbs(row: Row): i32 {
  const K = row.K;
  if (!row.angular) {
    let bestK = 0;
    let bestKey = vertexKeyProbs(row, 0, row.vertexNorms);
    for (let k = 1; k < K; k++) {
      const key = vertexKeyProbs(row, k, row.vertexNorms);
      if (key > bestKey) {
        bestK = k;
        bestKey = key;
      }
    }
    return bestK;
  }
  return vertexPairsAngular(row);
}

/** probs: vertex k's key, its norm stored at `norm` (the paper's formulas, objectives.ts). */
function vertexKeyProbs(row: Row, k: i32, norm: usize): f64 {
  // e_k split at m = topClass (see squaredGap): exact for k = m when y ≈ e_m.
  const isTop = k == row.topClass;
  const ccRest = isTop ? 0.0 : 1.0;
  const cm = isTop ? 1.0 : 0.0;
  const uu = squaredGap(row, cm, isTop ? 0.0 : at(row.y, k), ccRest);
  store<f64>(norm, 1.0);
  if (!row.angular) return uu;
  const dd = row.dd;
  const shift = gapDotD(row, cm, isTop ? 0.0 : at(row.d, k));
  const cross = dd - shift;
  const squared = dd - 2.0 * shift + uu;
  if (squared <= VANISHING_RELATIVE * vanishingScale(row, 1.0, uu, ccRest)) return dd; // ã = 0: every point before the vertex has cos = 1, so score its limit, H = 0
  store<f64>(norm, squared);
  return cross * abs<f64>(cross);
}

/**
 * probs, angular: the extreme vertex, two classes per step. Each lane does vertexKeyProbs's
 * operations in its order for a class other than m, so the keys are its bit for bit (the
 * golden files pin this). A pair is compared with the best so far in both lanes at once; only
 * when a lane beats it (rarely, after the first classes) are the two taken one after the other
 * by vertexKeyProbs itself, so the choice is the one-by-one scan's.
 */
function vertexPairsAngular(row: Row): i32 {
  const K = row.K;
  const y = row.y;
  const d = row.d;
  const m = row.topClass;
  const mPair = m & ~1;
  const gap = 0.0 - row.topY; // c_m − y_m for c = e_k, k ≠ m
  // The loop's constants, in memory: binaryen sinks a splat used once into the loop, and V8 then
  // recomputes it (and rematerialises vector constants) on every step; a load from L1 is one operand.
  const lanes = row.lanes;
  v128.store(lanes, f64x2.splat(1.0));
  v128.store(lanes, f64x2.splat(2.0), 16);
  v128.store(lanes, f64x2.splat(row.dd), 32);
  v128.store(lanes, f64x2.splat(row.yyRest), 48);
  v128.store(lanes, f64x2.splat(row.dyRest), 64);
  v128.store(lanes, f64x2.splat(gap * gap), 80);
  v128.store(lanes, f64x2.splat(gap * row.topD), 96);
  v128.store(lanes, f64x2.splat(VANISHING_RELATIVE), 112);
  // The first class beats these (its key is finite, its norm positive).
  let bestK = 0;
  let bestKey = Infinity;
  let bestNorm = 1.0;
  let bestKeys = f64x2.splat(bestKey);
  let bestNorms = f64x2.splat(bestNorm);
  // ‖y − e_best‖₁ summed as l1Distance sums it (|y_i − 0| = y_i, then |y_best − 1|, in class
  // order): the prefix Σ_{i<k} y_i, and the distance to the best so far, restarted from the prefix
  // when the best moves. The line search then needs no pass of its own (steps.ts).
  let prefix = 0.0;
  let distance = 0.0;
  const pairsEnd = K & ~1;
  let k = 0;
  while (k < K) {
    // Pairs in lanes up to the top class's pair. A pair where a lane beats the best so far, or
    // where ã vanishes, the top class's pair and an odd last class go one by one (below).
    const stop = k <= mPair ? mPair : pairsEnd;
    for (; k < stop; k += 2) {
      const offset = <usize>k << 3;
      const yk = v128.load(y + offset);
      const one = v128.load(lanes);
      const two = v128.load(lanes, 16);
      const dd = v128.load(lanes, 32);
      const yyRest = v128.load(lanes, 48);
      // squaredGap with Σ_{i≠m} c_i² = 1, Σ_{i≠m} c_i y_i = y_k
      const rest = f64x2.add(f64x2.sub(one, f64x2.mul(two, yk)), yyRest);
      const uu = f64x2.add(v128.load(lanes, 80), f64x2.pmax(f64x2.splat(0), rest));
      // gapDotD with Σ_{i≠m} c_i d_i = d_k
      const shift = f64x2.sub(f64x2.add(v128.load(lanes, 96), v128.load(d + offset)), v128.load(lanes, 64));
      const cross = f64x2.sub(dd, shift);
      const squared = f64x2.add(f64x2.sub(dd, f64x2.mul(two, shift)), uu);
      // vanishingScale at α = 1
      const vanished = f64x2.le(squared, f64x2.mul(v128.load(lanes, 112), f64x2.add(dd, f64x2.add(f64x2.add(uu, one), yyRest))));
      const keys = f64x2.mul(cross, f64x2.abs(cross));
      const beats = f64x2.lt(f64x2.mul(keys, bestNorms), f64x2.mul(bestKeys, squared));
      if (v128.any_true(v128.or(beats, vanished))) break;
      const y0 = f64x2.extract_lane(yk, 0);
      const y1 = f64x2.extract_lane(yk, 1);
      distance = distance + y0 + y1;
      prefix = prefix + y0 + y1;
    }
    const end = min<i32>(k + 2, K);
    for (; k < end; k++) {
      const key = vertexKeyProbs(row, k, row.vertexNorms);
      const norm = load<f64>(row.vertexNorms);
      const yk = at(y, k);
      if (key * bestNorm < bestKey * norm) {
        bestK = k;
        bestKey = key;
        bestNorm = norm;
        distance = prefix + abs<f64>(yk - 1.0);
      } else distance += yk;
      prefix += yk;
    }
    bestKeys = f64x2.splat(bestKey);
    bestNorms = f64x2.splat(bestNorm);
  }
  row.vertexL1 = distance;
  return bestK;
}

/** identity and gram: the (key, norm) of every vertex, one class at a time. */
function vertexKeysScalar(row: Row, keys: usize, norms: usize): void {
  const K = row.K;
  const angular = row.angular;
  const gram = row.jacobian == JACOBIAN_GRAM;
  for (let k = 0; k < K; k++) {
    const yk = at(row.y, k);
    let key: f64;
    let norm = 1.0;
    if (gram) {
      const mkk = load<f64>(row.M + ((<usize>k * <usize>K + <usize>k) << 3));
      const myk = at(row.My, k);
      if (angular) {
        norm = mkk;
        if (norm <= VANISHING_RELATIVE * row.gramScale) {
          key = row.yMy; // ã = 0: limit along the segment is cos = 1 (H = 0)
          norm = 1;
        } else key = myk * abs<f64>(myk);
      } else key = positivePart(mkk - 2.0 * myk + row.yMy);
    } else {
      const isTop = k == row.topClass;
      key = angular ? yk * yk : squaredGap(row, isTop ? 1.0 : 0.0, isTop ? 0.0 : yk, isTop ? 0.0 : 1.0); // identity: cos(e_k, y) = y_k/‖y‖
    }
    store<f64>(keys + (<usize>k << 3), key);
    store<f64>(norms + (<usize>k << 3), norm);
  }
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
  writeVertex(row, k);
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
