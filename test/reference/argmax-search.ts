// Float64 TypeScript versions of the core's MAD-argmax searches beyond the exact limit, for the
// paper's heuristic (candidates scored at themselves) with the `probs` and `identity` Jacobians:
//   greedyArgmaxBySums: the core's former greedy (add the best class per round, stop at the first
//     round that does not improve), O(K²) candidates from running sums;
//   sortedArgmax: the core's sorted search (assembly/sorted.ts), O(K log K) per order.
// Both return the members of S (m included) and the objective value of v_S (smaller is better).
// Used by the tests and by bench/_argmax-gap.ts to compare the two at K = 100 and 1000 (the O(K³)
// reference oracle in mad.ts is too slow there). Rows must sum to 1 (the core divides by the sum).

export const ARGMAX_TIE_BREAK = 1e-5;
const VANISHING_RELATIVE = 1e-14;

export interface SearchRow {
  y: ArrayLike<number>;
  /** The proxy's softmax (probs Jacobian); undefined: identity. */
  p?: ArrayLike<number>;
  angular: boolean;
}

export interface SearchResult {
  members: Uint8Array;
  size: number;
  /** cos(p − v_S, p − y) (probs) or cos(v_S, y) (identity) for angular (smaller is better), −‖v_S − y‖² for surrogate. */
  value: number;
}

/** The row constants of assembly/objectives.ts (prepareRowProbs / prepareRowIdentity). */
class Row {
  K: number;
  y: Float64Array;
  d: Float64Array;
  probs: boolean;
  angular: boolean;
  m = 0;
  topY = 0;
  topD = 0;
  yyRest = 0;
  dyRest = 0;
  dd = 0;
  yy = 0;
  constructor(row: SearchRow) {
    const K = row.y.length;
    this.K = K;
    this.y = Float64Array.from(row.y);
    this.probs = row.p !== undefined;
    this.d = new Float64Array(K);
    if (row.p) for (let i = 0; i < K; i++) this.d[i] = row.p[i] - row.y[i];
    for (let i = 0; i < K; i++) {
      this.dd += this.d[i] * this.d[i];
      this.yy += row.y[i] * row.y[i];
      if (row.y[i] > row.y[this.m]) this.m = i;
    }
    for (let i = 0; i < K; i++) {
      if (i === this.m) continue;
      this.yyRest += row.y[i] * row.y[i];
      this.dyRest += this.d[i] * row.y[i];
    }
    this.topY = row.y[this.m];
    this.topD = this.d[this.m];
    this.angular = row.angular && (!this.probs || this.dd > 1e-24);
  }

  /** Key of v_S with |S| = n and sums Y, D over S \ {m}: [key, norm] compared as key/norm (angular, smaller better) or key (surrogate, larger better). */
  key(n: number, Y: number, D: number): [number, number] {
    const inv = 1 / (n + ARGMAX_TIE_BREAK);
    const cm = (1 + ARGMAX_TIE_BREAK) * inv;
    const cyRest = Y * inv;
    const ccRest = (n - 1) * inv * inv;
    const gap = cm - this.topY;
    const uu = gap * gap + Math.max(ccRest - 2 * cyRest + this.yyRest, 0);
    if (!this.angular) return [uu, 1];
    if (this.probs) {
      const shift = gap * this.topD + D * inv - this.dyRest;
      const cross = this.dd - shift;
      const norm = this.dd - 2 * shift + uu;
      if (norm <= VANISHING_RELATIVE * (this.dd + uu + ccRest + this.yyRest)) return [this.dd, 1];
      return [cross * Math.abs(cross), norm];
    }
    const cy = cm * this.topY + cyRest;
    return [cy * cy, cm * cm + ccRest];
  }

  better(a: [number, number], b: [number, number]): boolean {
    return this.angular ? a[0] * b[1] < b[0] * a[1] : a[0] > b[0];
  }

  /** The comparable value of a key: cos (angular, as sign·√(key/norm·dd)) or −uu. */
  value(k: [number, number]): number {
    if (!this.angular) return -k[0];
    const c2 = k[0] / k[1] / (this.probs ? this.dd : this.yy);
    return Math.sign(c2) * Math.sqrt(Math.abs(c2));
  }
}

export function greedyArgmaxBySums(row: SearchRow): SearchResult {
  const r = new Row(row);
  const { K, y, d, m } = r;
  const members = new Uint8Array(K);
  members[m] = 1;
  let size = 1;
  let Y = 0;
  let D = 0;
  let best = r.key(1, 0, 0);
  while (size < K) {
    let roundClass = -1;
    let roundKey: [number, number] = [0, 1];
    for (let k = 0; k < K; k++) {
      if (members[k]) continue;
      const key = r.key(size + 1, Y + y[k], D + d[k]);
      if (roundClass < 0 || r.better(key, roundKey)) {
        roundClass = k;
        roundKey = key;
      }
    }
    if (!r.better(roundKey, best)) break;
    best = roundKey;
    members[roundClass] = 1;
    size++;
    Y += y[roundClass];
    D += d[roundClass];
  }
  return { members, size, value: r.value(best) };
}

