// Float64 reference of MAD (Orekondy et al., ICLR 2020; /work/shared/design/MAD.md sections 2-4).
// It is the tests' oracle only: plain loops, no tricks, never imported by src/. The production
// implementation is the WASM core; this file exists so that the core can be checked against it.

export type OracleName = "extreme" | "argmax" | "random" | "argmin";
export type ObjectiveName = "angular" | "surrogate";
export type DistanceName = "l1" | "l2" | "kl";
/** `reachable` is the opt-in step: every oracle candidate is scored at its line-search point. */
export type StepName = "linesearch" | "projections" | "reachable";

export interface ReferenceOptions {
  oracle: OracleName;
  objective: ObjectiveName;
  distance: DistanceName;
  epsilon: number;
  step?: StepName;
  /** Seed of the `random` oracle (the reference's own generator, not the core's). */
  seed?: number;
  /** Largest K searched exhaustively by the `argmax` oracle; greedy beyond. */
  exactArgmaxLimit?: number;
}

/** The Jacobian of one row, as the core receives it, plus an explicit G for cross-checks. */
export type RowJacobian =
  | { kind: "probs"; proxyProbs: ArrayLike<number> }
  | { kind: "gram"; gram: ArrayLike<number> } // K x K, row-major
  | { kind: "identity" }
  | { kind: "explicit"; G: ArrayLike<number>; D: number }; // K x D, row-major

/** The Jacobian of a whole batch, in the core's layout. */
export type BatchJacobian =
  | { kind: "probs"; proxyProbs: ArrayLike<number> } // B x K
  | { kind: "gram"; gram: ArrayLike<number> } // B x K x K
  | { kind: "identity" };

type Vec = ArrayLike<number>;

/** Candidates v_S of MAD-argmax put this much extra mass on m so that argmax v_S = m strictly. */
export const ARGMAX_TIE_BREAK = 1e-5;
/** Added to the distance in the L1/L2 line search (as the reference does) so alpha never divides by 0. */
export const LINESEARCH_GUARD = 1e-7;
/** The KL line search bisects alpha down to this width. */
export const KL_ALPHA_TOLERANCE = 1e-13;
export const DEFAULT_EXACT_ARGMAX_LIMIT = 20;
/** Alternating projections: rounds and L2 stopping tolerance (MAD.md section 4). */
export const PROJECTION_ROUNDS = 100;
export const PROJECTION_TOLERANCE = 1e-4;
/** ‖a‖² at or below this makes H undefined for the whole row: fall back to S (CORE_API.md). */
export const DEGENERATE_SQUARED_NORM = 1e-24;
/**
 * ‖ã‖² at or below this fraction of its scale: the candidate has no direction (e.g. ỹ = p); every point
 * of the segment before it has cos = 1, so H scores that limit, 0. Scale (as the core, which computes
 * ‖ã‖² from sums that cancel): probs ‖p − y‖² + α²(‖c − y‖² + Σ_{i≠m} (c_i² + y_i²)) for the point
 * ỹ = y + α(c − y) of candidate c, m = first argmax y; gram trace M; identity never vanishes.
 */
export const VANISHING_RELATIVE = 1e-14;

// ---------------------------------------------------------------- small vector helpers

export function dot(u: Vec, v: Vec): number {
  let s = 0;
  for (let i = 0; i < u.length; i++) s += u[i] * v[i];
  return s;
}

export function l1Distance(u: Vec, v: Vec): number {
  let s = 0;
  for (let i = 0; i < u.length; i++) s += Math.abs(u[i] - v[i]);
  return s;
}

export function l2Distance(u: Vec, v: Vec): number {
  let s = 0;
  for (let i = 0; i < u.length; i++) s += (u[i] - v[i]) ** 2;
  return Math.sqrt(s);
}

/** KL(y ‖ ytilde) = Σ y_i log(y_i / ytilde_i), with 0 log 0 = 0 and +Infinity where ytilde_i = 0 < y_i. */
export function klDivergence(y: Vec, ytilde: Vec): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) {
    if (y[i] <= 0) continue;
    if (ytilde[i] <= 0) return Infinity;
    s += y[i] * Math.log(y[i] / ytilde[i]);
  }
  return s;
}

