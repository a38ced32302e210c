// Pure inversions of public defenses (Kerckhoffs): given an answer ỹ and the defense's public
// parameters, the probability vectors y the defense could have been given. Float64 throughout; no tfjs.
//   - MAD's line search: closed form per candidate target (vertices, or MAD-argmax's v_S);
//   - reverse sigmoid: a root search over the normaliser with a branch choice per entry;
//   - anything else deterministic: a fixed-point, then a compass search against the simulated defense.
import { rowArgmax } from "../models/argmax.js";
import { reverseSigmoidEntry } from "../defenses/reverse-sigmoid.js";

/** assembly/distances.ts: the reference adds this to ‖y − y*‖ before dividing ε by it. */
export const LINESEARCH_GUARD = 1e-7;
/** assembly/objectives.ts: MAD-argmax's candidates put this much extra mass on the top class m. */
export const ARGMAX_TIE_BREAK = 1e-5;
/** MAD-argmax has 2^(K−1) candidates: enumerated up to this K (8192 per row), the generic search beyond. */
export const EXACT_SUBSETS_LIMIT = 14;
/** A candidate y may dip this far below 0 (float32 rounding of ỹ) before it is rejected. */
export const NEGATIVE_TOLERANCE = 1e-6;
/**
 * An answer this close to a candidate target (L1) means the line search (nearly) reached it (α ≈ 1):
 * y is then anywhere in the ball, and float32 rounding of ỹ divided by 1 − α would swamp it anyway.
 */
export const REACHED_TARGET = 1e-4;
/** A preimage reproduces ỹ when re-applying the defense lands this close to it (L1; ỹ is float32). */
export const EXACT_TOLERANCE = 1e-5;

export type LineSearchDistance = "l1" | "l2" | "kl";

function l1(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += Math.abs(a[k] - b[k]);
  return s;
}

function l2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += (a[k] - b[k]) ** 2;
  return Math.sqrt(s);
}

/** KL(p ‖ q) with 0·log 0 = 0 (+∞ where q_k = 0 < p_k). */
function kl(p: ArrayLike<number>, q: ArrayLike<number>): number {
  let s = 0;
  for (let k = 0; k < p.length; k++) {
    if (p[k] <= 0) continue;
    if (q[k] <= 0) return Infinity;
    s += p[k] * Math.log(p[k] / q[k]);
  }
  return s;
}

/**
 * The line search's α recovered from r = ‖ỹ − y*‖ = (1 − α)‖y − y*‖ (L1 or L2): α = ε / (‖y − y*‖ + δ)
 * becomes δα² − (r + δ + ε)α + ε = 0, whose small root is taken in the cancellation-free form.
 */
export function lineSearchAlphaFromAnswer(r: number, epsilon: number): number {
  const delta = LINESEARCH_GUARD;
  const b = r + delta + epsilon;
  return (2 * epsilon) / (b + Math.sqrt(Math.max(b * b - 4 * delta * epsilon, 0)));
}

/**
 * KL line search: the core takes the largest α with KL(y ‖ ỹ) <= ε, so KL(y(α) ‖ ỹ) = ε with
 * y(α) = (ỹ − α·t)/(1 − α). y(α) walks away from ỹ along a ray as α grows, so the KL grows with α:
 * bisection on α up to where y(α) leaves the simplex. NaN when no α in that range reaches ε.
 */
function klAlphaFromAnswer(answer: ArrayLike<number>, target: ArrayLike<number>, epsilon: number): number {
  let top = 1;
  for (let k = 0; k < answer.length; k++) if (target[k] > answer[k]) top = Math.min(top, answer[k] / target[k]);
  const y = new Float64Array(answer.length);
  const divergence = (alpha: number): number => {
    for (let k = 0; k < y.length; k++) y[k] = Math.max((answer[k] - alpha * target[k]) / (1 - alpha), 0);
    return kl(y, answer);
  };
  if (top >= 1 || !(divergence(top) >= epsilon)) return NaN;
  let below = 0;
  let above = top;
  for (let i = 0; i < 200 && above - below > 1e-16; i++) {
    const mid = 0.5 * (below + above);
    if (divergence(mid) < epsilon) below = mid;
    else above = mid;
  }
  return 0.5 * (below + above);
}

