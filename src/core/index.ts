// The perturbation core: MAD's optimizer in WASM behind a typed batch API.
export { loadCore, type Core, type CoreSource } from "./loader.js";
export { CoreInputError, PredictionPoisoningError, isProblem, problemKinds, type ProblemKind, type ProblemLocation } from "./errors.js";
export { ScratchArena } from "./memory.js";
export type { Oracle, Objective, Distance, Step, PerturbOptions, Jacobian, Perturber } from "./types.js";
export { createModelGuardSolver, type ModelGuardOptions, type ModelGuardResult, type ModelGuardSolver } from "./modelguard.js";