/** δ − log(1 + δ) without cancellation: a series for small |δ| (it is δ²/2 − δ³/3 + ...). */
function deltaMinusLog1p(delta: number): number {
  if (Math.abs(delta) > 1e-2) return delta - Math.log1p(delta);
  let sum = 0;
  let power = delta;
  for (let n = 2; n <= 12; n++) {
    power *= delta;
    sum += ((n % 2 === 0 ? 1 : -1) * power) / n;
  }
  return sum;
}

/**
 * KL(y ‖ (1 − α)y + α·t) for y, t on the simplex, accurate for tiny α. With δ_i = α(t_i − y_i)/y_i on
 * the support of y, KL = −Σ y_i log(1 + δ_i) = Σ y_i (δ_i − log(1 + δ_i)) + α·Σ_{y_i = 0} t_i, because
 * Σ_{y_i > 0} y_i δ_i = −α·(the mass of t off the support of y). Both sums are of non-negative terms;
 * evaluating Σ y_i log(y_i/ỹ_i) directly leaves rounding noise of ~1e-17 that can read as feasible.
 */
export function klAlongSegment(y: Vec, target: Vec, alpha: number): number {
  let s = 0;
  let offSupport = 0;
  for (let i = 0; i < y.length; i++) {
    if (y[i] <= 0) {
      offSupport += target[i];
      continue;
    }
    const delta = (alpha * (target[i] - y[i])) / y[i];
    if (delta <= -1) return Infinity;
    s += y[i] * deltaMinusLog1p(delta);
  }
  return s + alpha * offSupport;
}

export function distance(kind: DistanceName, y: Vec, ytilde: Vec): number {
  if (kind === "l1") return l1Distance(y, ytilde);
  if (kind === "l2") return l2Distance(y, ytilde);
  return klDivergence(y, ytilde);
}

export function argmaxIndex(v: Vec): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

export function argminIndex(v: Vec): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] < v[best]) best = i;
  return best;
}

function vertex(k: number, K: number): Float64Array {
  const e = new Float64Array(K);
  e[k] = 1;
  return e;
}

// ---------------------------------------------------------------- explicit G (for cross-checks)

/** A proxy's last linear layer: z = W h + b (W is K x hidden, row-major), p = softmax(z). */
export interface LastLayer {
  K: number;
  hidden: number;
  W: Float64Array;
  b: Float64Array;
  h: Float64Array;
}

export function softmax(z: Vec): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < z.length; i++) max = Math.max(max, z[i]);
  const out = new Float64Array(z.length);
  let total = 0;
  for (let i = 0; i < z.length; i++) total += out[i] = Math.exp(z[i] - max);
  for (let i = 0; i < z.length; i++) out[i] /= total;
  return out;
}

export function lastLayerProbs(layer: LastLayer): Float64Array {
  const z = new Float64Array(layer.K);
  for (let k = 0; k < layer.K; k++) {
    let s = layer.b[k];
    for (let j = 0; j < layer.hidden; j++) s += layer.W[k * layer.hidden + j] * layer.h[j];
    z[k] = s;
  }
  return softmax(z);
}

/**
 * G (K x K·hidden) of log-softmax with respect to W: row k = vec((e_k − p) hᵀ), the gradient of
 * log p_k. (MAD.md writes p − e_k; the sign flips a and ã together, so H and S are unchanged.)
 */
export function lastLayerJacobian(layer: LastLayer): { G: Float64Array; D: number; p: Float64Array } {
  const { K, hidden, h } = layer;
  const p = lastLayerProbs(layer);
  const D = K * hidden;
  const G = new Float64Array(K * D);
  for (let k = 0; k < K; k++) {
    for (let i = 0; i < K; i++) {
      const coefficient = (i === k ? 1 : 0) - p[i];
      for (let j = 0; j < hidden; j++) G[k * D + i * hidden + j] = coefficient * h[j];
    }
  }
  return { G, D, p };
}