/** Objective value (as SearchResult.value) of an arbitrary subset containing m. */
export function subsetValue(row: SearchRow, members: ArrayLike<number>): number {
  const r = new Row(row);
  let n = 0;
  let Y = 0;
  let D = 0;
  for (let k = 0; k < r.K; k++) {
    if (!members[k]) continue;
    n++;
    if (k === r.m) continue;
    Y += r.y[k];
    D += r.d[k];
  }
  return r.value(r.key(n, Y, D));
}

// As in assembly/sorted.ts.
const SORTED_ROUNDS = 8;
const POLISH_WINDOW = 8;
const POLISH_PASSES = 8;

/**
 * The sorted search: sort the classes other than m by the objective's gradient at the best subset so
 * far (start: {m}), score every prefix of the order, re-sort at the best prefix until it repeats
 * (at most 1 + SORTED_ROUNDS orders); then polish (remove one, add one, or exchange near the cut).
 * surrogate and identity: one order by y (exact per size). Each order re-sorts the previous one
 * (stable), as the core does, so exact key ties resolve alike.
 */
export function sortedArgmax(row: SearchRow): SearchResult & { orders: number } {
  const r = new Row(row);
  const { K, y, d, m } = r;
  const directional = r.probs && r.angular;
  let best = r.key(1, 0, 0);
  let bestOrder: number[] = [];
  let bestSize = 1;
  let orders = 0;
  let order = Array.from({ length: K }, (_, k) => k).filter((k) => k !== m);
  let at = [1, 0, 0];
  for (let round = 0; round <= (directional ? SORTED_ROUNDS : 0); round++) {
    orders++;
    // ∇(cross/√norm) ∝ (cross, cross − norm) in (Y, D): class key cross·p_k − norm·d_k.
    let cross = 0;
    let norm = 0;
    if (directional) {
      const [n, Y, D] = at;
      const inv = 1 / (n + ARGMAX_TIE_BREAK);
      const cm = (1 + ARGMAX_TIE_BREAK) * inv;
      const gap = cm - r.topY;
      const uu = gap * gap + Math.max((n - 1) * inv * inv - 2 * Y * inv + r.yyRest, 0);
      const shift = gap * r.topD + D * inv - r.dyRest;
      cross = r.dd - shift;
      norm = r.dd - 2 * shift + uu;
    }
    const keys = new Float64Array(K);
    for (const k of order) keys[k] = directional ? cross * (y[k] + d[k]) - norm * d[k] : y[k];
    order = [...order].sort((a, b) => keys[a] - keys[b]);
    let Y = 0;
    let D = 0;
    let walk = r.key(1, 0, 0);
    let next = [1, 0, 0];
    for (let i = 0; i < order.length; i++) {
      Y += y[order[i]];
      D += d[order[i]];
      const key = r.key(i + 2, Y, D);
      if (r.better(key, walk)) {
        walk = key;
        next = [i + 2, Y, D];
      }
    }
    const improved = r.better(walk, best);
    if (improved) {
      best = walk;
      bestSize = next[0];
    }
    if (improved || round === 0) bestOrder = order; // the polish walks the first order even if {m} is best
    if (next[0] === at[0] && next[1] === at[1] && next[2] === at[2]) break;
    at = next;
  }
  // Polish by order position: in[i] = order[i] ∈ S. A pass takes the best strict improvement among
  // removing any member, adding any other class, and exchanging a member for a non-member within
  // POLISH_WINDOW positions of the cut.
  const o = bestOrder;
  const cut = bestSize - 1;
  const inS = new Uint8Array(o.length);
  for (let i = 0; i < cut; i++) inS[i] = 1;
  let size = bestSize;
  let Y = 0;
  let D = 0;
  for (let i = 0; i < cut; i++) {
    Y += y[o[i]];
    D += d[o[i]];
  }
  if (directional) {
    for (let pass = 0; pass < POLISH_PASSES; pass++) {
      let out = -1;
      let inn = -1;
      for (let i = 0; i < o.length; i++) {
        const key = inS[i] ? r.key(size - 1, Y - y[o[i]], D - d[o[i]]) : r.key(size + 1, Y + y[o[i]], D + d[o[i]]);
        if (r.better(key, best)) {
          best = key;
          out = inS[i] ? i : -1;
          inn = inS[i] ? -1 : i;
        }
      }
      for (let i = Math.max(0, cut - POLISH_WINDOW); i < Math.min(o.length, cut + POLISH_WINDOW); i++) {
        if (!inS[i]) continue;
        for (let j = Math.max(0, cut - POLISH_WINDOW); j < Math.min(o.length, cut + POLISH_WINDOW); j++) {
          if (inS[j]) continue;
          const key = r.key(size, Y - y[o[i]] + y[o[j]], D - d[o[i]] + d[o[j]]);
          if (r.better(key, best)) {
            best = key;
            out = i;
            inn = j;
          }
        }
      }
      if (out < 0 && inn < 0) break;
      if (out >= 0) {
        inS[out] = 0;
        size--;
        Y -= y[o[out]];
        D -= d[o[out]];
      }
      if (inn >= 0) {
        inS[inn] = 1;
        size++;
        Y += y[o[inn]];
        D += d[o[inn]];
      }
    }
  }
  const members = new Uint8Array(K);
  members[m] = 1;
  for (let i = 0; i < o.length; i++) if (inS[i]) members[o[i]] = 1;
  bestSize = size;
  return { members, size: bestSize, value: r.value(best), orders };
}
