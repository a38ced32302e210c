// ModelGuard-W (Tang et al. 2024) solved exactly without an LP solver. Per row:
//   maximise Σ_k c_k·x_k,  c_k = −log(y_k + 1e-6)
//   s.t. x on the simplex, ‖x − y‖₁ ≤ ε, x_m − x_j ≥ margin for every j ≠ m = argmax y.
// Fixing the top level L = x_m leaves a transfer problem with caps U = L − margin that a greedy solves
// (forced cuts to U, the net mass change, then pair moves from the lowest-c to the highest-c class at 2 units
// of budget per unit of mass). Its optimum V(L) is concave in L, so a golden-section search over the feasible
// interval of L finds the maximum. Derivation: docs/DEFENSES.md. All arithmetic in f64.

const COST_FLOOR: f64 = 1e-6;
const GOLDEN: f64 = 0.6180339887498949;
// Interval width at which the searches over L stop (the objective's slope is at most ~2·log(1e6) ≈ 28).
const L_TOLERANCE: f64 = 1e-13;
// Budget slack tolerated for rounding when checking feasibility at a given L.
const BUDGET_SLACK: f64 = 1e-12;

/** Row status codes written to `status`. */
export const MODELGUARD_OK: i32 = 0;
/** The budget cannot even establish the margin (top two classes closer than margin − ε/2): y returned. */
export const MODELGUARD_INFEASIBLE: i32 = 1;

@inline function getF64(ptr: usize, i: i32): f64 {
  return load<f64>(ptr + (<usize>i << 3));
}
@inline function setF64(ptr: usize, i: i32, v: f64): void {
  store<f64>(ptr + (<usize>i << 3), v);
}
@inline function getI32(ptr: usize, i: i32): i32 {
  return load<i32>(ptr + (<usize>i << 2));
}
@inline function setI32(ptr: usize, i: i32, v: i32): void {
  store<i32>(ptr + (<usize>i << 2), v);
}

/** Least L1 budget any answer with top level L needs: |L − y_m| + forced cuts + the net mass change. */
function minimumCost(y: usize, order: usize, n: i32, m: i32, L: f64, margin: f64): f64 {
  const cap = L - margin;
  let cut: f64 = 0;
  let kept: f64 = 0;
  for (let r = 0; r < n; r++) {
    const yj = getF64(y, getI32(order, r));
    if (yj > cap) {
      cut += yj - cap;
      kept += cap;
    } else kept += yj;
  }
  const net = 1.0 - L - kept;
  return Math.abs(L - getF64(y, m)) + cut + Math.abs(net);
}

/**
 * The best objective with top level L (greedy transfer), or −Infinity when L is infeasible. Writes the
 * answer's entries other than m into x. `order` lists the n = K − 1 classes other than m by increasing y
 * (so by decreasing c).
 */
function valueAtLevel(y: usize, c: usize, order: usize, n: i32, m: i32, L: f64, epsilon: f64, margin: f64, x: usize): f64 {
  const cap = L - margin;
  if (cap < 0 || L > 1.0) return -Infinity;
  let budget = epsilon - Math.abs(L - getF64(y, m));
  // Forced cuts: no class may stay above the cap.
  let kept: f64 = 0;
  for (let r = 0; r < n; r++) {
    const j = getI32(order, r);
    const yj = getF64(y, j);
    const z = yj > cap ? cap : yj;
    if (yj > cap) budget -= yj - cap;
    setF64(x, j, z);
    kept += z;
  }
  const net = 1.0 - L - kept;
  budget -= Math.abs(net);
  if (budget < -BUDGET_SLACK) return -Infinity;
  if (budget < 0) budget = 0;
  let front = 0; // next receiver (highest c first)
  let back = n - 1; // next donor (lowest c first)
  if (net > 0) {
    // The other classes must gain `net`: give it to the highest-c classes, up to the cap.
    let need = net;
    while (need > 0 && front < n) {
      const j = getI32(order, front);
      const room = cap - getF64(x, j);
      if (room >= need) {
        setF64(x, j, getF64(x, j) + need);
        need = 0;
      } else {
        setF64(x, j, cap);
        need -= room;
        front++;
      }
    }
    if (need > BUDGET_SLACK) return -Infinity;
  } else if (net < 0) {
    // The other classes must lose −net: take it from the lowest-c classes.
    let need = -net;
    while (need > 0 && back >= 0) {
      const j = getI32(order, back);
      const have = getF64(x, j);
      if (have >= need) {
        setF64(x, j, have - need);
        need = 0;
      } else {
        setF64(x, j, 0);
        need -= have;
        back--;
      }
    }
    if (need > BUDGET_SLACK) return -Infinity;
  }
  // Pair moves: mass from the lowest-c donor to the highest-c receiver while it gains and budget remains.
  while (budget > 0 && front < back) {
    const receiver = getI32(order, front);
    const donor = getI32(order, back);
    if (getF64(c, receiver) <= getF64(c, donor)) break;
    const room = cap - getF64(x, receiver);
    if (room <= 0) {
      front++;
      continue;
    }
    const have = getF64(x, donor);
    if (have <= 0) {
      back--;
      continue;
    }
    let amount = budget * 0.5;
    if (room < amount) amount = room;
    if (have < amount) amount = have;
    setF64(x, receiver, getF64(x, receiver) + amount);
    setF64(x, donor, have - amount);
    budget -= 2 * amount;
  }
  let value = getF64(c, m) * L;
  for (let r = 0; r < n; r++) {
    const j = getI32(order, r);
    value += getF64(c, j) * getF64(x, j);
  }
  return value;
}