/** Gᵀ v for G (K x D). */
export function gradientCombination(G: Vec, D: number, v: Vec): Float64Array {
  const K = v.length;
  const out = new Float64Array(D);
  for (let k = 0; k < K; k++) for (let d = 0; d < D; d++) out[d] += v[k] * G[k * D + d];
  return out;
}

/** M = G Gᵀ (K x K) for G (K x D). */
export function gramOf(G: Vec, K: number, D: number): Float64Array {
  const M = new Float64Array(K * K);
  for (let i = 0; i < K; i++)
    for (let j = 0; j < K; j++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += G[i * D + d] * G[j * D + d];
      M[i * K + j] = s;
    }
  return M;
}

/** M = ‖h‖²(‖p‖² 11ᵀ − p1ᵀ − 1pᵀ + I), the last-layer Gram matrix in closed form (MAD.md §2). */
export function lastLayerGram(p: Vec, hSquaredNorm: number): Float64Array {
  const K = p.length;
  const pp = dot(p, p);
  const M = new Float64Array(K * K);
  for (let i = 0; i < K; i++)
    for (let j = 0; j < K; j++) M[i * K + j] = hSquaredNorm * (pp - p[i] - p[j] + (i === j ? 1 : 0));
  return M;
}

/** H from explicit G: ‖ã/‖ã‖ − a/‖a‖‖², a = Gᵀy, ã = Gᵀỹ. */
export function explicitAngularObjective(G: Vec, D: number, ytilde: Vec, y: Vec): number {
  const a = gradientCombination(G, D, y);
  const at = gradientCombination(G, D, ytilde);
  const na = Math.sqrt(dot(a, a));
  const nat = Math.sqrt(dot(at, at));
  let s = 0;
  for (let d = 0; d < D; d++) s += (at[d] / nat - a[d] / na) ** 2;
  return s;
}

/** S from explicit G: ‖ã − a‖². */
export function explicitSurrogateObjective(G: Vec, D: number, ytilde: Vec, y: Vec): number {
  const a = gradientCombination(G, D, y);
  const at = gradientCombination(G, D, ytilde);
  let s = 0;
  for (let d = 0; d < D; d++) s += (at[d] - a[d]) ** 2;
  return s;
}

// ---------------------------------------------------------------- objectives in reduced form

/** uᵀ M v, where M = G Gᵀ is given by the Jacobian descriptor. For `probs`, ‖h‖ = 1. */
export function gramProduct(u: Vec, v: Vec, jacobian: RowJacobian): number {
  const K = u.length;
  switch (jacobian.kind) {
    case "identity":
      return dot(u, v);
    case "probs": {
      // (‖p‖²11ᵀ − p1ᵀ − 1pᵀ + I) expanded, without assuming u, v sum to 1.
      const p = jacobian.proxyProbs;
      let su = 0, sv = 0;
      for (let i = 0; i < K; i++) (su += u[i]), (sv += v[i]);
      return dot(p, p) * su * sv - dot(p, u) * sv - su * dot(p, v) + dot(u, v);
    }
    case "gram": {
      const M = jacobian.gram;
      let s = 0;
      for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) s += u[i] * M[i * K + j] * v[j];
      return s;
    }
    case "explicit": {
      const gu = gradientCombination(jacobian.G, jacobian.D, u);
      const gv = gradientCombination(jacobian.G, jacobian.D, v);
      return dot(gu, gv);
    }
  }
}

/** ‖a‖² = yᵀMy is (numerically) zero: H is undefined for every candidate. */
export function angularIsDegenerate(y: Vec, jacobian: RowJacobian): boolean {
  if (jacobian.kind === "identity") return false; // a = y, never 0 on the simplex
  if (jacobian.kind === "probs") {
    let s = 0;
    for (let i = 0; i < y.length; i++) s += (jacobian.proxyProbs[i] - y[i]) ** 2;
    return s <= DEGENERATE_SQUARED_NORM;
  }
  return gramProduct(y, y, jacobian) <= DEGENERATE_SQUARED_NORM;
}

/**
 * H(ỹ) = 2 − 2 cos(ã, a). `probs`: 2 − 2 cos(p − ỹ, p − y) (MAD.md §2, h drops out);
 * `gram`: 2 − 2 ỹᵀMy / √(ỹᵀMỹ · yᵀMy); `identity`: M = I. NaN where a or ã is zero.
 */
