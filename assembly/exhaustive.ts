// MAD-argmax's exhaustive search up to the exact limit: all 2^(K−1) subsets S ∋ m in Gray-code order,
// one class joining or leaving per step, so each subset is scored from running sums. Two scorers:
// the candidate key (probs, identity scored at the candidates: objectives.ts keyAtCandidate, compared
// by cross-multiplication) and the full score of a subset (gram, reachable: subsets.ts scoreSubset).
// The candidate key walks in two SIMD lanes: lane 0 over the subsets without the last class other
// than m ("top"), lane 1 over the same subsets plus top, which is the second half of the Gray order
// backwards. The full score walks lane 0 alone through the whole order: its running sums (and M·1_S)
// follow the path walked, so a second lane would round the second half differently and could change
// which of exactly tied subsets wins (a rank-one M ties every candidate at cos = ±1). Ties: the first
// subset in Gray order.
import { Row } from "./context";
import { JACOBIAN_PROBS, ARGMAX_TIE_BREAK, VANISHING_RELATIVE } from "./objectives";
import { flipMember, materialiseSubset, resetSubset, scoreSubset, subsetFromCode } from "./subsets";

@inline
function classOfBit(bit: i32, m: i32): i32 {
  return bit < m ? bit : bit + 1; // bit b: the b-th class other than m
}

/** Bytes of laneTerms per lane-0 size: five pairs of f64 (the term at sizes n and n + 1). */
const LANE_TERM_BYTES: usize = 80;

/**
 * keyAtCandidate's terms that depend on n = |S| only, each computed as the key computes it (so the
 * walk's keys are the same bits), interleaved for the two lanes (sizes n and n + 1): 1/(n + δ),
 * Σ_{i≠m} c_i² + Σ_{i≠m} y_i², (c_m − y_m)², (c_m − y_m)·d_m (probs) or c_m·y_m (identity), and
 * c_m² + Σ_{i≠m} c_i², with c_m = (1 + δ)/(n + δ).
 */
function fillLaneTerms(row: Row, probs: bool): void {
  const topY = row.topY;
  const topD = row.topD;
  const yyRest = row.yyRest;
  for (let size = 1; size <= row.K; size++) {
    const inv = load<f64>(row.sizeInverse + (<usize>(size - 1) << 3));
    const ccRest = load<f64>(row.sizeSquares + (<usize>(size - 1) << 3));
    const cm = (1 + ARGMAX_TIE_BREAK) * inv;
    const gap = cm - topY;
    // Record r holds size r + 1 in lane 0 and size r + 2 in lane 1.
    for (let lane = 0; lane < 2; lane++) {
      const record = size - 1 - lane;
      if (record < 0 || record >= row.K - 1) continue;
      const at = row.laneTerms + <usize>record * LANE_TERM_BYTES + (<usize>lane << 3);
      store<f64>(at, inv);
      store<f64>(at + 16, ccRest + yyRest);
      store<f64>(at + 32, gap * gap);
      store<f64>(at + 48, probs ? gap * topD : cm * topY);
      store<f64>(at + 64, cm * cm + ccRest);
    }
  }
}

