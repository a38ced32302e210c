// The raw exports of build/core.wasm (assembly/index.ts) and the codes they share with it.

export interface CoreExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  ensureMemory(bytes: number): number;
  workBytes(K: number): number;
  configure(oracle: number, objective: number, distance: number, step: number, epsilon: number, seed: number): void;
  /** MAD-argmax search: exhaustive up to K = limit (1..24), sorted search or greedy beyond; refine != 0: swap passes after it. */
  configureArgmax(limit: number, refine: number): void;
  perturbBatch(
    input: number, ioF32: number, jacobianKind: number, jacobian: number, jacobianF32: number,
    output: number, targets: number, rows: number, K: number, rowOffset: number, work: number,
  ): void;
  /** perturbBatch for many budgets: output is epsilonCount blocks of rows x K (epsilons: f64 list at `epsilons`). */
  perturbSweep(
    input: number, ioF32: number, jacobianKind: number, jacobian: number, jacobianF32: number,
    output: number, rows: number, K: number, rowOffset: number, work: number, epsilons: number, epsilonCount: number,
  ): void;
  validateProbabilityRows(ptr: number, isF32: number, rows: number, K: number, field: number): number;
  validateGramMatrices(ptr: number, rows: number, K: number): number;
  validationRow(): number;
  validationField(): number;
  validationIndex(): number;
  validationValue(): number;
  projectOntoSimplex(v: number, out: number, K: number, radius: number, sorted: number): void;
  projectOntoL1Ball(v: number, center: number, out: number, K: number, radius: number, scratch: number): void;
  projectOntoL2Ball(v: number, center: number, out: number, K: number, radius: number): void;
}

// Codes mirrored from assembly/ (objectives.ts, oracles.ts, distances.ts, steps.ts, validation.ts).
export const ORACLE_CODES = { extreme: 0, argmax: 1, random: 2, argmin: 3 } as const;
export const OBJECTIVE_CODES = { angular: 0, surrogate: 1 } as const;
export const DISTANCE_CODES = { l1: 0, l2: 1, kl: 2 } as const;
export const STEP_CODES = { linesearch: 0, projections: 1, reachable: 2 } as const;
export const JACOBIAN_CODES = { identity: 0, probs: 1, gram: 2 } as const;
export const FIELD_NAMES = ["probs", "proxyProbs", "gram"] as const;
export const FIELD_CODES = { probs: 0, proxyProbs: 1, gram: 2 } as const;
export const PROBLEM = { none: 0, notFinite: 1, negative: 2, sum: 3, asymmetric: 4, negativeDiagonal: 5 } as const;