/** The candidate targets of MAD's vertex oracles (extreme, argmin, random): e_0 … e_{K−1}. One buffer, rewritten per yield. */
export function* vertexTargets(numClasses: number): Generator<Float64Array> {
  const t = new Float64Array(numClasses);
  for (let k = 0; k < numClasses; k++) {
    t.fill(0);
    t[k] = 1;
    yield t;
  }
}

/** MAD-argmax's candidates v_S = (1_S + δ·e_m)/(|S| + δ) for every S ∋ m. One buffer, rewritten per yield. */
export function* argmaxTargets(numClasses: number, top: number): Generator<Float64Array> {
  const others = Array.from({ length: numClasses }, (_, k) => k).filter((k) => k !== top);
  const t = new Float64Array(numClasses);
  for (let mask = 0; mask < 1 << others.length; mask++) {
    let size = 1;
    for (let bit = 0; bit < others.length; bit++) if ((mask >> bit) & 1) size++;
    const share = 1 / (size + ARGMAX_TIE_BREAK);
    t.fill(0);
    for (let bit = 0; bit < others.length; bit++) if ((mask >> bit) & 1) t[others[bit]] = share;
    t[top] = (1 + ARGMAX_TIE_BREAK) * share;
    yield t;
  }
}

export interface LineSearchInverse {
  /** The answer sits on a candidate target (α ≈ 1): the row cannot be undone. */
  readonly reached: boolean;
  /** Every valid y (on the simplex; with `top`, argmax y = top) that one of the targets maps to ỹ. */
  readonly candidates: Float64Array[];
}

/**
 * Undoes MAD's line search ỹ = (1 − α)·y + α·y* for each candidate target y*: y = (ỹ − α·y*)/(1 − α),
 * with α from the answer's distance to y* (closed form for L1 / L2, bisection for KL).
 */
export function undoLineSearch(
  answer: ArrayLike<number>,
  targets: Iterable<Float64Array>,
  epsilon: number,
  distance: LineSearchDistance,
  top?: number,
): LineSearchInverse {
  const K = answer.length;
  if (epsilon <= 0) return { reached: false, candidates: [Float64Array.from(answer)] };
  const candidates: Float64Array[] = [];
  const y = new Float64Array(K);
  for (const target of targets) {
    const r = l1(answer, target);
    if (r < REACHED_TARGET) return { reached: true, candidates: [] };
    const alpha = distance === "kl" ? klAlphaFromAnswer(answer, target, epsilon) : lineSearchAlphaFromAnswer(distance === "l1" ? r : l2(answer, target), epsilon);
    if (!(alpha < 1)) continue;
    let valid = true;
    let sum = 0;
    for (let k = 0; k < K && valid; k++) {
      y[k] = (answer[k] - alpha * target[k]) / (1 - alpha);
      valid = y[k] >= -NEGATIVE_TOLERANCE;
      y[k] = Math.max(y[k], 0);
      sum += y[k];
    }
    if (!valid || !(sum > 0)) continue;
    for (let k = 0; k < K; k++) y[k] /= sum;
    if (top !== undefined && rowArgmax(y, 0, K) !== top) continue;
    candidates.push(y.slice());
  }
  return { reached: false, candidates };
}

// ---------------------------------------------------------------- reverse sigmoid

/** src/defenses/reverse-sigmoid.ts clips y to [1e-9, 1 − 1e-9] so that logit y is finite. */
const REVERSE_SIGMOID_CLIP = 1e-9;
const LOGIT_LIMIT = Math.log((1 - REVERSE_SIGMOID_CLIP) / REVERSE_SIGMOID_CLIP);
/** Logit grid on which the slope of f is scanned for turning points. */
const TURNING_GRID = 4096;
/** Points at which Σ_k y_k(Z) − 1 is scanned for sign changes across the feasible range of Z. */
const NORMALISER_GRID = 24;
/** Entries other than the top one that may sit off the lowest branch (the search is exponential in it). */
export const MAX_RAISED_ENTRIES = 2;