export function angularObjective(ytilde: Vec, y: Vec, jacobian: RowJacobian): number {
  if (jacobian.kind === "probs") {
    const p = jacobian.proxyProbs;
    let cross = 0, nt = 0, n = 0;
    for (let i = 0; i < y.length; i++) {
      const dt = p[i] - ytilde[i];
      const d = p[i] - y[i];
      cross += dt * d;
      nt += dt * dt;
      n += d * d;
    }
    return 2 - 2 * clampCosine(cross / Math.sqrt(nt * n));
  }
  const cross = gramProduct(ytilde, y, jacobian);
  return 2 - 2 * clampCosine(cross / Math.sqrt(gramProduct(ytilde, ytilde, jacobian) * gramProduct(y, y, jacobian)));
}

/** Rounding can push a cosine just past ±1 (H is in [0, 4]); NaN stays NaN. */
function clampCosine(c: number): number {
  return c > 1 ? 1 : c < -1 ? -1 : c;
}

/** S(ỹ) = (ỹ − y)ᵀ M (ỹ − y). `probs`: ‖ỹ − y‖² (the factor ‖h‖² is unknown and irrelevant). */
export function surrogateObjective(ytilde: Vec, y: Vec, jacobian: RowJacobian): number {
  const delta = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++) delta[i] = ytilde[i] - y[i];
  if (jacobian.kind === "probs") return dot(delta, delta);
  return gramProduct(delta, delta, jacobian);
}

/** Where a scored point lies: ỹ = y + α(c − y) for candidate c (a candidate scored at itself: c = ỹ, α = 1). */
export interface SegmentPoint {
  candidate: Vec;
  alpha: number;
}

/** The objective the oracle maximises; H falls back to S when a = 0 (p = y) so there is never NaN. */
export function objectiveFor(objective: ObjectiveName, y: Vec, jacobian: RowJacobian): (ytilde: Vec, segment?: SegmentPoint) => number {
  if (effectiveObjective(objective, y, jacobian) === "angular") {
    return (ytilde, segment) => (candidateVanishes(ytilde, y, jacobian, segment) ? 0 : angularObjective(ytilde, y, jacobian));
  }
  return (ytilde) => surrogateObjective(ytilde, y, jacobian);
}

/**
 * ã = Gᵀỹ is (numerically) zero, e.g. ỹ = p. Every point of the segment before it has cos = 1, so H
 * scores its limit, 0. The scale is that of the core's terms (VANISHING_RELATIVE).
 */
export function candidateVanishes(ytilde: Vec, y: Vec, jacobian: RowJacobian, segment: SegmentPoint = { candidate: ytilde, alpha: 1 }): boolean {
  switch (jacobian.kind) {
    case "identity":
      return false;
    case "probs": {
      const m = argmaxIndex(y);
      const c = segment.candidate;
      let norm = 0, dd = 0, operands = 0;
      for (let i = 0; i < y.length; i++) {
        norm += (jacobian.proxyProbs[i] - ytilde[i]) ** 2;
        dd += (jacobian.proxyProbs[i] - y[i]) ** 2;
        operands += (c[i] - y[i]) ** 2 + (i === m ? 0 : c[i] * c[i] + y[i] * y[i]);
      }
      return norm <= VANISHING_RELATIVE * (dd + segment.alpha * segment.alpha * operands);
    }
    case "gram": {
      let trace = 0;
      for (let i = 0; i < y.length; i++) trace += jacobian.gram[i * y.length + i];
      return gramProduct(ytilde, ytilde, jacobian) <= VANISHING_RELATIVE * trace;
    }
    case "explicit":
      return gramProduct(ytilde, ytilde, jacobian) === 0;
  }
}

// ---------------------------------------------------------------- oracles

export interface OracleChoice {
  target: Float64Array;
  /** Objective value of the chosen target, and of the runner-up (−Infinity if there is none). */
  best: number;
  secondBest: number;
  /** What the values are: H, S (also when H fell back to S), or nothing (argmin, random). */
  scoredWith: ObjectiveName | "none";
  /** Greedy only: a round's decision was a near tie, so another path (and answer) is equally right. */
  pathNearTie?: boolean;
}

