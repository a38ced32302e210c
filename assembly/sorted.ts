// MAD-argmax's sorted search beyond the exact limit (probs, identity, scored at the candidates):
// v_S's objective depends on S only through |S| and the sums Y = Σ_{S\{m}} y, D = Σ_{S\{m}} d, and
// for a fixed size the best S of a linear key is a prefix of the classes sorted by it. surrogate and
// identity: the objective falls as Y grows (fixed |S|), so the prefixes of one order by y are the
// exact search. probs angular: sort by the objective's gradient at the best subset so far, score
// every prefix, re-sort at the best one until it repeats; then a local polish. Not exact, measured
// in docs/CORE.md. Keys compare by objectives.ts keyAtCandidate / keyBeats.
import { Row } from "./context";
import { JACOBIAN_PROBS, ARGMAX_TIE_BREAK, gapDotD, keyAtCandidate, keyBeats, squaredGap } from "./objectives";
import { flipMember, isMember, materialiseSubset, resetSubset } from "./subsets";
import { refineSubset } from "./greedy";
import { sortRecords } from "./sort";

const SORTED_ROUNDS: i32 = 8; // most re-sorts after the first order (they settle after ~3)
const POLISH_WINDOW: i32 = 8; // exchanges are tried among the 8 positions either side of the cut
const POLISH_PASSES: i32 = 8;

@inline
function at(ptr: usize, i: i32): f64 {
  return load<f64>(ptr + (<usize>i << 3));
}

/** The class at position i of a sorted record buffer (16-byte records, class at +8). */
@inline
function recordClass(order: usize, i: i32): i32 {
  return load<i32>(order + (<usize>i << 4) + 8);
}

@inline
function orderClass(row: Row, i: i32): i32 {
  return load<i32>(row.bestOrder + (<usize>i << 2));
}

/** Writes the search's v_S into row.target. */
export function sortedArgmax(row: Row): void {
  const K = row.K;
  const probs = row.jacobian == JACOBIAN_PROBS;
  const directional = probs && row.angular;
  let best = keyAtCandidate(row, 1, 0, 0, probs);
  let bestSize = 1;
  let n = 1;
  let sy = 0.0;
  let sd = 0.0;
  const rounds = directional ? SORTED_ROUNDS : 0;
  let order: usize = 0;
  for (let round = 0; round <= rounds; round++) {
    order = sortClasses(row, n, sy, sd, directional, order);
    const walkSize = bestPrefix(row, order, probs);
    // The best prefix's sums, added in the order walked, as bestPrefix added them.
    let walkY = 0.0;
    let walkD = 0.0;
    for (let i = 0; i < walkSize - 1; i++) {
      const k = recordClass(order, i);
      walkY += at(row.y, k);
      if (probs) walkD += at(row.d, k);
    }
    const walk = keyAtCandidate(row, walkSize, walkY, walkD, probs);
    const improved = keyBeats(row, walk, best);
    if (improved) {
      best = walk;
      bestSize = walkSize;
    }
    // The first order is kept even when {m} beats all its prefixes: the polish walks it.
    if (improved || round == 0) for (let i = 0; i < K - 1; i++) store<i32>(row.bestOrder + (<usize>i << 2), recordClass(order, i));
    if (walkSize == n && walkY == sy && walkD == sd) break; // the order reproduces its own direction
    n = walkSize;
    sy = walkY;
    sd = walkD;
  }
  const s = row.subset;
  resetSubset(row, s);
  for (let i = 0; i < bestSize - 1; i++) flipMember(row, s, orderClass(row, i), 1.0);
  if (directional) polishSubset(row, best, bestSize);
  if (row.options.refine) refineSubset(row, s);
  materialiseSubset(row, s, -1, row.target);
}

/**
 * The classes other than m as sorted records, ascending by the key of adding them at (n, Y, D):
 * the gradient of cross/√norm there is ∝ (cross, cross − norm) in (Y, D), i.e. the key
 * cross·p_k − norm·d_k (p_k = y_k + d_k); not directional: y_k. `previous`: the last order's
 * buffer (0: none yet, start in class order). Returns the sorted buffer.
 */
