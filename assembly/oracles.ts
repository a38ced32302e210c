// Oracles: choose the target y* that the step moves y towards (MAD.md §3). Each writes y* into
// `target` (K f64). With `reachable` scoring on, candidates are scored at the point the line
// search can reach, ỹ(α), instead of at the candidate itself.
import {
  JACOBIAN_GRAM, JACOBIAN_PROBS, VANISHING_RELATIVE, dd, dyRest, gapDotD, gramScale, rowAngular, rowJacobian, scoreOnSegment,
  squaredGap, topClass, topD, topY, vanishingScale, yMy, yyRest,
} from "./objectives";
import {
  DISTANCE_L1, DISTANCE_L2, clampedAlpha, klAlphaToVertex, lineSearchAlpha,
} from "./distances";
import { sortRecords } from "./sort";

export const ORACLE_EXTREME: i32 = 0;
export const ORACLE_ARGMAX: i32 = 1;
export const ORACLE_RANDOM: i32 = 2;
export const ORACLE_ARGMIN: i32 = 3;

/** MAD-argmax candidates put this much extra mass on m so that argmax v_S = m strictly. */
export const ARGMAX_TIE_BREAK: f64 = 1e-5;
/** MAD-argmax enumerates all 2^(K−1) subsets up to this K (Gray-code walk), searches beyond: the default. */
export const EXACT_ARGMAX_LIMIT: i32 = 20;
/** Largest exact limit accepted: 2^23 subsets per row (the counters are i32). */
export const MAX_EXACT_ARGMAX_LIMIT: i32 = 24;

// MAD-argmax search options of the next batches (set by batch.ts from the perturber's options).
let exactLimit: i32 = EXACT_ARGMAX_LIMIT;
/** After the sorted search or the greedy: swap passes (try adding, removing or exchanging one class) until none improves. */
let greedyRefine: bool = false;

export function configureArgmax(limit: i32, refine: i32): void {
  exactLimit = limit < 1 ? 1 : limit > MAX_EXACT_ARGMAX_LIMIT ? MAX_EXACT_ARGMAX_LIMIT : limit;
  greedyRefine = refine != 0;
}

/** The row's data, laid out by batch.ts (globals: the core allocates nothing). d: p − y (probs);
 * M, My, running: gram only. */
export let bufY: usize = 0;
export let bufD: usize = 0;
export let bufM: usize = 0;
export let bufMy: usize = 0;
/** M·1_S for the current subset S (gram). */
export let bufRunning: usize = 0;
/** K bytes: 1 if the class is in S. */
export let bufMember: usize = 0;
/** K f64: a materialised candidate (reachable L1/KL). */
export let bufCandidate: usize = 0;

export function setRowBuffers(y: usize, d: usize, M: usize, My: usize, running: usize, member: usize, candidate: usize): void {
  bufY = y;
  bufD = d;
  bufM = M;
  bufMy = My;
  bufRunning = running;
  bufMember = member;
  bufCandidate = candidate;
}

// Scoring mode for this batch (set by batch.ts).
export let reachable: bool = false;
export let reachDistance: i32 = 0;
export let reachEpsilon: f64 = 0;

export function setScoring(useReachable: bool, distance: i32, epsilon: f64): void {
  reachable = useReachable;
  reachDistance = distance;
  reachEpsilon = epsilon;
}

@inline
function at(ptr: usize, i: i32): f64 {
  return load<f64>(ptr + (<usize>i << 3));
}

function writeVertex(target: usize, K: i32, k: i32): void {
  memory.fill(target, 0, <usize>K << 3);
  store<f64>(target + (<usize>k << 3), 1.0);
}