/**
 * The best two candidates are within `relative` of each other, so rounding may pick either one.
 * H lies in [0, 4] and is computed as 2 − 2cos (absolute rounding), so its scale is at least 1.
 */
export function isNearTie(choice: OracleChoice, relative = 1e-9): boolean {
  if (choice.pathNearTie) return true;
  if (choice.scoredWith === "none" || choice.secondBest === -Infinity) return false;
  const scale = Math.max(Math.abs(choice.best), choice.scoredWith === "angular" ? 1 : 0);
  return choice.best - choice.secondBest <= relative * scale;
}

/** Which objective the oracle really maximises for this row (H falls back to S when a = 0). */
export function effectiveObjective(objective: ObjectiveName, y: Vec, jacobian: RowJacobian): ObjectiveName {
  return objective === "angular" && !angularIsDegenerate(y, jacobian) ? "angular" : "surrogate";
}

/**
 * Where a candidate is scored, as α on its segment ỹ(α) = (1 − α)y + αc: at itself (α = 1, the paper's
 * heuristic) or at its reachable point (`reachable`: the line search's α).
 */
export type Placement = (candidate: Float64Array) => number;
const atCandidate: Placement = () => 1;

/** The objective of candidate c at its placement. */
function scoreAt(score: (ytilde: Vec, segment?: SegmentPoint) => number, y: Vec, candidate: Float64Array, placement: Placement): number {
  const alpha = placement(candidate);
  const point = alpha === 1 ? candidate : interpolate(y, candidate, alpha);
  return score(point, { candidate, alpha });
}

function trackBest(state: OracleChoice, value: number, candidate: () => Float64Array): void {
  if (value > state.best) {
    state.secondBest = state.best;
    state.best = value;
    state.target = candidate();
  } else if (value > state.secondBest) {
    state.secondBest = value;
  }
}

function emptyChoice(K: number, scoredWith: ObjectiveName): OracleChoice {
  return { target: new Float64Array(K), best: -Infinity, secondBest: -Infinity, scoredWith };
}

/** y* = e_k maximising the objective over the K vertices; ties: the first maximum. */
export function extremeOracle(
  y: Vec,
  objective: ObjectiveName,
  jacobian: RowJacobian,
  placement: Placement = atCandidate,
): OracleChoice {
  const K = y.length;
  const score = objectiveFor(objective, y, jacobian);
  const state = emptyChoice(K, effectiveObjective(objective, y, jacobian));
  for (let k = 0; k < K; k++) trackBest(state, scoreAt(score, y, vertex(k, K), placement), () => vertex(k, K));
  return state;
}

/** v_S = (1_S + 1e-5 e_m) / (|S| + 1e-5). */
export function argmaxCandidate(members: ArrayLike<number>, m: number, K: number): Float64Array {
  const v = new Float64Array(K);
  for (let i = 0; i < members.length; i++) v[members[i]] = 1;
  v[m] += ARGMAX_TIE_BREAK;
  const total = members.length + ARGMAX_TIE_BREAK;
  for (let i = 0; i < K; i++) v[i] /= total;
  return v;
}

/**
 * MAD-argmax: the best v_S over subsets S containing m = argmax y (first maximum). Exhaustive over
 * all 2^(K−1) subsets for K <= limit, in the core's Gray-code order (step i visits gray(i) = i ^ (i >> 1),
 * bit b = the b-th class other than m) so that exact ties resolve alike; greedy beyond.
 */
export function argmaxOracle(
  y: Vec,
  objective: ObjectiveName,
  jacobian: RowJacobian,
  exactLimit = DEFAULT_EXACT_ARGMAX_LIMIT,
  placement: Placement = atCandidate,
): OracleChoice {
  const K = y.length;
  const m = argmaxIndex(y);
  if (K > exactLimit) return greedyArgmaxOracle(y, m, objective, jacobian, placement);
  const others: number[] = [];
  for (let i = 0; i < K; i++) if (i !== m) others.push(i);
  const score = objectiveFor(objective, y, jacobian);
  const state = emptyChoice(K, effectiveObjective(objective, y, jacobian));
  for (let step = 0; step < 2 ** (K - 1); step++) {
    const mask = step ^ (step >> 1);
    const members = [m];
    for (let bit = 0; bit < K - 1; bit++) if (mask & (1 << bit)) members.push(others[bit]);
    const candidate = argmaxCandidate(members, m, K);
    trackBest(state, scoreAt(score, y, candidate, placement), () => candidate);
  }
  return state;
}

