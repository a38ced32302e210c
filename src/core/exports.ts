// The raw exports of build/core.wasm (assembly/index.ts) and the codes they share with it.

export interface CoreExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  ensureMemory(bytes: number): number;
  workBytes(K: number): number;
  /** The options of the next batches; MAD-argmax: exhaustive up to K = exactLimit (1..24), sorted search or greedy beyond; refine != 0: swap passes after it. */
  configure(oracle: number, objective: number, distance: number, step: number, epsilon: number, seed: number, exactLimit: number, refine: number): void;
  perturbBatch(
    input: number, ioF32: number, jacobianKind: number, jacobian: number, jacobianF32: number,
    output: number, targets: number, rows: number, K: number, rowOffset: number, work: number,
  ): number;
  /** perturbBatch for many budgets: output is epsilonCount blocks of rows x K (epsilons: f64 list at `epsilons`). Both return 0, or 1 when a row is not a probability vector (the batch stopped; validate to say which). */
  perturbSweep(
    input: number, ioF32: number, jacobianKind: number, jacobian: number, jacobianF32: number,
    output: number, rows: number, K: number, rowOffset: number, work: number, epsilons: number, epsilonCount: number,
  ): number;
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

// Codes shared with assembly/ (objectives.ts, oracles.ts, distances.ts, steps.ts, validation.ts): the names
// are TypeScript's; the numbers are the module's exported globals (ORACLE_ARGMAX, FIELD_PROXY_PROBS, ...),
// read when it loads (readCodes), so nothing is mirrored by hand.
export const ORACLES = ["extreme", "argmax", "random", "argmin"] as const;
export const OBJECTIVES = ["angular", "surrogate"] as const;
export const DISTANCES = ["l1", "l2", "kl"] as const;
export const STEPS = ["linesearch", "projections", "reachable"] as const;
export const JACOBIANS = ["identity", "probs", "gram"] as const;
export const FIELDS = ["probs", "proxyProbs", "gram"] as const;
export const PROBLEMS = ["none", "notFinite", "negative", "sum", "asymmetric", "negativeDiagonal"] as const;

type Codes<T extends readonly string[]> = Record<T[number], number>;
export const ORACLE_CODES = {} as Codes<typeof ORACLES>;
export const OBJECTIVE_CODES = {} as Codes<typeof OBJECTIVES>;
export const DISTANCE_CODES = {} as Codes<typeof DISTANCES>;
export const STEP_CODES = {} as Codes<typeof STEPS>;
export const JACOBIAN_CODES = {} as Codes<typeof JACOBIANS>;
export const FIELD_CODES = {} as Codes<typeof FIELDS>;
export const PROBLEM = {} as Codes<typeof PROBLEMS>;
/** FIELD_NAMES[code]: the field a validation code names. */
export const FIELD_NAMES: string[] = [];

const tables: readonly [Record<string, number>, string, readonly string[]][] = [
  [ORACLE_CODES, "ORACLE_", ORACLES], [OBJECTIVE_CODES, "OBJECTIVE_", OBJECTIVES], [DISTANCE_CODES, "DISTANCE_", DISTANCES],
  [STEP_CODES, "STEP_", STEPS], [JACOBIAN_CODES, "JACOBIAN_", JACOBIANS], [FIELD_CODES, "FIELD_", FIELDS], [PROBLEM, "PROBLEM_", PROBLEMS],
];

/** "proxyProbs" → "PROXY_PROBS": the AssemblyScript constant's spelling. */
const upperSnake = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();

/** Fills the code tables from a loaded module's exported globals; a missing one means another build. */
export function readCodes(moduleExports: WebAssembly.Exports): void {
  for (const [table, prefix, names] of tables) {
    for (const name of names) {
      const global = moduleExports[prefix + upperSnake(name)];
      if (!(global instanceof WebAssembly.Global)) throw new Error(`core.wasm exports no ${prefix + upperSnake(name)}: a core build that does not match this package`);
      table[name] = Number(global.value);
    }
  }
  FIELDS.forEach((name) => (FIELD_NAMES[FIELD_CODES[name]] = name));
}