function sortClasses(row: Row, n: i32, sy: f64, sd: f64, directional: bool, previous: usize): usize {
  const K = row.K;
  const m = row.topClass;
  const records = row.records;
  const spare = row.spareRecords;
  let cross = 0.0;
  let norm = 0.0;
  if (directional) {
    const inv = at(row.sizeInverse, n - 1);
    const cm = (1 + ARGMAX_TIE_BREAK) * inv;
    const uu = squaredGap(row, cm, sy * inv, at(row.sizeSquares, n - 1));
    const shift = gapDotD(row, cm, sd * inv);
    cross = row.dd - shift;
    norm = row.dd - 2 * shift + uu;
  }
  if (previous == 0) {
    let count = 0;
    for (let k = 0; k < K; k++) {
      if (k == m) continue;
      store<i32>(records + (<usize>count << 4) + 8, k);
      count++;
    }
    previous = records;
  }
  // Re-key the previous order in place: the new order is close to it, and the sort is faster on runs.
  for (let i = 0; i < K - 1; i++) {
    const record = previous + (<usize>i << 4);
    const k = load<i32>(record + 8);
    const yk = at(row.y, k);
    let key = yk;
    if (directional) {
      const dk = at(row.d, k);
      key = cross * (yk + dk) - norm * dk;
    }
    store<f64>(record, key);
  }
  return sortRecords(previous, previous == records ? spare : records, K - 1);
}

/** Scores every prefix {m} ∪ order[0..i] in O(1) each; returns the best one's size (first on ties). */
function bestPrefix(row: Row, order: usize, probs: bool): i32 {
  const K = row.K;
  let best = keyAtCandidate(row, 1, 0, 0, probs);
  let bestSize = 1;
  let sy = 0.0;
  let sd = 0.0;
  for (let i = 0; i < K - 1; i++) {
    const k = recordClass(order, i);
    sy += at(row.y, k);
    if (probs) sd += at(row.d, k);
    const key = keyAtCandidate(row, i + 2, sy, sd, probs);
    if (keyBeats(row, key, best)) {
      best = key;
      bestSize = i + 2;
    }
  }
  return bestSize;
}

/**
 * Polish: the best prefix is optimal for the linearised objective, not always for the true one (it
 * is not linear in Y, D). Each pass takes the best strict improvement among removing any member
 * other than m, adding any other class, and exchanging a member for a non-member within
 * POLISH_WINDOW positions of the cut of the best order; at most POLISH_PASSES passes. The subset is
 * row.subset (the best prefix of row.bestOrder, of size bestSize, whose key is `best`).
 */
function polishSubset(row: Row, best: v128, bestSize: i32): void {
  const K = row.K;
  const s = row.subset;
  const y = row.y;
  const d = row.d;
  const cut = bestSize - 1;
  const first = max<i32>(0, cut - POLISH_WINDOW);
  const last = min<i32>(K - 1, cut + POLISH_WINDOW);
  for (let pass = 0; pass < POLISH_PASSES; pass++) {
    let moveOut = -1;
    let moveIn = -1;
    for (let i = 0; i < K - 1; i++) {
      const k = orderClass(row, i);
      const inside = isMember(s, k);
      const sign = inside ? -1.0 : 1.0;
      const key = keyAtCandidate(row, s.size + (inside ? -1 : 1), s.sumY + sign * at(y, k), s.sumD + sign * at(d, k), true);
      if (keyBeats(row, key, best)) {
        best = key;
        moveOut = inside ? k : -1;
        moveIn = inside ? -1 : k;
      }
    }
    for (let i = first; i < last; i++) {
      const out = orderClass(row, i);
      if (!isMember(s, out)) continue;
      for (let j = first; j < last; j++) {
        const inn = orderClass(row, j);
        if (isMember(s, inn)) continue;
        const key = keyAtCandidate(row, s.size, s.sumY - at(y, out) + at(y, inn), s.sumD - at(d, out) + at(d, inn), true);
        if (keyBeats(row, key, best)) {
          best = key;
          moveOut = out;
          moveIn = inn;
        }
      }
    }
    if (moveOut < 0 && moveIn < 0) break;
    if (moveOut >= 0) flipMember(row, s, moveOut, -1.0);
    if (moveIn >= 0) flipMember(row, s, moveIn, 1.0);
  }
}