/**
 * Greedy MAD-argmax, as the core does it (CORE_API.md; MAD.md §3 describes the PyTorch variant,
 * which always scores with H and stops after 1024 evaluations): F = {m}, itself the first candidate;
 * each round scores F ∪ {k} for every k outside F (k increasing) with the selected objective and adds
 * the round's best k to F; stops when a round's best does not beat the best seen so far, or F is full.
 */
export function greedyArgmaxOracle(
  y: Vec,
  m: number,
  objective: ObjectiveName,
  jacobian: RowJacobian,
  placement: Placement = atCandidate,
): OracleChoice {
  const K = y.length;
  const score = objectiveFor(objective, y, jacobian);
  const state = emptyChoice(K, effectiveObjective(objective, y, jacobian));
  const inF = new Uint8Array(K);
  const F = [m];
  inF[m] = 1;
  const alone = argmaxCandidate(F, m, K);
  trackBest(state, scoreAt(score, y, alone, placement), () => alone);
  const close = (a: number, b: number) =>
    Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), state.scoredWith === "angular" ? 1 : 0);
  while (F.length < K) {
    const bestBefore = state.best;
    let roundBest = -Infinity;
    let roundSecond = -Infinity;
    let roundIndex = -1;
    for (let k = 0; k < K; k++) {
      if (inF[k]) continue;
      const candidate = argmaxCandidate([...F, k], m, K);
      const value = scoreAt(score, y, candidate, placement);
      if (value > roundBest) (roundSecond = roundBest), (roundBest = value), (roundIndex = k);
      else if (value > roundSecond) roundSecond = value;
      trackBest(state, value, () => candidate);
    }
    if (close(roundBest, roundSecond) || close(roundBest, bestBefore)) state.pathNearTie = true;
    if (!(roundBest > bestBefore)) break;
    F.push(roundIndex);
    inF[roundIndex] = 1;
  }
  return state;
}

/** y* = e at argmin y (first minimum). */
export function argminOracle(y: Vec): OracleChoice {
  const K = y.length;
  return { target: vertex(argminIndex(y), K), best: NaN, secondBest: NaN, scoredWith: "none" };
}

/** A small seeded generator (mulberry32) for the tests' own random inputs. */
export function seededUniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MASK64 = (1n << 64n) - 1n;

/**
 * The core's counter-based uniform (CORE_API.md): the n-th row a perturber processes gets
 * u = splitmix64(seed, n) in [0, 1), so a batch equals the same rows one by one.
 */
export function counterUniform(seed: number, n: number): number {
  let z = (BigInt(seed >>> 0) * 0x9e3779b97f4a7c15n + BigInt(n) * 0xd1b54a32d192ed03n + 0x632be59bd9b4e019n) & MASK64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  z = z ^ (z >> 31n);
  return Number(z >> 11n) * 2 ** -53;
}

/** y* = e_k with k = floor(u·K), u the perturber's n-th uniform. */
export function randomOracle(K: number, seed: number, rowNumber: number): OracleChoice {
  const k = Math.min(K - 1, Math.floor(counterUniform(seed, rowNumber) * K));
  return { target: vertex(k, K), best: NaN, secondBest: NaN, scoredWith: "none" };
}

// ---------------------------------------------------------------- projections

