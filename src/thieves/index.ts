// The thieves: one Thief interface, one file per attack, one registry.
export * from "./thief.js";
export { BudgetedQuerier } from "./query.js";
export { ThiefConfigError } from "./parameters.js";
export { KnockoffThief, knockoffQueryIndices, knockoffParamsSchema, type KnockoffParams } from "./knockoff.js";
export { JacobianThief, jacobianStep, targetedPgd, periodicStep, type AugmentContext, type AugmentStrategy } from "./jacobian.js";
export { jacobianAugment } from "./jbda.js";
export { topClassesExcept, topkAugment } from "./jbtopk.js";
export { RecoverThief, recoverParamsSchema, recoveryFeatures, enforceTop1, type RecoverParams } from "./recover.js";
export { SmoothThief, smoothParamsSchema, jitterImages, type SmoothParams } from "./smooth.js";
export { InvertThief, invertAnswers, inversionPlan, invertParamsSchema, type Inversion, type InversionPlan, type InvertParams } from "./invert.js";
export { createThief, describeThief, thiefNames, type ThiefInfo } from "./registry.js";