/** Writes the best v_S into row.target; atCandidates: the probs/identity key, else scoreSubset. */
export function exhaustiveArgmax(row: Row, atCandidates: bool): void {
  const K = row.K;
  const m = row.topClass;
  const topBit = K - 2; // K >= 2: bit of the last class other than m
  const probs = row.jacobian == JACOBIAN_PROBS;
  const angular = row.angular;
  // Candidate keys: y and d by Gray-code bit, and the per-size terms, read two sizes at a time.
  const yByBit = row.yByBit;
  const dByBit = row.dByBit;
  const laneTerms = row.laneTerms;
  let byRatio = false; // compare keys by cross-multiplication with norms (angular keys)
  let lastY = 0.0;
  let lastD = 0.0;
  if (atCandidates) {
    fillLaneTerms(row, probs);
    for (let bit = 0; bit < K - 1; bit++) {
      const j = classOfBit(bit, m);
      const yj = load<f64>(row.y + (<usize>j << 3));
      const dj = probs ? load<f64>(row.d + (<usize>j << 3)) : 0.0;
      store<f64>(yByBit + (<usize>bit << 4), yj);
      store<f64>(yByBit + (<usize>bit << 4) + 8, -yj);
      store<f64>(dByBit + (<usize>bit << 4), dj);
      store<f64>(dByBit + (<usize>bit << 4) + 8, -dj);
    }
    lastY = load<f64>(yByBit + (<usize>topBit << 4));
    lastD = load<f64>(dByBit + (<usize>topBit << 4));
    byRatio = angular;
  } else {
    resetSubset(row, row.subset);
  }
  const lanes = atCandidates ? 2 : 1;
  const vdyRest = f64x2.splat(row.dyRest);
  const vdd = f64x2.splat(row.dd);
  const zero = f64x2.splat(0);
  const one = f64x2.splat(1);
  const two = f64x2.splat(2);
  const vanishing = f64x2.splat(VANISHING_RELATIVE);
  const vanishingBound = f64x2.splat(VANISHING_RELATIVE * (row.dd + 16));
  const laneOne = i64x2(0, -1);
  let terms = laneTerms; // the lane terms of |S| in lane 0 (lane 1 has one more)
  let sy = f64x2(0, lastY); // Σ_{S \ {m}} y
  let sd = f64x2(0, lastD);
  let mask: i32 = 0;
  // The first subset of each lane beats these (keys are finite and norms positive).
  let bestKey = f64x2.splat(byRatio ? Infinity : -Infinity);
  let bestNorm = byRatio ? zero : one;
  let bestCode = i64x2(0, 1 << topBit);
  const count: i32 = 1 << (K - lanes);
  for (let i: i32 = 0; ; ) {
    let key: v128;
    let norm = one;
    if (atCandidates) {
      // keyAtCandidate for both lanes at once (sizes n and n + 1).
      const inv = v128.load(terms);
      const ccYy = v128.load(terms, 16);
      const cyRest = f64x2.mul(sy, inv);
      const restRaw = f64x2.sub(ccYy, f64x2.mul(two, cyRest));
      const rest = v128.and(restRaw, f64x2.gt(restRaw, zero)); // max(·, 0), exact for finite values and cheaper than f64x2.max
      const uu = f64x2.add(v128.load(terms, 32), rest);
      if (!angular) key = uu;
      else if (probs) {
        const shift = f64x2.sub(f64x2.add(v128.load(terms, 48), f64x2.mul(sd, inv)), vdyRest);
        const cross = f64x2.sub(vdd, shift);
        norm = f64x2.add(f64x2.sub(vdd, f64x2.mul(two, shift)), uu);
        key = f64x2.mul(cross, f64x2.abs(cross));
        // ã = 0 (limit cos = 1, H = 0) needs norm <= VANISHING_RELATIVE·vanishingScale(1, uu, ccRest),
        // and that scale is below dd + 16 (on the simplex uu <= 3 and ccRest, yyRest <= 1): test the bound first.
        if (v128.any_true(f64x2.le(norm, vanishingBound))) {
          const scale = f64x2.add(vdd, f64x2.add(uu, ccYy));
          const gone = f64x2.le(norm, f64x2.mul(vanishing, scale));
          key = v128.bitselect(vdd, key, gone);
          norm = v128.bitselect(one, norm, gone);
        }
      } else {
        const cy = f64x2.add(v128.load(terms, 48), cyRest); // c_m·y_m + Σ_{i≠m} c_i y_i
        key = f64x2.mul(cy, cy);
        norm = v128.load(terms, 64);
      }
    } else {
      key = f64x2(scoreSubset(row, row.subset, -1), -Infinity); // lane 1 unused: it never wins
    }
    // Lane 1 walks its half backwards, so it keeps the last of equal keys (>=): the first in order.
    let better: v128;
    if (byRatio) {
      const lhs = f64x2.mul(key, bestNorm);
      const rhs = f64x2.mul(bestKey, norm);
      better = v128.bitselect(f64x2.le(lhs, rhs), f64x2.lt(lhs, rhs), laneOne);
    } else {
      better = v128.bitselect(f64x2.ge(key, bestKey), f64x2.gt(key, bestKey), laneOne);
    }
    if (v128.any_true(better)) {
      bestKey = v128.bitselect(key, bestKey, better);
      bestNorm = v128.bitselect(norm, bestNorm, better);
      bestCode = v128.bitselect(i64x2(mask, mask | (1 << topBit)), bestCode, better);
    }
    if (++i == count) break;
    // The next subset in Gray order: bit ctz(i) joins or leaves.
    const bit = ctz<i32>(i);
    mask ^= 1 << bit;
    const adding = (mask & (1 << bit)) != 0;
    if (atCandidates) {
      // No branch on joining or leaving (they alternate unpredictably): add +v or −v, and x + (−v) is x − v exactly.
      const offset = (<usize>bit << 4) + (adding ? 0 : 8);
      terms += adding ? LANE_TERM_BYTES : -LANE_TERM_BYTES;
      sy = f64x2.add(sy, v128.load64_splat(yByBit + offset));
      sd = f64x2.add(sd, v128.load64_splat(dByBit + offset));
    } else {
      flipMember(row, row.subset, classOfBit(bit, m), adding ? 1.0 : -1.0);
    }
  }
  // Lane 0's subsets come first in Gray order: lane 1 wins only when strictly better.
  const key0 = f64x2.extract_lane(bestKey, 0);
  const key1 = f64x2.extract_lane(bestKey, 1);
  const norm0 = f64x2.extract_lane(bestNorm, 0);
  const norm1 = f64x2.extract_lane(bestNorm, 1);
  const lane1Wins = byRatio ? key1 * norm0 < key0 * norm1 : key1 > key0;
  const code = <i32>(lane1Wins ? i64x2.extract_lane(bestCode, 1) : i64x2.extract_lane(bestCode, 0));
  subsetFromCode(row, row.subset, code);
  materialiseSubset(row, row.subset, -1, row.target);
}
