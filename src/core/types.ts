// The public types of the perturbation core (see docs/CORE.md and the README).

export type Oracle = "extreme" | "argmax" | "random" | "argmin";
export type Objective = "angular" | "surrogate";
export type Distance = "l1" | "l2" | "kl";
/** linesearch: the paper's step (default); projections: alternating projections (l1/l2);
 * reachable: candidates scored at the point the line search reaches (larger H at the same ε). */
export type Step = "linesearch" | "projections" | "reachable";

export interface PerturbOptions {
  oracle: Oracle;
  objective: Objective;
  distance: Distance;
  epsilon: number;
  step?: Step;
  /** Seed of the `random` oracle, an integer in [0, 2^32). */
  seed?: number;
  /**
   * `argmax` only: search all 2^(K−1) subsets exhaustively up to K = exactArgmaxLimit (an integer
   * in 1..24, default 20); beyond, the sorted search (`probs` and `identity` Jacobians scored at the
   * candidates: a few O(K log K) sorts per row, exact for `surrogate` and `identity`) or the greedy
   * (`gram`, `reachable`: O(K²) candidates per row). Exhaustive cost doubles per class: about 5 ms per
   * row at K = 20 (the `probs` Jacobian, line search), so about 80 ms at 24.
   */
  exactArgmaxLimit?: number;
  /**
   * `argmax` only, K > exactArgmaxLimit: after the sorted search or the greedy, local-search passes
   * (add, remove or exchange one class; O(K²) each) until none improves. Default false.
   */
  argmaxRefine?: boolean;
}

/** How the thief's gradients depend on the answer (the proxy descriptor). */
export type Jacobian =
  | { kind: "probs"; proxyProbs: Float32Array | Float64Array } // B x K, the proxy's softmax
  | { kind: "gram"; gram: Float64Array } // B x K x K Gram matrices M = G Gᵀ, row-major, symmetric
  | { kind: "identity" };

export interface Perturber {
  readonly options: Readonly<Required<PerturbOptions>>;
  /**
   * probs: B x K row-major. Returns the answers in a new array of the same type, or in `out` when
   * given (same type and length as probs, sharing no memory with probs or the proxy's rows; on an
   * error its contents are unspecified): a caller answering batch after batch reuses one buffer
   * instead of paying for a fresh one each time. jacobian defaults to identity.
   */
  perturb<T extends Float32Array | Float64Array>(probs: T, numClasses: number, jacobian?: Jacobian, out?: T): T;
  /** Also returns the chosen targets y* (B x K), for tests and parity. */
  perturbWithTargets<T extends Float32Array | Float64Array>(
    probs: T,
    numClasses: number,
    jacobian?: Jacobian,
  ): { probs: T; targets: T };
  /**
   * One answer batch per budget: element e equals, bit for bit, what `perturb` returns from a
   * perturber with these options and epsilon = epsilons[e] (options.epsilon is not used). The
   * oracle runs once per row for all budgets (once per row and budget with step `reachable`, whose
   * target depends on ε), in one WASM call per chunk. epsilons: finite, > 0, and at most the
   * distance's diameter on the simplex (l1: 2, l2: √2; kl: any finite value).
   */
  perturbSweep<T extends Float32Array | Float64Array>(
    probs: T,
    numClasses: number,
    epsilons: readonly number[],
    jacobian?: Jacobian,
  ): T[];
}
