// What each evaluation point measures besides the thief's accuracy: the defender's accuracy and the
// perturbation size of the answers. Distances and their running statistics come from the defenses
// layer (DefendedModel.stats()), so each formula has one implementation.
import type { DefenseStats } from "../defenses/index.js";
import { rowArgmax } from "../models/argmax.js";

/** Fraction of rows whose argmax equals the label. */
export function accuracyFromProbs(probs: Float32Array, labels: Int32Array, numClasses: number): number {
  if (labels.length === 0) throw new RangeError("accuracyFromProbs: no rows");
  if (probs.length !== labels.length * numClasses) {
    throw new RangeError(`accuracyFromProbs: ${probs.length} values for ${labels.length} labels of ${numClasses} classes`);
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
