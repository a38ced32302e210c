// The defenses layer: one Defense interface, every defense by name, and the defended model.
export type { Defense, DefenseBatch, DefenseResult, DefenseTraits } from "./defense.js";
export type { DefenseDeps, DefenseModel, DefenseProxy } from "./deps.js";
export { ALPHA_SNAP, misinformationWeight, type AdaptiveMisinformationDefense } from "./adaptive-misinformation.js";
export { DefenseConfigError, DefenseInputError, UnknownParameterError } from "./errors.js";
export type { ParameterSpec, ParameterType } from "./parameters.js";
export { createDefense, describeDefense, listDefenses, parseParameterStrings, publicParameters, type DefenseInfo, type DefenseName } from "./registry.js";
export {
  DefendedModel, type DefendedAnswer, type DefendedModelOptions, type DefenseStats, type QueryContext, type VictimFunction,
} from "./defended-model.js";
export { KL_FLOOR, perturbationDistances, RunningStats, type DistanceSummary } from "./stats.js";
export {
  createWatermarker, DEFAULT_SOFT_MASS, softMarkRow, watermarkClass, watermarkRow, withWatermark, type WatermarkDraw, type WatermarkKind, type WatermarkOptions,
  type WatermarkRecord, type Watermarker,
} from "./watermark.js";
export { binomialTail, logBinomialTail } from "./binomial.js";
export { chainDefenses, CHAIN_SEPARATOR } from "./chain.js";
export { isModelGuardS, MODELGUARD_S_STATE_FORMAT, type ModelGuardSDefense, type ModelGuardSState } from "./modelguard-s.js";
export { grad2Row } from "./grad2.js";
export {
  DEFAULT_ALPHA, DEFAULT_MAX_QUERIES, distinctEntries, verifyWatermark, type MarkTest, type Suspect, type SuspectAnswers, type VerifyOptions, type VerifyResult, type WatermarkEntry,
} from "./watermark-verify.js";
export {
  MemoryPradaStore, PRADA_DEFAULTS, PradaConfigError, PradaDetector, newPradaState, resolvePradaOptions,
  type PradaCheck, type PradaClassState, type PradaOptions, type PradaState, type PradaStore, type PradaVerdict,
} from "./prada.js";
export { normalQuantile, normalUpperTail, shapiroWilk, shapiroWilkPValue, type ShapiroWilkResult } from "./shapiro-wilk.js";