/** Class a comes before class b: smaller y, then lower index (a total order, so the result is unique). */
@inline function before(y: usize, a: i32, b: i32): bool {
  const ya = getF64(y, a);
  const yb = getF64(y, b);
  return ya < yb || (ya == yb && a < b);
}

function siftDown(y: usize, order: usize, start: i32, end: i32): void {
  let root = start;
  while (true) {
    let child = 2 * root + 1;
    if (child >= end) return;
    if (child + 1 < end && before(y, getI32(order, child), getI32(order, child + 1))) child++;
    const r = getI32(order, root);
    const c = getI32(order, child);
    if (!before(y, r, c)) return;
    setI32(order, root, c);
    setI32(order, child, r);
    root = child;
  }
}

/** Heapsort of the n class indices in `order` by increasing y (ties: lower index first); O(n log n). */
function sortByProbability(y: usize, order: usize, n: i32): void {
  for (let start = n / 2 - 1; start >= 0; start--) siftDown(y, order, start, n);
  for (let end = n - 1; end > 0; end--) {
    const top = getI32(order, 0);
    setI32(order, 0, getI32(order, end));
    setI32(order, end, top);
    siftDown(y, order, 0, end);
  }
}

/** Bytes of work space modelguardBatch needs for K classes. */
export function modelguardWorkBytes(K: i32): i32 {
  return 4 * K * 8 + K * 4 + 64;
}

/** Copies row `row` of the batch into f64 `out`, divided by its sum (validated rows sum to 1 within 1e-3). */
function loadNormalizedRow(ptr: usize, isF32: bool, row: i32, K: i32, out: usize): void {
  const base = <usize>row * <usize>K;
  let sum = 0.0;
  for (let k = 0; k < K; k++) {
    const v = isF32 ? <f64>load<f32>(ptr + ((base + <usize>k) << 2)) : load<f64>(ptr + ((base + <usize>k) << 3));
    setF64(out, k, v);
    sum += v;
  }
  if (sum != 1.0) for (let k = 0; k < K; k++) setF64(out, k, getF64(out, k) / sum);
}

function writeRow(x: usize, K: i32, output: usize, row: i32, isF32: bool): void {
  const base = <usize>row * <usize>K;
  for (let k = 0; k < K; k++) {
    if (isF32) store<f32>(output + ((base + <usize>k) << 2), <f32>getF64(x, k));
    else store<f64>(output + ((base + <usize>k) << 3), getF64(x, k));
  }
}

/**
 * Solves ModelGuard-W for `rows` rows of K probabilities at `input` (f32 when ioF32 else f64; rows must
 * have passed validation), writing the answers to `output` (same type) and a MODELGUARD_* status per row
 * (i32) to `status`. `work` must hold modelguardWorkBytes(K) bytes. Returns the number of infeasible rows
 * (answered with their input row, unchanged).
 */