const sigmoid = (u: number): number => 1 / (1 + Math.exp(-u));

/** The defense's f before clipping and normalising: f(y) = y − β(σ(γ·logit y) − ½), as a function of u = logit y. */
function reverseSigmoidOfLogit(u: number, beta: number, gamma: number): number {
  return sigmoid(u) - beta * (sigmoid(gamma * u) - 0.5);
}

function reverseSigmoidSlope(u: number, beta: number, gamma: number): number {
  const y = sigmoid(u);
  const s = sigmoid(gamma * u);
  return y * (1 - y) - beta * gamma * s * (1 - s);
}

/** The reverse-sigmoid answer to one row, in float64, by the defense's own entry formula (a row losing all its mass gives NaNs). */
export function reverseSigmoidRow(y: ArrayLike<number>, beta: number, gamma: number): Float64Array {
  const out = new Float64Array(y.length);
  let sum = 0;
  for (let k = 0; k < y.length; k++) {
    out[k] = reverseSigmoidEntry(y[k], beta, gamma);
    sum += out[k];
  }
  for (let k = 0; k < y.length; k++) out[k] /= sum;
  return out;
}

/** A monotone piece of f over logits [from, to], with the values it takes there. */
interface Branch {
  readonly from: number;
  readonly to: number;
  readonly increasing: boolean;
  readonly low: number;
  readonly high: number;
}

function branchesOf(beta: number, gamma: number): Branch[] {
  const slope = (u: number) => reverseSigmoidSlope(u, beta, gamma);
  const cuts = [-LOGIT_LIMIT];
  const step = (2 * LOGIT_LIMIT) / TURNING_GRID;
  for (let i = 0; i < TURNING_GRID; i++) {
    let a = -LOGIT_LIMIT + i * step;
    let b = a + step;
    if (slope(a) > 0 === slope(b) > 0) continue;
    for (let j = 0; j < 100; j++) {
      const mid = 0.5 * (a + b);
      if (slope(mid) > 0 === slope(a) > 0) a = mid;
      else b = mid;
    }
    cuts.push(0.5 * (a + b));
  }
  cuts.push(LOGIT_LIMIT);
  const branches: Branch[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const [from, to] = [cuts[i], cuts[i + 1]];
    const [atFrom, atTo] = [reverseSigmoidOfLogit(from, beta, gamma), reverseSigmoidOfLogit(to, beta, gamma)];
    branches.push({ from, to, increasing: atTo > atFrom, low: Math.min(atFrom, atTo), high: Math.max(atFrom, atTo) });
  }
  return branches;
}

/** y on `branch` with f(y) = c (c clamped into the branch's values): Newton on the logit, kept inside a bisection bracket. */
function preimageOn(branch: Branch, c: number, beta: number, gamma: number): number {
  const value = Math.min(Math.max(c, branch.low), branch.high);
  let lower = branch.from;
  let upper = branch.to;
  let u = 0.5 * (lower + upper);
  for (let i = 0; i < 100; i++) {
    const g = reverseSigmoidOfLogit(u, beta, gamma) - value;
    if (g === 0) break;
    // The root lies at larger logits when f is below the value on a rising branch or above it on a falling one.
    if (g < 0 === branch.increasing) lower = u;
    else upper = u;
    let next = u - g / reverseSigmoidSlope(u, beta, gamma);
    if (!(next > lower && next < upper)) next = 0.5 * (lower + upper);
    if (Math.abs(next - u) <= 1e-15 * (1 + Math.abs(u))) {
      u = next;
      break;
    }
    u = next;
  }
  return sigmoid(u);
}

/** Shannon entropy (nats): the tie-break among exact preimages, the most confident first. */
export function entropy(y: ArrayLike<number>): number {
  let h = 0;
  for (let k = 0; k < y.length; k++) if (y[k] > 0) h -= y[k] * Math.log(y[k]);
  return h;
}

