// What each evaluation point measures besides the thief's accuracy: the defender's accuracy and the
// perturbation size of the answers. Distances and their running statistics come from the defenses
// layer (DefendedModel.stats()), so each formula has one implementation.
import { perturbationDistances, type DefenseStats } from "../defenses/index.js";
import { rowArgmax } from "../models/argmax.js";
import { PredictionPoisoningError } from "../core/errors.js";

/** Fraction of rows whose argmax equals the label. */
export function accuracyFromProbs(probs: Float32Array, labels: Int32Array, numClasses: number): number {
  if (labels.length === 0) throw new PredictionPoisoningError("input", "accuracyFromProbs: no rows");
  if (probs.length !== labels.length * numClasses) {
    throw new PredictionPoisoningError("input", `accuracyFromProbs: ${probs.length} values for ${labels.length} labels of ${numClasses} classes`);
  }
  let correct = 0;
  for (let r = 0; r < labels.length; r++) if (rowArgmax(probs, r, numClasses) === labels[r]) correct++;
  return correct / labels.length;
}

export interface PerturbationSummary {
  readonly queries: number;
  readonly l1Mean: number;
  readonly l1Std: number;
  readonly l2Mean: number;
  readonly l2Std: number;
  readonly klMean: number;
  readonly klStd: number;
  /** Fraction of answers whose top class is the victim's. */
  readonly top1Agreement: number;
}

export function summarizeStats(stats: DefenseStats): PerturbationSummary {
  return {
    queries: stats.queries,
    l1Mean: stats.l1.mean,
    l1Std: stats.l1.std,
    l2Mean: stats.l2.mean,
    l2Std: stats.l2.std,
    klMean: stats.kl.mean,
    klStd: stats.kl.std,
    top1Agreement: stats.top1Agreement,
  };
}

/** How close training targets are to the victim's true answers on the same images (L1 per row). */
export interface TargetRecovery {
  readonly rows: number;
  readonly l1Mean: number;
  /** Share of rows within L1 0.05 of the victim's answer ("recovered"). */
  readonly within005: number;
}

export const RECOVERED_L1 = 0.05;

export function targetRecovery(truth: Float32Array, targets: Float32Array, numClasses: number): TargetRecovery {
  if (truth.length !== targets.length) throw new PredictionPoisoningError("input", `targetRecovery: ${truth.length} true values vs ${targets.length} targets`);
  const rows = truth.length / numClasses;
  if (rows === 0) return { rows: 0, l1Mean: 0, within005: 0 };
  let sum = 0;
  let close = 0;
  for (let r = 0; r < rows; r++) {
    const l1 = perturbationDistances(truth, targets, r, numClasses).l1;
    sum += l1;
    if (l1 < RECOVERED_L1) close++;
  }
  return { rows, l1Mean: sum / rows, within005: close / rows };
}

/** The lead of each answer's top class over its runner-up: its mean, and the share of answers leading by < 0.01. */
export interface MarginSummary {
  readonly mean: number;
  readonly below001: number;
}

export function top1Margins(probs: Float32Array, numClasses: number): MarginSummary {
  const rows = probs.length / numClasses;
  if (rows === 0) return { mean: 0, below001: 0 };
  let sum = 0;
  let thin = 0;
  for (let r = 0; r < rows; r++) {
    let first = -Infinity;
    let second = -Infinity;
    for (let k = 0; k < numClasses; k++) {
      const v = probs[r * numClasses + k];
      if (v > first) {
        second = first;
        first = v;
      } else if (v > second) second = v;
    }
    const margin = first - second;
    sum += margin;
    if (margin < 0.01) thin++;
  }
  return { mean: sum / rows, below001: thin / rows };
}
