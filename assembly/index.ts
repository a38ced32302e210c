// The WASM core's exports: one line per module (see src/core/ for the TypeScript side).
export { heapBase, ensureMemory, workBytes, configure, perturbBatch, perturbSweep } from "./batch";
export { validateProbabilityRows, validateGramMatrices, validationRow, validationField, validationIndex, validationValue } from "./validation";
export { configureArgmax } from "./oracles";
export { projectOntoSimplex } from "./simplex";
export { projectOntoL1Ball, projectOntoL2Ball } from "./balls";
export * from "./modelguard";