/** Every way to choose `size` of `items` (lexicographic). */
function* subsetsOfSize(items: number[], size: number, start = 0, chosen: number[] = []): Generator<number[]> {
  if (chosen.length === size) {
    yield chosen;
    return;
  }
  for (let i = start; i <= items.length - (size - chosen.length); i++) yield* subsetsOfSize(items, size, i + 1, [...chosen, items[i]]);
}

/** Every assignment of `count` entries to branches 1 … branchCount − 1 (the raised branches). */
function* raisedAssignments(count: number, branchCount: number): Generator<number[]> {
  const choices = branchCount - 1;
  for (let code = 0; code < choices ** count; code++) {
    const out: number[] = [];
    for (let i = 0, c = code; i < count; i++, c = Math.floor(c / choices)) out.push(1 + (c % choices));
    yield out;
  }
}

/**
 * Inverts reverse sigmoid (known β, γ). ỹ_k = f(y_k)/Z with Z = Σ f(y_j) (for β <= 1 f stays inside
 * (0, 1), so nothing is clipped). f is not monotone: for γ < 1 it falls near 0 and near 1, so one value
 * has up to three preimages, one per monotone branch. For a branch per entry, the y_k(Z) = f⁻¹(Z·ỹ_k)
 * are fixed functions of the scalar Z; the roots of Σ_k y_k(Z) = 1 (grid scan, then bisection) are the
 * preimages under that assignment. The map is many-to-one, so the search goes from the most plausible
 * assignments for a classifier's output — every entry but the top one on the lowest branch (tiny
 * probabilities), then one, then two entries raised — and stops at the first level with a preimage that
 * reproduces ỹ; among those it takes the most confident one (least entropy). Null: none found.
 */
export function createReverseSigmoidInverse(beta: number, gamma: number): (answer: ArrayLike<number>) => Float64Array | null {
  const branches = branchesOf(beta, gamma);

  /** Adds to `found` every preimage with entry k on branch branchOf[k]. */
  function solveAssignment(answer: ArrayLike<number>, branchOf: Int32Array, found: Float64Array[]): void {
    const K = answer.length;
    let zFrom = 0;
    let zTo = Infinity;
    for (let k = 0; k < K; k++) {
      const b = branches[branchOf[k]];
      zFrom = Math.max(zFrom, b.low / answer[k]);
      zTo = Math.min(zTo, b.high / answer[k]);
    }
    if (!(zFrom < zTo)) return;
    const y = new Float64Array(K);
    const excess = (z: number): number => {
      let sum = 0;
      for (let k = 0; k < K; k++) sum += y[k] = preimageOn(branches[branchOf[k]], z * answer[k], beta, gamma);
      return sum - 1;
    };
    let previousZ = zFrom;
    let previous = excess(zFrom);
    for (let i = 1; i <= NORMALISER_GRID; i++) {
      const z = zFrom + ((zTo - zFrom) * i) / NORMALISER_GRID;
      const current = excess(z);
      if (previous === 0 || previous > 0 !== current > 0) {
        let [a, b, atA] = [previousZ, z, previous];
        for (let j = 0; j < 100 && b - a > 1e-15 * b; j++) {
          const mid = 0.5 * (a + b);
          const atMid = excess(mid);
          if (atMid > 0 === atA > 0) [a, atA] = [mid, atMid];
          else b = mid;
        }
        const sum = excess(0.5 * (a + b)) + 1;
        const candidate = y.map((v) => v / sum);
        if (l1(reverseSigmoidRow(candidate, beta, gamma), answer) < EXACT_TOLERANCE) found.push(candidate);
      }
      previousZ = z;
      previous = current;
    }
  }

  return (answer) => {
    const K = answer.length;
    for (let k = 0; k < K; k++) if (!(answer[k] > 0)) return null; // a clipped entry: only a bound on y_k is known
    const top = rowArgmax(answer, 0, K);
    const others = Array.from({ length: K }, (_, k) => k).filter((k) => k !== top);
    const branchOf = new Int32Array(K);
    // A monotone f (one branch) has nothing to raise an entry to.
    for (let raised = 0; raised <= Math.min(MAX_RAISED_ENTRIES, others.length) && (raised === 0 || branches.length > 1); raised++) {
      const found: Float64Array[] = [];
      for (const entries of subsetsOfSize(others, raised)) {
        for (const lifted of raisedAssignments(raised, branches.length)) {
          for (let topBranch = 0; topBranch < branches.length; topBranch++) {
            branchOf.fill(0);
            entries.forEach((k, i) => (branchOf[k] = lifted[i]));
            branchOf[top] = topBranch;
            solveAssignment(answer, branchOf, found);
          }
        }
      }
      if (found.length > 0) return found.reduce((best, y) => (entropy(y) < entropy(best) ? y : best));
    }
    return null;
  };
}