/** Euclidean projection onto {x >= 0, Σx = radius} by sorting (Duchi et al. 2008). */
export function projectOntoSimplex(v: Vec, radius = 1): Float64Array {
  const K = v.length;
  const sorted = Array.from(v).sort((a, b) => b - a);
  let cumulative = sorted[0];
  // The largest j with sorted[j] − θ_j > 0 fixes the threshold; j = 0 always qualifies for radius > 0
  // and is the answer for radius = 0 (the simplex is {0}).
  let theta = sorted[0] - radius;
  for (let j = 1; j < K; j++) {
    cumulative += sorted[j];
    const candidate = (cumulative - radius) / (j + 1);
    if (sorted[j] - candidate > 0) theta = candidate;
  }
  const out = new Float64Array(K);
  for (let i = 0; i < K; i++) out[i] = Math.max(v[i] - theta, 0);
  return out;
}

/** Euclidean projection onto {x : ‖x − center‖₁ <= r}: project |v − c| onto the r-simplex, restore signs. */
export function projectOntoL1Ball(v: Vec, center: Vec, r: number): Float64Array {
  const K = v.length;
  const w = new Float64Array(K);
  for (let i = 0; i < K; i++) w[i] = v[i] - center[i];
  const out = new Float64Array(K);
  if (l1Distance(v, center) <= r) {
    for (let i = 0; i < K; i++) out[i] = v[i];
    return out;
  }
  const magnitude = projectOntoSimplex(Array.from(w, Math.abs), r);
  for (let i = 0; i < K; i++) out[i] = center[i] + Math.sign(w[i]) * magnitude[i];
  return out;
}

/** Euclidean projection onto {x : ‖x − center‖₂ <= r}: radial. */
export function projectOntoL2Ball(v: Vec, center: Vec, r: number): Float64Array {
  const K = v.length;
  const out = new Float64Array(K);
  const norm = l2Distance(v, center);
  if (norm <= r) return Float64Array.from(v);
  const scale = r / norm;
  for (let i = 0; i < K; i++) out[i] = center[i] + scale * (v[i] - center[i]);
  return out;
}

// ---------------------------------------------------------------- steps from y* to ỹ

/** ỹ(α) = (1 − α) y + α y*. */
export function interpolate(y: Vec, target: Vec, alpha: number): Float64Array {
  const out = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++) out[i] = (1 - alpha) * y[i] + alpha * target[i];
  return out;
}

/**
 * The step size α of the line search. L1/L2: clamp(ε / (‖y − y*‖ + 1e-7), 0, 1). KL: α = 1 if y*
 * is feasible, else the largest feasible α by bisection on the monotone KL(y‖ỹ(α)) to 1e-13.
 */
export function lineSearchAlpha(y: Vec, target: Vec, distanceName: DistanceName, epsilon: number): number {
  if (epsilon <= 0) return 0;
  if (distanceName !== "kl") {
    const dist = distanceName === "l1" ? l1Distance(y, target) : l2Distance(y, target);
    return Math.min(1, Math.max(0, epsilon / (dist + LINESEARCH_GUARD)));
  }
  if (klDivergence(y, target) <= epsilon) return 1;
  let feasible = 0;
  let infeasible = 1;
  while (infeasible - feasible > KL_ALPHA_TOLERANCE) {
    const mid = 0.5 * (feasible + infeasible);
    if (klAlongSegment(y, target, mid) <= epsilon) feasible = mid;
    else infeasible = mid;
  }
  return feasible;
}

export function lineSearch(y: Vec, target: Vec, distanceName: DistanceName, epsilon: number): Float64Array {
  if (epsilon <= 0) return Float64Array.from(y);
  return interpolate(y, target, lineSearchAlpha(y, target, distanceName, epsilon));
}

/**
 * Alternating projections (MAD.md §4): from y*, project onto the ε-ball around y, then onto the
 * simplex; at most 100 rounds, stop when a round moves ỹ by less than 1e-4 (L2). The last simplex
 * projection may leave the ball slightly: then pull x radially towards y onto the sphere (a convex
 * combination of two simplex points, so it stays on the simplex), as the core does. L1 and L2 only.
 */