export function firstArgmax(y: usize, K: i32): i32 {
  let best = 0;
  let value = at(y, 0);
  for (let i = 1; i < K; i++) {
    const v = at(y, i);
    if (v > value) {
      value = v;
      best = i;
    }
  }
  return best;
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

// ---------------------------------------------------------------- extreme

export function extremeOracle(K: i32, target: usize): void {
  if (!reachable) {
    writeVertex(target, K, extremeAtVertices(K));
    return;
  }
  let best = -Infinity;
  let bestK = 0;
  const gram = rowJacobian == JACOBIAN_GRAM;
  const probs = rowJacobian == JACOBIAN_PROBS;
  for (let k = 0; k < K; k++) {
    const yk = at(bufY, k);
    // e_k split at m = topClass: c_m, Σ_{i≠m} c_i y_i, Σ_{i≠m} c_i d_i, Σ_{i≠m} c_i².
    const isTop = k == topClass;
    const cm = isTop ? 1.0 : 0.0;
    const cyRest = isTop ? 0.0 : yk;
    const cdRest = probs && !isTop ? at(bufD, k) : 0.0;
    const ccRest = isTop ? 0.0 : 1.0;
    const cMy = gram ? at(bufMy, k) : 0.0;
    const cMc = gram ? load<f64>(bufM + ((<usize>k * <usize>K + <usize>k) << 3)) : 0.0;
    let alpha = 1.0;
    if (reachable) {
      if (reachDistance == DISTANCE_L1) alpha = clampedAlpha(reachEpsilon, 2.0 * (1.0 - yk));
      else if (reachDistance == DISTANCE_L2) alpha = clampedAlpha(reachEpsilon, Math.sqrt(squaredGap(cm, cyRest, ccRest)));
      else alpha = klAlphaToVertex(yk, reachEpsilon);
    }
    const score = scoreOnSegment(alpha, cm, cyRest, cdRest, ccRest, cMy, cMc);
    if (score > best) {
      best = score;
      bestK = k;
    }
  }
  writeVertex(target, K, bestK);
}

/**
 * The paper's extreme oracle (scored at the vertices) without sqrt or division: angular minimises
 * cos ∝ cross/√norm, compared as cross·|cross| / norm by cross-multiplication; surrogate maximises
 * ‖e_k − y‖²_M. Ties: the first k.
 */
function extremeAtVertices(K: i32): i32 {
  const mode = rowJacobian;
  const angular = rowAngular;
  let bestK = 0;
  let bestKey = 0.0;
  let bestNorm = 1.0;
  for (let k = 0; k < K; k++) {
    const yk = at(bufY, k);
    let key: f64;
    let norm = 1.0;
    if (mode == JACOBIAN_PROBS) {
      // e_k split at m = topClass (see squaredGap): exact for k = m when y ≈ e_m.
      const isTop = k == topClass;
      const ccRest = isTop ? 0.0 : 1.0;
      const cm = isTop ? 1.0 : 0.0;
      const uu = squaredGap(cm, isTop ? 0.0 : yk, ccRest);
      if (angular) {
        const shift = gapDotD(cm, isTop ? 0.0 : at(bufD, k));
        const cross = dd - shift;
        norm = dd - 2.0 * shift + uu;
        if (norm <= VANISHING_RELATIVE * vanishingScale(1.0, uu, ccRest)) {
          key = dd; // ã = 0: every point before the vertex has cos = 1, so score its limit, H = 0
          norm = 1;
        } else key = cross * abs<f64>(cross);
      } else key = uu;
    } else if (mode == JACOBIAN_GRAM) {
      const mkk = load<f64>(bufM + ((<usize>k * <usize>K + <usize>k) << 3));
      const myk = at(bufMy, k);
      if (angular) {
        norm = mkk;
        if (norm <= VANISHING_RELATIVE * gramScale) {
          key = yMy; // ã = 0: limit along the segment is cos = 1 (H = 0)
          norm = 1;
        } else key = myk * abs<f64>(myk);
      } else key = max<f64>(mkk - 2.0 * myk + yMy, 0);
    } else {
      const isTop = k == topClass;
      key = angular ? yk * yk : squaredGap(isTop ? 1.0 : 0.0, isTop ? 0.0 : yk, isTop ? 0.0 : 1.0); // identity: cos(e_k, y) = y_k/‖y‖
    }
    if (k == 0 || (angular ? key * bestNorm < bestKey * norm : key > bestKey)) {
      bestK = k;
      bestKey = key;
      bestNorm = norm;
    }
  }
  return bestK;
}

// ---------------------------------------------------------------- argmin, random

export function argminOracle(K: i32, target: usize): void {
  writeVertex(target, K, firstArgmin(bufY, K));
}

/** Counter-based: the n-th row a perturber processes gets u = splitmix64(seed, n). */
export function randomOracle(K: i32, target: usize, seed: u32, n: u64): void {
  let z: u64 = (<u64>seed) * 0x9e3779b97f4a7c15 + n * 0xd1b54a32d192ed03 + 0x632be59bd9b4e019;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  z = z ^ (z >> 31);
  const u = <f64>(z >> 11) * 1.1102230246251565e-16; // 2^-53
  let k = <i32>Math.floor(u * <f64>K);
  if (k >= K) k = K - 1;
  writeVertex(target, K, k);
}

// ---------------------------------------------------------------- argmax (MAD-argmax)

// Running sums of the current subset S (which always contains m). sumY and sumD leave m out (over
// S \ {m}: see squaredGap); sumMy and quadratic include it.
let subsetSize: i32 = 0;
let sumY: f64 = 0;
let sumD: f64 = 0;
let sumMy: f64 = 0;
let quadratic: f64 = 0; // 1_Sᵀ M 1_S
let argmaxClass: i32 = 0;

function resetSubset(K: i32, m: i32): void {
  argmaxClass = m;
  subsetSize = 1;
  sumY = 0;
  sumD = 0;
  memory.fill(bufMember, 0, <usize>K);
  store<u8>(bufMember + <usize>m, 1);
  if (rowJacobian == JACOBIAN_GRAM) {
    sumMy = at(bufMy, m);
    quadratic = load<f64>(bufM + ((<usize>m * <usize>K + <usize>m) << 3));
    memory.copy(bufRunning, bufM + ((<usize>m * <usize>K) << 3), <usize>K << 3);
  }
}

/** Adds (sign = 1) or removes (sign = −1) class j; O(1), O(K) for gram. */
function flipMember(K: i32, j: i32, sign: f64): void {
  store<u8>(bufMember + <usize>j, sign > 0 ? 1 : 0);
  subsetSize += sign > 0 ? 1 : -1;
  sumY += sign * at(bufY, j);
  if (rowJacobian == JACOBIAN_PROBS) sumD += sign * at(bufD, j);
  if (rowJacobian == JACOBIAN_GRAM) {
    sumMy += sign * at(bufMy, j);
    const column = bufM + ((<usize>j * <usize>K) << 3); // M symmetric: column j = row j
    const mjj = at(column, j);
    if (sign > 0) quadratic += 2 * at(bufRunning, j) + mjj;
    const s = f64x2.splat(sign);
    let i = 0;
    for (; i + 1 < K; i += 2) {
      const offset = <usize>i << 3;
      v128.store(bufRunning + offset, f64x2.add(v128.load(bufRunning + offset), f64x2.mul(s, v128.load(column + offset))));
    }
    if (i < K) store<f64>(bufRunning + (<usize>i << 3), at(bufRunning, i) + sign * at(column, i));
    if (sign < 0) quadratic -= 2 * at(bufRunning, j) + mjj;
  }
}

/**
 * Score of v_{S ∪ extra} (extra = −1: S itself), v = (1_S + δ e_m)/(|S| + δ), from the running sums.
 */
function scoreSubset(K: i32, extra: i32): f64 {
  const m = argmaxClass;
  let n = subsetSize;
  let sy = sumY;
  let sd = sumD;
  let sMy = sumMy;
  let q = quadratic;
  let rm = 0.0;
  const gram = rowJacobian == JACOBIAN_GRAM;
  if (gram) rm = at(bufRunning, m);
  if (extra >= 0) {
    n += 1;
    sy += at(bufY, extra);
    if (rowJacobian == JACOBIAN_PROBS) sd += at(bufD, extra);
    if (gram) {
      sMy += at(bufMy, extra);
      q += 2 * at(bufRunning, extra) + load<f64>(bufM + ((<usize>extra * <usize>K + <usize>extra) << 3));
      rm += load<f64>(bufM + ((<usize>m * <usize>K + <usize>extra) << 3));
    }
  }
  const delta = ARGMAX_TIE_BREAK;
  const inv = 1.0 / (<f64>n + delta);
  const cm = (1 + delta) * inv;
  const cyRest = sy * inv;
  const cdRest = sd * inv;
  const ccRest = <f64>(n - 1) * inv * inv;
  let cMy = 0.0;
  let cMc = 0.0;
  if (gram) {
    cMy = (sMy + delta * at(bufMy, m)) * inv;
    const mmm = load<f64>(bufM + ((<usize>m * <usize>K + <usize>m) << 3));
    cMc = (q + 2 * delta * rm + delta * delta * mmm) * inv * inv;
  }
  let alpha = 1.0;
  if (reachable) {
    if (reachDistance == DISTANCE_L2) alpha = clampedAlpha(reachEpsilon, Math.sqrt(squaredGap(cm, cyRest, ccRest)));
    else {
      materialiseSubset(K, extra, bufCandidate);
      alpha = lineSearchAlpha(reachDistance, bufY, bufCandidate, K, reachEpsilon);
    }
  }
  return scoreOnSegment(alpha, cm, cyRest, cdRest, ccRest, cMy, cMc);
}

/** Writes v_{S ∪ extra} (members from bufMember) into out. */
function materialiseSubset(K: i32, extra: i32, out: usize): void {
  const n = subsetSize + (extra >= 0 ? 1 : 0);
  const inv = 1.0 / (<f64>n + ARGMAX_TIE_BREAK);
  for (let i = 0; i < K; i++) store<f64>(out + (<usize>i << 3), load<u8>(bufMember + <usize>i) ? inv : 0.0);
  if (extra >= 0) store<f64>(out + (<usize>extra << 3), inv);
  store<f64>(out + (<usize>argmaxClass << 3), (1 + ARGMAX_TIE_BREAK) * inv);
}

/** Class behind bit `bit` of the Gray code: the classes other than m, in increasing order. */
@inline
function classOfBit(bit: i32, m: i32): i32 {
  return bit < m ? bit : bit + 1;
}

export function argmaxOracle(K: i32, target: usize): void {
  const m = firstArgmax(bufY, K);
  resetSubset(K, m);
  if (K <= exactLimit) {
    if (!reachable && rowJacobian != JACOBIAN_GRAM) exactArgmaxAtCandidates(K, m, target);
    else exactArgmax(K, m, target);
  } else if (!reachable && rowJacobian != JACOBIAN_GRAM) sortedArgmax(K, m, target);
  else greedyArgmax(K, m, target);
}

/** fillSizeTables: 1/(|S| + δ) and Σ_{i≠m} (v_S)_i² = (|S| − 1)/(|S| + δ)² for |S| = 1..K into bufCandidate and bufRunning. */
function fillSizeTables(K: i32): void {
  for (let size = 1; size <= K; size++) {
    const inv = 1.0 / (<f64>size + ARGMAX_TIE_BREAK);
    store<f64>(bufCandidate + (<usize>(size - 1) << 3), inv);
    store<f64>(bufRunning + (<usize>(size - 1) << 3), <f64>(size - 1) * inv * inv);
  }
}

// ---------------------------------------------------------------- argmax beyond the limit: sorted search

/**
 * Scored at the candidates (probs, identity), v_S's objective depends on S only through |S| and the
 * sums Y = Σ_{S\{m}} y, D = Σ_{S\{m}} d. For a fixed size the best S of a linear key is the prefix
 * of the classes sorted by it. surrogate and identity: the objective falls as Y grows (fixed |S|),
 * so every prefix of one order by y, scored in O(1) each, is the exact search. probs angular: sort by
 * the objective's gradient at the best subset so far, score every prefix, re-sort at the best one
 * until it repeats; then a local polish (polishSubset). Not exact, measured (docs/CORE.md).
 */
const SORTED_ROUNDS: i32 = 8; // most re-sorts after the first order (they settle after ~3)
const POLISH_WINDOW: i32 = 8; // exchanges are tried among the 8 positions either side of the cut
const POLISH_PASSES: i32 = 8;

/** 2K f64 each: (key, class) records of one order and the merge sort's other buffer (set by batch.ts). */
let bufRecords: usize = 0;
let bufSpare: usize = 0;
/** K i32: the order (classes other than m) whose prefix is the best subset so far; the My slot, unused for probs and identity. */
let bufBestOrder: usize = 0;

export function setSearchScratch(scratch: usize, K: i32): void {
  bufRecords = scratch;
  bufSpare = scratch + (<usize>K << 4);
}

// The best subset so far: a prefix of bufBestOrder, its comparison key and norm (see candidateKey).
let bestSize: i32 = 1;
let bestKey: f64 = 0;
let bestNorm: f64 = 1;
// The last order's best prefix.
let walkSize: i32 = 1;
let walkY: f64 = 0;
let walkD: f64 = 0;
let walkKey: f64 = 0;
let walkNorm: f64 = 1;

@inline
function beats(key: f64, norm: f64, thanKey: f64, thanNorm: f64): bool {
  return rowAngular ? key * thanNorm < thanKey * norm : key > thanKey;
}

function sortedArgmax(K: i32, m: i32, target: usize): void {
  fillSizeTables(K);
  bufBestOrder = bufMy;
  const probs = rowJacobian == JACOBIAN_PROBS;
  const directional = probs && rowAngular;
  bestKey = candidateKey(1, 0, 0, probs);
  bestNorm = keyNorm;
  bestSize = 1;
  let n = 1;
  let sy = 0.0;
  let sd = 0.0;
  const rounds = directional ? SORTED_ROUNDS : 0;
  let order: usize = 0;
  for (let round = 0; round <= rounds; round++) {
    order = sortClasses(K, m, n, sy, sd, directional, order);
    walkOrder(K, order, probs);
    const improved = beats(walkKey, walkNorm, bestKey, bestNorm);
    if (improved) {
      bestKey = walkKey;
      bestNorm = walkNorm;
      bestSize = walkSize;
    }
    // The first order is kept even when {m} beats all its prefixes: the polish walks it.
    if (improved || round == 0) for (let i = 0; i < K - 1; i++) store<i32>(bufBestOrder + (<usize>i << 2), load<i32>(order + (<usize>i << 4) + 8));
    if (walkSize == n && walkY == sy && walkD == sd) break; // the order reproduces its own direction
    n = walkSize;
    sy = walkY;
    sd = walkD;
  }
  resetSubset(K, m);
  for (let i = 0; i < bestSize - 1; i++) flipMember(K, load<i32>(bufBestOrder + (<usize>i << 2)), 1.0);
  if (directional) polishSubset(K, probs);
  if (greedyRefine) refineSubset(K, m);
  materialiseSubset(K, -1, target);
}

/**
 * The classes other than m as sorted records, ascending by the key of adding them at (n, Y, D):
 * the gradient of cross/√norm there is ∝ (cross, cross − norm) in (Y, D), i.e. the key
 * cross·p_k − norm·d_k (p_k = y_k + d_k); not directional: y_k. `previous`: the last order's
 * buffer (0: none yet, start in class order). Returns the sorted buffer.
 */
function sortClasses(K: i32, m: i32, n: i32, sy: f64, sd: f64, directional: bool, previous: usize): usize {
  let cross = 0.0;
  let norm = 0.0;
  if (directional) {
    const inv = load<f64>(bufCandidate + (<usize>(n - 1) << 3));
    const cm = (1 + ARGMAX_TIE_BREAK) * inv;
    const uu = squaredGap(cm, sy * inv, load<f64>(bufRunning + (<usize>(n - 1) << 3)));
    const shift = gapDotD(cm, sd * inv);
    cross = dd - shift;
    norm = dd - 2 * shift + uu;
  }
  if (previous == 0) {
    let count = 0;
    for (let k = 0; k < K; k++) {
      if (k == m) continue;
      store<i32>(bufRecords + (<usize>count << 4) + 8, k);
      count++;
    }
    previous = bufRecords;
  }
  // Re-key the previous order in place: the new order is close to it, and the sort is faster on runs.
  for (let i = 0; i < K - 1; i++) {
    const record = previous + (<usize>i << 4);
    const k = load<i32>(record + 8);
    const yk = at(bufY, k);
    let key = yk;
    if (directional) {
      const dk = at(bufD, k);
      key = cross * (yk + dk) - norm * dk;
    }
    store<f64>(record, key);
  }
  return sortRecords(previous, previous == bufRecords ? bufSpare : bufRecords, K - 1);
}

/** Scores every prefix {m} ∪ order[0..i] in O(1) each; leaves the best (first on ties) in walk*. */
function walkOrder(K: i32, order: usize, probs: bool): void {
  walkKey = candidateKey(1, 0, 0, probs);
  walkNorm = keyNorm;
  walkSize = 1;
  walkY = 0;
  walkD = 0;
  let sy = 0.0;
  let sd = 0.0;
  for (let i = 0; i < K - 1; i++) {
    const k = load<i32>(order + (<usize>i << 4) + 8);
    sy += at(bufY, k);
    if (probs) sd += at(bufD, k);
    const key = candidateKey(i + 2, sy, sd, probs);
    if (beats(key, keyNorm, walkKey, walkNorm)) {
      walkKey = key;
      walkNorm = keyNorm;
      walkSize = i + 2;
      walkY = sy;
      walkD = sd;
    }
  }
}

/**
 * Polish: the best prefix is optimal for the linearised objective, not always for the true one (it
 * is not linear in Y, D). Each pass takes the best strict improvement among removing any member
 * other than m, adding any other class, and exchanging a member for a non-member within
 * POLISH_WINDOW positions of the cut of the best order; at most POLISH_PASSES passes. The subset is
 * the current one (resetSubset/flipMember state); bestKey/bestNorm its key.
 */
function polishSubset(K: i32, probs: bool): void {
  const cut = bestSize - 1;
  const first = max<i32>(0, cut - POLISH_WINDOW);
  const last = min<i32>(K - 1, cut + POLISH_WINDOW);
  for (let pass = 0; pass < POLISH_PASSES; pass++) {
    let moveOut = -1;
    let moveIn = -1;
    for (let i = 0; i < K - 1; i++) {
      const k = load<i32>(bufBestOrder + (<usize>i << 2));
      const inside = load<u8>(bufMember + <usize>k) != 0;
      const sign = inside ? -1.0 : 1.0;
      const key = candidateKey(subsetSize + (inside ? -1 : 1), sumY + sign * at(bufY, k), sumD + sign * at(bufD, k), probs);
      if (beats(key, keyNorm, bestKey, bestNorm)) {
        bestKey = key;
        bestNorm = keyNorm;
        moveOut = inside ? k : -1;
        moveIn = inside ? -1 : k;
      }
    }
    for (let i = first; i < last; i++) {
      const out = load<i32>(bufBestOrder + (<usize>i << 2));
      if (!load<u8>(bufMember + <usize>out)) continue;
      for (let j = first; j < last; j++) {
        const inn = load<i32>(bufBestOrder + (<usize>j << 2));
        if (load<u8>(bufMember + <usize>inn)) continue;
        const key = candidateKey(subsetSize, sumY - at(bufY, out) + at(bufY, inn), sumD - at(bufD, out) + at(bufD, inn), probs);
        if (beats(key, keyNorm, bestKey, bestNorm)) {
          bestKey = key;
          bestNorm = keyNorm;
          moveOut = out;
          moveIn = inn;
        }
      }
    }
    if (moveOut < 0 && moveIn < 0) break;
    if (moveOut >= 0) flipMember(K, moveOut, -1.0);
    if (moveIn >= 0) flipMember(K, moveIn, 1.0);
  }
}

// The key of the last subset scored by candidateKey, and the norm it is divided by (angular).
let keyNorm: f64 = 1;

/**
 * Comparison key of v_S (paper's heuristic: scored at the candidate) for probs / identity rows.
 * Angular: H is largest where cos = cross/√(norm·const) is smallest; return cross·|cross| and leave
 * norm in keyNorm, so candidates compare by cross-multiplication (no sqrt, no division).
 * Surrogate: ‖v − y‖², larger is better.
 */
@inline
function candidateKey(n: i32, syRest: f64, sdRest: f64, probs: bool): f64 {
  // 1/(|S| + δ) and Σ_{i≠m} (v_S)_i² depend on |S| only: tabulated per row (bufCandidate, bufRunning).
  const inv = load<f64>(bufCandidate + (<usize>(n - 1) << 3));
  const cm = (1 + ARGMAX_TIE_BREAK) * inv;
  const cyRest = syRest * inv;
  const ccRest = load<f64>(bufRunning + (<usize>(n - 1) << 3));
  const uu = squaredGap(cm, cyRest, ccRest);
  if (!rowAngular) return uu;
  if (probs) {
    const shift = gapDotD(cm, sdRest * inv);
    const cross = dd - shift;
    const norm = dd - 2 * shift + uu;
    if (norm <= VANISHING_RELATIVE * vanishingScale(1.0, uu, ccRest)) {
      keyNorm = 1; // ã = 0: limit along the segment is cos = 1 (H = 0)
      return dd;
    }
    keyNorm = norm;
    return cross * abs<f64>(cross);
  }
  const cy = cm * topY + cyRest;
  keyNorm = cm * cm + ccRest;
  return cy * cy;
}

/** Exact MAD-argmax scored at the candidates, for probs and identity rows: O(1) per subset. */
function exactArgmaxAtCandidates(K: i32, m: i32, target: usize): void {
  const probs = rowJacobian == JACOBIAN_PROBS;
  const angular = rowAngular;
  fillSizeTables(K);
  // y and d of the classes other than m, indexed by Gray-code bit (bufMy and the member slot are
  // free in this mode); membership lives in a local bit mask.
  const yByBit = bufMy;
  const dByBit = bufMember;
  for (let bit = 0; bit < K - 1; bit++) {
    const j = classOfBit(bit, m);
    store<f64>(yByBit + (<usize>bit << 3), at(bufY, j));
    store<f64>(dByBit + (<usize>bit << 3), probs ? at(bufD, j) : 0.0);
  }
  // Two Gray walks side by side in the two SIMD lanes: lane 0 over the subsets without the last
  // class bit ("top"), lane 1 over the same subsets plus top. Lane 1 visits the second half of the
  // Gray order backwards, so it keeps the *last* maximum it sees (>=) to keep the first in order.
  const topBit = K - 2; // K >= 2: bit index of the last class other than m
  const lastY = K >= 2 ? load<f64>(yByBit + (<usize>topBit << 3)) : 0.0;
  const lastD = K >= 2 ? load<f64>(dByBit + (<usize>topBit << 3)) : 0.0;
  // Candidates split at m (see squaredGap): c_m = (1 + δ)/(n + δ), sums over S \ {m}.
  const vTieMass = f64x2.splat(1 + ARGMAX_TIE_BREAK);
  const vym = f64x2.splat(topY);
  const vdm = f64x2.splat(topD);
  const vyyRest = f64x2.splat(yyRest);
  const vdyRest = f64x2.splat(dyRest);
  const vdd = f64x2.splat(dd);
  const zero = f64x2.splat(0);
  const one = f64x2.splat(1);
  const two = f64x2.splat(2);
  const vanishing = f64x2.splat(VANISHING_RELATIVE);
  const laneOne = i64x2(0, -1);
  let n = 1; // |S| in lane 0; lane 1 has one more
  let sy = f64x2(0, lastY); // Σ_{S \ {m}} y
  let sd = f64x2(0, lastD);
  let mask: i32 = 0;
  let bestKey = zero;
  let bestNorm = one;
  let bestCode = i64x2(0, 1 << topBit);
  const count: i32 = 1 << (K - 2);
  for (let i: i32 = 0; i < count; i++) {
    if (i > 0) {
      const bit = ctz<i32>(i);
      const offset = <usize>bit << 3;
      const yj = f64x2.splat(load<f64>(yByBit + offset));
      const dj = f64x2.splat(load<f64>(dByBit + offset));
      mask ^= 1 << bit;
      if (mask & (1 << bit)) {
        n++;
        sy = f64x2.add(sy, yj);
        sd = f64x2.add(sd, dj);
      } else {
        n--;
        sy = f64x2.sub(sy, yj);
        sd = f64x2.sub(sd, dj);
      }
    }
    const sizeOffset = <usize>(n - 1) << 3;
    const inv = v128.load(bufCandidate + sizeOffset); // 1/(n + δ), 1/(n + 1 + δ)
    const ccRest = v128.load(bufRunning + sizeOffset);
    const cm = f64x2.mul(vTieMass, inv);
    const gap = f64x2.sub(cm, vym);
    const cyRest = f64x2.mul(sy, inv);
    const rest = f64x2.max(f64x2.sub(f64x2.add(ccRest, vyyRest), f64x2.mul(two, cyRest)), zero);
    const uu = f64x2.add(f64x2.mul(gap, gap), rest);
    let key: v128;
    let norm = one;
    if (!angular) key = uu;
    else if (probs) {
      const shift = f64x2.sub(f64x2.add(f64x2.mul(gap, vdm), f64x2.mul(sd, inv)), vdyRest);
      const cross = f64x2.sub(vdd, shift);
      norm = f64x2.add(f64x2.sub(vdd, f64x2.mul(two, shift)), uu);
      const scale = f64x2.add(vdd, f64x2.add(uu, f64x2.add(ccRest, vyyRest))); // vanishingScale(1, uu, ccRest)
      const gone = f64x2.le(norm, f64x2.mul(vanishing, scale)); // ã = 0: limit cos = 1 (H = 0)
      key = v128.bitselect(vdd, f64x2.mul(cross, f64x2.abs(cross)), gone);
      norm = v128.bitselect(one, norm, gone);
    } else {
      const cy = f64x2.add(f64x2.mul(cm, vym), cyRest);
      key = f64x2.mul(cy, cy);
      norm = f64x2.add(f64x2.mul(cm, cm), ccRest);
    }
    let better: v128;
    if (angular) {
      const lhs = f64x2.mul(key, bestNorm);
      const rhs = f64x2.mul(bestKey, norm);
      better = v128.bitselect(f64x2.le(lhs, rhs), f64x2.lt(lhs, rhs), laneOne);
    } else {
      better = v128.bitselect(f64x2.ge(key, bestKey), f64x2.gt(key, bestKey), laneOne);
    }
    if (i == 0) better = i64x2.splat(-1);
    if (v128.any_true(better)) {
      bestKey = v128.bitselect(key, bestKey, better);
      bestNorm = v128.bitselect(norm, bestNorm, better);
      bestCode = v128.bitselect(i64x2(mask, mask | (1 << topBit)), bestCode, better);
    }
  }
  // Lane 0's subsets come first in Gray order: lane 1 wins only when strictly better.
  const key0 = f64x2.extract_lane(bestKey, 0);
  const key1 = f64x2.extract_lane(bestKey, 1);
  const norm0 = f64x2.extract_lane(bestNorm, 0);
  const norm1 = f64x2.extract_lane(bestNorm, 1);
  const laneOneWins = angular ? key1 * norm0 < key0 * norm1 : key1 > key0;
  const bestCodeScalar = <i32>(laneOneWins ? i64x2.extract_lane(bestCode, 1) : i64x2.extract_lane(bestCode, 0));
  resetSubset(K, m);
  for (let bit = 0; bit < K - 1; bit++) if ((bestCodeScalar >> bit) & 1) flipMember(K, classOfBit(bit, m), 1.0);
  materialiseSubset(K, -1, target);
}

/** All 2^(K−1) subsets in Gray-code order: one class flips per step, so each is O(1) (gram O(K)). */
function exactArgmax(K: i32, m: i32, target: usize): void {
  let best = scoreSubset(K, -1);
  let bestCode: i32 = 0;
  const count: i32 = 1 << (K - 1);
  for (let i: i32 = 1; i < count; i++) {
    const bit = ctz<i32>(i);
    const j = classOfBit(bit, m);
    const adding = load<u8>(bufMember + <usize>j) == 0;
    flipMember(K, j, adding ? 1.0 : -1.0);
    const score = scoreSubset(K, -1);
    if (score > best) {
      best = score;
      bestCode = i ^ (i >> 1);
    }
  }
  // Rebuild the winner from its Gray code.
  resetSubset(K, m);
  for (let bit = 0; bit < K - 1; bit++) if ((bestCode >> bit) & 1) flipMember(K, classOfBit(bit, m), 1.0);
  materialiseSubset(K, -1, target);
}

/**
 * Greedy beyond the exact limit for the general scoring (gram, reachable), where the score does not
 * split into per-class sums: grow F from {m}, each round adding the class whose F ∪ {k} scores
 * best; stop as soon as a round fails to beat the best subset seen (a local maximum for "add one").
 */
function greedyArgmax(K: i32, m: i32, target: usize): void {
  if (greedyRefine) {
    greedyFullPath(K, m);
    refineSubset(K, m);
    materialiseSubset(K, -1, target);
    return;
  }
  let best = scoreSubset(K, -1);
  while (subsetSize < K) {
    const roundClass = greedyRound(K);
    if (!(roundScore > best)) break;
    best = roundScore;
    flipMember(K, roundClass, 1.0);
  }
  // Every accepted round improved on all before it, so the current F is the best subset seen.
  materialiseSubset(K, -1, target);
}

/** One greedy round: the class outside F whose F ∪ {k} scores best (first on ties); its score in roundScore. */
let roundScore: f64 = 0;
function greedyRound(K: i32): i32 {
  let roundBest = -Infinity;
  let roundClass = -1;
  for (let k = 0; k < K; k++) {
    if (load<u8>(bufMember + <usize>k)) continue;
    const score = scoreSubset(K, k);
    if (score > roundBest) {
      roundBest = score;
      roundClass = k;
    }
  }
  roundScore = roundBest;
  return roundClass;
}

/**
 * argmaxRefine, general scoring (gram, reachable): the greedy without its early stop. It walks the
 * whole path {m} ⊂ F_2 ⊂ ... ⊂ all classes and leaves F at the best subset on it (replaying the path
 * up to there), since with `reachable` the score along the path often dips before it rises.
 */
function greedyFullPath(K: i32, m: i32): void {
  let best = scoreSubset(K, -1);
  let bestSize = 1;
  while (subsetSize < K) {
    const k = greedyRound(K);
    if (k < 0) break;
    flipMember(K, k, 1.0);
    if (roundScore > best) {
      best = roundScore;
      bestSize = subsetSize;
    }
  }
  resetSubset(K, m);
  while (subsetSize < bestSize) flipMember(K, greedyRound(K), 1.0);
}

/** A move must beat the current subset by this much (relative) to count: no ping-pong on rounding. */
const REFINE_MIN_GAIN: f64 = 1e-12;

/**
 * Local search after the greedy (argmaxRefine): each pass scores every neighbour of S (add one class,
 * remove one class other than m, or exchange one member other than m for one non-member) and takes
 * the best strict improvement; stops when none improves, after at most K passes. A pass is
 * |S|·(K − |S|) + K candidates, each O(1) from the running sums (gram: O(K) per removal tried;
 * reachable L1/KL: O(K) per candidate).
 */
function refineSubset(K: i32, m: i32): void {
  let best = scoreSubset(K, -1);
  for (let pass = 0; pass < K; pass++) {
    let moveScore = best + REFINE_MIN_GAIN * max<f64>(abs<f64>(best), 1.0);
    let moveOut = -1;
    let moveIn = -1;
    let found = false;
    for (let k = 0; k < K; k++) {
      if (load<u8>(bufMember + <usize>k)) continue;
      const score = scoreSubset(K, k);
      if (score > moveScore) {
        moveScore = score;
        moveOut = -1;
        moveIn = k;
        found = true;
      }
    }
    for (let i = 0; i < K; i++) {
      if (i == m || !load<u8>(bufMember + <usize>i)) continue;
      flipMember(K, i, -1.0);
      const removed = scoreSubset(K, -1);
      if (removed > moveScore) {
        moveScore = removed;
        moveOut = i;
        moveIn = -1;
        found = true;
      }
      for (let j = 0; j < K; j++) {
        if (j == i || load<u8>(bufMember + <usize>j)) continue;
        const score = scoreSubset(K, j);
        if (score > moveScore) {
          moveScore = score;
          moveOut = i;
          moveIn = j;
          found = true;
        }
      }
      flipMember(K, i, 1.0);
    }
    if (!found) break;
    if (moveOut >= 0) flipMember(K, moveOut, -1.0);
    if (moveIn >= 0) flipMember(K, moveIn, 1.0);
    best = scoreSubset(K, -1);
  }
}