// ---------------------------------------------------------------- generic search

/** Euclidean projection onto the probability simplex (sort and threshold). */
export function projectOntoSimplex(v: ArrayLike<number>): Float64Array {
  const sorted = Float64Array.from(v).sort().reverse();
  let cumulative = 0;
  let threshold = 0;
  for (let i = 0; i < sorted.length; i++) {
    cumulative += sorted[i];
    const t = (cumulative - 1) / (i + 1);
    if (sorted[i] - t > 0) threshold = t;
  }
  return Float64Array.from(v, (x) => Math.max(x - threshold, 0));
}

export interface SearchResult {
  /** Per row, the best y found (B x K). */
  readonly preimages: Float32Array;
  /** Per row, ‖D(y) − ỹ‖₁ at that y. */
  readonly residuals: Float64Array;
}

export interface SearchOptions {
  /** Rounds of the projected fixed-point iteration. */
  readonly fixedPointRounds: number;
  /** Rounds of the compass search that follows (rows not yet below `tolerance`). */
  readonly compassRounds: number;
  /** A row whose residual falls below this stops searching. */
  readonly tolerance: number;
  /** Rows per batch the search works on (each compass round asks D about K(K − 1) moves per row). */
  readonly rowsPerBatch: number;
}

/** First step of the compass search (mass moved between two classes), halved whenever no move helps. */
const COMPASS_FIRST_STEP = 0.5;
const COMPASS_LAST_STEP = 1e-5;

/** ‖a_i − b_j‖₁ between row i of a and row j of b (K columns each). */
export function rowL1(a: Float32Array, i: number, b: Float32Array, j: number, K: number): number {
  let s = 0;
  for (let k = 0; k < K; k++) s += Math.abs(a[i * K + k] - b[j * K + k]);
  return s;
}

/**
 * Looks for y with D(y) = ỹ, batch by batch of rows, keeping each row's lowest residual ‖D(y) − ỹ‖₁.
 * First the projected fixed-point iteration y ← Π_simplex(y + η·(ỹ − D(y))) from y = ỹ, one call of
 * `defend` per round; a step that does not lower a row's residual is rejected and halves its η, one that
 * does doubles it back towards 1. It assumes D(y) − y varies slowly, which fails for defenses that
 * send mass to the classes y ranks lowest (MAD, ModelGuard-W): raising such a class in y makes D give
 * it less. So a compass search follows: every move of `step` mass from one class to another, all in one
 * call, the best improving move taken, the step halved when none improves.
 */