export function alternatingProjections(y: Vec, target: Vec, distanceName: DistanceName, epsilon: number): Float64Array {
  if (distanceName === "kl") throw new Error("projections: the KL ball has no closed-form projection");
  if (epsilon <= 0) return Float64Array.from(y);
  const projectOntoBall = distanceName === "l1" ? projectOntoL1Ball : projectOntoL2Ball;
  let current: Float64Array = Float64Array.from(target);
  for (let round = 0; round < PROJECTION_ROUNDS; round++) {
    const previous = current;
    current = projectOntoSimplex(projectOntoBall(current, y, epsilon));
    if (l2Distance(current, previous) < PROJECTION_TOLERANCE) break;
  }
  const dist = distance(distanceName, y, current);
  if (dist > epsilon) current = interpolate(y, current, epsilon / dist);
  return current;
}

// ---------------------------------------------------------------- whole perturbation

/** `rowNumber`: how many rows the perturber processed before this one (the `random` oracle's counter). */
export function chooseTarget(y: Vec, options: ReferenceOptions, jacobian: RowJacobian, rowNumber = 0): OracleChoice {
  const placement: Placement =
    options.step === "reachable" ? (candidate) => lineSearchAlpha(y, candidate, options.distance, options.epsilon) : atCandidate;
  switch (options.oracle) {
    case "extreme":
      return extremeOracle(y, options.objective, jacobian, placement);
    case "argmax":
      return argmaxOracle(y, options.objective, jacobian, options.exactArgmaxLimit, placement);
    case "argmin":
      return argminOracle(y);
    case "random":
      return randomOracle(y.length, options.seed ?? 0, rowNumber);
  }
}

/** m strictly on top of x. */
export function keepsTop1Strictly(x: Vec, m: number): boolean {
  for (let i = 0; i < x.length; i++) if (i !== m && !(x[m] > x[i])) return false;
  return true;
}

/**
 * Move from y towards the chosen target with the configured step (`reachable` moves by line search;
 * its difference is in the oracle). With the argmax oracle, a projections result that loses m on top
 * falls back to the line-search point, as the core does.
 */
export function stepTowards(y: Vec, target: Vec, options: ReferenceOptions): Float64Array {
  if (options.epsilon <= 0) return Float64Array.from(y);
  if (options.step === "projections") {
    const projected = alternatingProjections(y, target, options.distance, options.epsilon);
    if (options.oracle !== "argmax" || keepsTop1Strictly(projected, argmaxIndex(y))) return projected;
  }
  return lineSearch(y, target, options.distance, options.epsilon);
}

export interface ReferenceResult {
  output: Float64Array;
  target: Float64Array;
  choice: OracleChoice;
}

/** MAD on one row y with the given Jacobian: the oracle picks y*, the step moves y towards it. */
export function referencePerturb(
  y: Vec,
  options: ReferenceOptions,
  jacobian: RowJacobian,
  rowNumber = 0,
): ReferenceResult {
  const choice = chooseTarget(y, options, jacobian, rowNumber);
  return { output: stepTowards(y, choice.target, options), target: choice.target, choice };
}

/** The Jacobian of row `row` of a batch. */
export function rowJacobian(jacobian: BatchJacobian, row: number, K: number): RowJacobian {
  if (jacobian.kind === "probs")
    return { kind: "probs", proxyProbs: Float64Array.from({ length: K }, (_, i) => jacobian.proxyProbs[row * K + i]) };
  if (jacobian.kind === "gram")
    return { kind: "gram", gram: Float64Array.from({ length: K * K }, (_, i) => jacobian.gram[row * K * K + i]) };
  return { kind: "identity" };
}

/** MAD on a batch (B x K row-major), row by row, as a fresh perturber would (random: row b uses counter b). */
export function referencePerturbBatch(
  probs: ArrayLike<number>,
  K: number,
  options: ReferenceOptions,
  jacobian: BatchJacobian = { kind: "identity" },
): { probs: Float64Array; targets: Float64Array } {
  const B = Math.floor(probs.length / K);
  const out = new Float64Array(B * K);
  const targets = new Float64Array(B * K);
  const y = new Float64Array(K);
  for (let row = 0; row < B; row++) {
    for (let i = 0; i < K; i++) y[i] = probs[row * K + i];
    const { output, target } = referencePerturb(y, options, rowJacobian(jacobian, row, K), row);
    out.set(output, row * K);
    targets.set(target, row * K);
  }
  return { probs: out, targets };
}
