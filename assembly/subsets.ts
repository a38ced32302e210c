// MAD-argmax's candidates v_S = (1_S + δ e_m)/(|S| + δ) over subsets S ∋ m (m = the top class), kept
// as running sums in a Subset (context.ts) so one class joins or leaves in O(1) (gram: O(K)), and
// scored from those sums by the row's scorer (objectives.ts).
import { Row, Subset } from "./context";
import { JACOBIAN_GRAM, JACOBIAN_PROBS, ARGMAX_TIE_BREAK, scoreOnSegment, squaredGap } from "./objectives";
import { DISTANCE_L2, clampedAlpha, lineSearchAlpha } from "./distances";

@inline
function at(ptr: usize, i: i32): f64 {
  return load<f64>(ptr + (<usize>i << 3));
}

/** S = {m}. */
export function resetSubset(row: Row, s: Subset): void {
  const K = row.K;
  const m = row.topClass;
  s.size = 1;
  s.sumY = 0;
  s.sumD = 0;
  memory.fill(s.members, 0, <usize>K);
  store<u8>(s.members + <usize>m, 1);
  if (row.jacobian == JACOBIAN_GRAM) {
    const M = row.M;
    s.sumMy = at(row.My, m);
    s.quadratic = load<f64>(M + ((<usize>m * <usize>K + <usize>m) << 3));
    memory.copy(s.running, M + ((<usize>m * <usize>K) << 3), <usize>K << 3);
  }
}

@inline
export function isMember(s: Subset, k: i32): bool {
  return load<u8>(s.members + <usize>k) != 0;
}

/** Adds (sign = 1) or removes (sign = −1) class j; O(1), O(K) for gram. */
export function flipMember(row: Row, s: Subset, j: i32, sign: f64): void {
  const K = row.K;
  store<u8>(s.members + <usize>j, sign > 0 ? 1 : 0);
  s.size += sign > 0 ? 1 : -1;
  s.sumY += sign * at(row.y, j);
  const kind = row.jacobian;
  if (kind == JACOBIAN_PROBS) s.sumD += sign * at(row.d, j);
  if (kind == JACOBIAN_GRAM) {
    const running = s.running;
    s.sumMy += sign * at(row.My, j);
    const column = row.M + ((<usize>j * <usize>K) << 3); // M symmetric: column j = row j
    const mjj = at(column, j);
    if (sign > 0) s.quadratic += 2 * at(running, j) + mjj;
    const v = f64x2.splat(sign);
    let i = 0;
    for (; i + 1 < K; i += 2) {
      const offset = <usize>i << 3;
      v128.store(running + offset, f64x2.add(v128.load(running + offset), f64x2.mul(v, v128.load(column + offset))));
    }
    if (i < K) store<f64>(running + (<usize>i << 3), at(running, i) + sign * at(column, i));
    if (sign < 0) s.quadratic -= 2 * at(running, j) + mjj;
  }
}

/** S from the bits of a Gray code (bit b: the b-th class other than m). */
export function subsetFromCode(row: Row, s: Subset, code: i32): void {
  const m = row.topClass;
  resetSubset(row, s);
  for (let bit = 0; bit < row.K - 1; bit++) if ((code >> bit) & 1) flipMember(row, s, bit < m ? bit : bit + 1, 1.0);
}

/**
 * Score of v_{S ∪ extra} (extra = −1: S itself) from the running sums, at the candidate or, with
 * `reachable` scoring, at the point the line search reaches towards it.
 */
export function scoreSubset(row: Row, s: Subset, extra: i32): f64 {
  const K = row.K;
  const m = row.topClass;
  let n = s.size;
  let sy = s.sumY;
  let sd = s.sumD;
  let sMy = s.sumMy;
  let q = s.quadratic;
  let rm = 0.0;
  const gram = row.jacobian == JACOBIAN_GRAM;
  const M = row.M;
  if (gram) rm = at(s.running, m);
  if (extra >= 0) {
    n += 1;
    sy += at(row.y, extra);
    if (row.jacobian == JACOBIAN_PROBS) sd += at(row.d, extra);
    if (gram) {
      sMy += at(row.My, extra);
      q += 2 * at(s.running, extra) + load<f64>(M + ((<usize>extra * <usize>K + <usize>extra) << 3));
      rm += load<f64>(M + ((<usize>m * <usize>K + <usize>extra) << 3));
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
    cMy = (sMy + delta * at(row.My, m)) * inv;
    const mmm = load<f64>(M + ((<usize>m * <usize>K + <usize>m) << 3));
    cMc = (q + 2 * delta * rm + delta * delta * mmm) * inv * inv;
  }
  let alpha = 1.0;
  if (row.reachable) {
    const distance = row.options.distance;
    if (distance == DISTANCE_L2) alpha = clampedAlpha(row.reachEpsilon, Math.sqrt(squaredGap(row, cm, cyRest, ccRest)));
    else {
      materialiseSubset(row, s, extra, row.candidate);
      alpha = lineSearchAlpha(distance, row.y, row.candidate, K, row.reachEpsilon);
    }
  }
  return scoreOnSegment(row, alpha, cm, cyRest, cdRest, ccRest, cMy, cMc);
}

/** Writes v_{S ∪ extra} into out. */
export function materialiseSubset(row: Row, s: Subset, extra: i32, out: usize): void {
  const K = row.K;
  const n = s.size + (extra >= 0 ? 1 : 0);
  const inv = 1.0 / (<f64>n + ARGMAX_TIE_BREAK);
  for (let i = 0; i < K; i++) store<f64>(out + (<usize>i << 3), load<u8>(s.members + <usize>i) ? inv : 0.0);
  if (extra >= 0) store<f64>(out + (<usize>extra << 3), inv);
  store<f64>(out + (<usize>row.topClass << 3), (1 + ARGMAX_TIE_BREAK) * inv);
}