export async function searchPreimages(
  answers: Float32Array,
  numClasses: number,
  defend: (probs: Float32Array, rows: Int32Array) => Promise<Float32Array>,
  options: SearchOptions,
): Promise<SearchResult> {
  const K = numClasses;
  const B = answers.length / K;
  const preimages = new Float32Array(B * K);
  const residuals = new Float64Array(B);
  for (let from = 0; from < B; from += options.rowsPerBatch) {
    const rows = Int32Array.from({ length: Math.min(options.rowsPerBatch, B - from) }, (_, i) => from + i);
    const target = answers.subarray(from * K, (from + rows.length) * K);
    const best = new Float32Array(rows.length * K);
    rows.forEach((_, i) => best.set(projectOntoSimplex(target.subarray(i * K, (i + 1) * K)), i * K));
    const start = best.slice();
    const startAnswer = await defend(start, rows);
    const startResidual = Float64Array.from(rows, (_, i) => rowL1(startAnswer, i, target, i, K));
    const residual = startResidual.slice();
    await fixedPoint(target, K, rows, defend, options, best, startAnswer.slice(), residual);
    // The compass search starts again from ỹ: the fixed point's best iterate is often in a worse basin.
    const searched = start.slice();
    const searchedResidual = startResidual.slice();
    await compass(target, K, rows, defend, options, searched, searchedResidual, residual);
    rows.forEach((_, i) => {
      if (searchedResidual[i] >= residual[i]) return;
      residual[i] = searchedResidual[i];
      best.set(searched.subarray(i * K, (i + 1) * K), i * K);
    });
    preimages.set(best, from * K);
    residuals.set(residual, from);
  }
  return { preimages, residuals };
}

async function fixedPoint(
  target: Float32Array, K: number, rows: Int32Array, defend: (probs: Float32Array, rows: Int32Array) => Promise<Float32Array>,
  options: SearchOptions, best: Float32Array, bestAnswer: Float32Array, residual: Float64Array,
): Promise<void> {
  const step = new Float64Array(rows.length).fill(1);
  const proposal = new Float32Array(best.length);
  const moved = new Float64Array(K);
  for (let round = 0; round < options.fixedPointRounds; round++) {
    if (residual.every((r) => r < options.tolerance)) return;
    for (let i = 0; i < rows.length; i++) {
      for (let k = 0; k < K; k++) moved[k] = best[i * K + k] + step[i] * (target[i * K + k] - bestAnswer[i * K + k]);
      proposal.set(projectOntoSimplex(moved), i * K);
    }
    const proposed = await defend(proposal, rows);
    for (let i = 0; i < rows.length; i++) {
      const r = rowL1(proposed, i, target, i, K);
      if (r < residual[i]) {
        residual[i] = r;
        best.set(proposal.subarray(i * K, (i + 1) * K), i * K);
        bestAnswer.set(proposed.subarray(i * K, (i + 1) * K), i * K);
        step[i] = Math.min(1, 2 * step[i]);
      } else step[i] /= 2;
    }
  }
}

async function compass(
  target: Float32Array, K: number, rows: Int32Array, defend: (probs: Float32Array, rows: Int32Array) => Promise<Float32Array>,
  options: SearchOptions, best: Float32Array, residual: Float64Array, fixedPointResidual: Float64Array,
): Promise<void> {
  const moves = K * (K - 1);
  const step = new Float64Array(rows.length).fill(COMPASS_FIRST_STEP);
  for (let round = 0; round < options.compassRounds; round++) {
    const active = Array.from(rows.keys()).filter((i) => residual[i] >= options.tolerance && fixedPointResidual[i] >= options.tolerance && step[i] >= COMPASS_LAST_STEP);
    if (active.length === 0) return;
    const proposals = new Float32Array(active.length * moves * K);
    const owners = new Int32Array(active.length * moves);
    active.forEach((i, a) => {
      let n = a * moves;
      for (let to = 0; to < K; to++) {
        for (let from = 0; from < K; from++) {
          if (from === to) continue;
          const at = n * K;
          proposals.set(best.subarray(i * K, (i + 1) * K), at);
          const amount = Math.min(step[i], proposals[at + from]);
          proposals[at + from] -= amount;
          proposals[at + to] += amount;
          owners[n++] = rows[i];
        }
      }
    });
    const answered = await defend(proposals, owners);
    active.forEach((i, a) => {
      let chosen = -1;
      for (let n = a * moves; n < (a + 1) * moves; n++) {
        const r = rowL1(answered, n, target, i, K);
        if (r < residual[i]) {
          residual[i] = r;
          chosen = n;
        }
      }
      if (chosen >= 0) best.set(proposals.subarray(chosen * K, (chosen + 1) * K), i * K);
      else step[i] /= 2;
    });
  }
}
