// The WASM core's exports: one line per module (see src/core/ for the TypeScript side).
export { heapBase, ensureMemory, workBytes, configure, perturbBatch, perturbSweep } from "./batch";
export { validateProbabilityRows, validateGramMatrices, validationRow, validationField, validationIndex, validationValue } from "./validation";
export { projectOntoSimplex } from "./simplex";
export { projectOntoL1Ball, projectOntoL2Ball } from "./balls";
export * from "./modelguard";
// The option and problem codes, as exported globals: the TypeScript side reads them at load (src/core/exports.ts).
export { ORACLE_EXTREME, ORACLE_ARGMAX, ORACLE_RANDOM, ORACLE_ARGMIN, EXACT_ARGMAX_LIMIT, MAX_EXACT_ARGMAX_LIMIT } from "./oracles";
export { OBJECTIVE_ANGULAR, OBJECTIVE_SURROGATE, JACOBIAN_IDENTITY, JACOBIAN_PROBS, JACOBIAN_GRAM } from "./objectives";
export { DISTANCE_L1, DISTANCE_L2, DISTANCE_KL } from "./distances";
export { STEP_LINESEARCH, STEP_PROJECTIONS, STEP_REACHABLE } from "./steps";
export {
  FIELD_PROBS, FIELD_PROXY_PROBS, FIELD_GRAM,
  PROBLEM_NONE, PROBLEM_NOT_FINITE, PROBLEM_NEGATIVE, PROBLEM_SUM, PROBLEM_ASYMMETRIC, PROBLEM_NEGATIVE_DIAGONAL,
} from "./validation";