export function modelguardBatch(
  input: usize, ioF32: i32, output: usize, status: usize, rows: i32, K: i32, epsilon: f64, margin: f64, work: usize,
): i32 {
  const n = K - 1;
  const isF32 = ioF32 != 0;
  const stride = <usize>K << 3;
  const y = (work + 15) & ~(<usize>15);
  const c = y + stride;
  const x = c + stride;
  const best = x + stride;
  const order = best + stride;
  let infeasible = 0;
  for (let row = 0; row < rows; row++) {
    loadNormalizedRow(input, isF32, row, K, y);
    let m = 0;
    for (let k = 1; k < K; k++) if (getF64(y, k) > getF64(y, m)) m = k;
    let r = 0;
    for (let k = 0; k < K; k++) {
      setF64(c, k, -Math.log(getF64(y, k) + COST_FLOOR));
      if (k != m) setI32(order, r++, k);
    }
    sortByProbability(y, order, n);
    const ym = getF64(y, m);

    // Levels L allowed by the caps (K − 1 classes at most L − margin must hold 1 − L) and the budget.
    let lo = (1.0 + <f64>n * margin) / <f64>K;
    if (ym - epsilon > lo) lo = ym - epsilon;
    let hi = ym + epsilon * 0.5;
    if (hi > 1.0) hi = 1.0;
    let feasible = lo <= hi;
    let cheapest = lo;
    if (feasible) {
      // minimumCost is convex in L: golden-section search for its minimiser.
      let a = lo;
      let b = hi;
      while (b - a > L_TOLERANCE) {
        const p = b - GOLDEN * (b - a);
        const q = a + GOLDEN * (b - a);
        if (minimumCost(y, order, n, m, p, margin) <= minimumCost(y, order, n, m, q, margin)) b = q;
        else a = p;
      }
      cheapest = (a + b) * 0.5;
      feasible = minimumCost(y, order, n, m, cheapest, margin) <= epsilon + BUDGET_SLACK;
    }
    if (!feasible) {
      // Answer with the input exactly as given (as the core does for ε = 0).
      const offset = <usize>row * <usize>K;
      if (isF32) memory.copy(output + (offset << 2), input + (offset << 2), <usize>K << 2);
      else memory.copy(output + (offset << 3), input + (offset << 3), <usize>K << 3);
      store<i32>(status + (<usize>row << 2), MODELGUARD_INFEASIBLE);
      infeasible++;
      continue;
    }
    // The feasible levels form an interval around `cheapest`: bisect for both ends.
    let inside = cheapest;
    let outside = lo;
    while (Math.abs(inside - outside) > L_TOLERANCE) {
      const mid = (inside + outside) * 0.5;
      if (minimumCost(y, order, n, m, mid, margin) <= epsilon) inside = mid;
      else outside = mid;
    }
    const left = inside;
    inside = cheapest;
    outside = hi;
    while (Math.abs(inside - outside) > L_TOLERANCE) {
      const mid = (inside + outside) * 0.5;
      if (minimumCost(y, order, n, m, mid, margin) <= epsilon) inside = mid;
      else outside = mid;
    }
    const right = inside;

    // V(L) is concave on [left, right]: golden-section search for its maximum, then compare the ends.
    let a = left;
    let b = right;
    let p = b - GOLDEN * (b - a);
    let q = a + GOLDEN * (b - a);
    let vp = valueAtLevel(y, c, order, n, m, p, epsilon, margin, x);
    let vq = valueAtLevel(y, c, order, n, m, q, epsilon, margin, x);
    while (b - a > L_TOLERANCE) {
      if (vp >= vq) {
        b = q;
        q = p;
        vq = vp;
        p = b - GOLDEN * (b - a);
        vp = valueAtLevel(y, c, order, n, m, p, epsilon, margin, x);
      } else {
        a = p;
        p = q;
        vp = vq;
        q = a + GOLDEN * (b - a);
        vq = valueAtLevel(y, c, order, n, m, q, epsilon, margin, x);
      }
    }
    let bestL = (a + b) * 0.5;
    let bestValue = valueAtLevel(y, c, order, n, m, bestL, epsilon, margin, x);
    const vLeft = valueAtLevel(y, c, order, n, m, left, epsilon, margin, x);
    if (vLeft > bestValue) {
      bestValue = vLeft;
      bestL = left;
    }
    const vRight = valueAtLevel(y, c, order, n, m, right, epsilon, margin, x);
    if (vRight > bestValue) {
      bestValue = vRight;
      bestL = right;
    }
    valueAtLevel(y, c, order, n, m, bestL, epsilon, margin, best);
    setF64(best, m, bestL);
    writeRow(best, K, output, row, isF32);
    store<i32>(status + (<usize>row << 2), MODELGUARD_OK);
  }
  return infeasible;
}
