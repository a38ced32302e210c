// MAD-argmax's greedy search beyond the exact limit, for the scorings that do not split into
// per-class sums (gram, reachable): grow S from {m}, each round adding the class whose S ∪ {k}
// scores best (subsets.ts scoreSubset); stop at the first round that does not beat the best subset
// seen. With argmaxRefine: the whole greedy path, then local search (refineSubset), which the sorted
// search (sorted.ts) uses too. The subset is row.subset.
import { Row, Subset } from "./context";
import { flipMember, isMember, materialiseSubset, resetSubset, scoreSubset } from "./subsets";

/** Writes the greedy's v_S into row.target. */
export function greedyArgmax(row: Row): void {
  const K = row.K;
  const s = row.subset;
  resetSubset(row, s);
  if (row.options.refine) {
    greedyFullPath(row, s);
    refineSubset(row, s);
    materialiseSubset(row, s, -1, row.target);
    return;
  }
  let best = scoreSubset(row, s, -1);
  while (s.size < K) {
    const k = greedyRound(row, s);
    if (k < 0) break;
    const score = scoreSubset(row, s, k);
    if (!(score > best)) break;
    best = score;
    flipMember(row, s, k, 1.0);
  }
  // Every accepted round improved on all before it, so the current S is the best subset seen.
  materialiseSubset(row, s, -1, row.target);
}

/** One greedy round: the class outside S whose S ∪ {k} scores best (first on ties); −1 if none. */
function greedyRound(row: Row, s: Subset): i32 {
  let roundBest = -Infinity;
  let roundClass = -1;
  for (let k = 0; k < row.K; k++) {
    if (isMember(s, k)) continue;
    const score = scoreSubset(row, s, k);
    if (score > roundBest) {
      roundBest = score;
      roundClass = k;
    }
  }
  return roundClass;
}

/**
 * argmaxRefine: the greedy without its early stop. It walks the whole path {m} ⊂ S_2 ⊂ ... ⊂ all
 * classes and leaves S at the best subset on it (replaying the path up to there), since with
 * `reachable` the score along the path often dips before it rises.
 */
function greedyFullPath(row: Row, s: Subset): void {
  const K = row.K;
  let best = scoreSubset(row, s, -1);
  let bestSize = 1;
  while (s.size < K) {
    const k = greedyRound(row, s);
    if (k < 0) break;
    const score = scoreSubset(row, s, k);
    flipMember(row, s, k, 1.0);
    if (score > best) {
      best = score;
      bestSize = s.size;
    }
  }
  resetSubset(row, s);
  while (s.size < bestSize) flipMember(row, s, greedyRound(row, s), 1.0);
}

/** A move must beat the current subset by this much (relative) to count: no ping-pong on rounding. */
const REFINE_MIN_GAIN: f64 = 1e-12;

/**
 * Local search (argmaxRefine): each pass scores every neighbour of S (add one class, remove one
 * class other than m, or exchange one member other than m for one non-member) and takes the best
 * strict improvement; stops when none improves, after at most K passes. A pass is |S|·(K − |S|) + K
 * candidates, each O(1) from the running sums (gram: O(K) per removal tried; reachable L1/KL: O(K)
 * per candidate).
 */
export function refineSubset(row: Row, s: Subset): void {
  const K = row.K;
  const m = row.topClass;
  let best = scoreSubset(row, s, -1);
  for (let pass = 0; pass < K; pass++) {
    let moveScore = best + REFINE_MIN_GAIN * max<f64>(abs<f64>(best), 1.0);
    let moveOut = -1;
    let moveIn = -1;
    let found = false;
    for (let k = 0; k < K; k++) {
      if (isMember(s, k)) continue;
      const score = scoreSubset(row, s, k);
      if (score > moveScore) {
        moveScore = score;
        moveOut = -1;
        moveIn = k;
        found = true;
      }
    }
    for (let i = 0; i < K; i++) {
      if (i == m || !isMember(s, i)) continue;
      flipMember(row, s, i, -1.0);
      const removed = scoreSubset(row, s, -1);
      if (removed > moveScore) {
        moveScore = removed;
        moveOut = i;
        moveIn = -1;
        found = true;
      }
      for (let j = 0; j < K; j++) {
        if (j == i || isMember(s, j)) continue;
        const score = scoreSubset(row, s, j);
        if (score > moveScore) {
          moveScore = score;
          moveOut = i;
          moveIn = j;
          found = true;
        }
      }
      flipMember(row, s, i, 1.0);
    }
    if (!found) break;
    if (moveOut >= 0) flipMember(row, s, moveOut, -1.0);
    if (moveIn >= 0) flipMember(row, s, moveIn, 1.0);
    best = scoreSubset(row, s, -1);
  }
}
