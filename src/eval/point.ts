// One evaluation point: a thief against one defense setting, and what it measured.
import { stableStringify } from "./hash.js";

/** Bumped when a point's fields or their meaning change: a results.json of another version is not resumed. */
export const POINT_SCHEMA = 2;

export interface EvalPoint {
  readonly dataset: string;
  /** The threat setting: "in-distribution" (held-out data: queries look like honest traffic), "out-of-distribution", ... */
  readonly threat: string;
  readonly attack: string;
  readonly defense: string;
  /** The swept parameters of this setting, e.g. { epsilon: 0.5 } ({} for "none"). */
  readonly params: Readonly<Record<string, unknown>>;
  /** Short label of the setting, e.g. "epsilon=0.5". */
  readonly setting: string;
  /** Position of the setting in its defense's sweep (plots draw lines in this order). */
  readonly order: number;
  readonly budget: number;
  readonly seed: number;
  /** Fractions in [0, 1]. */
  readonly thiefAccuracy: number;
  /** Share of test inputs on which the stolen copy's top-1 equals the victim's top-1. */
  readonly fidelity: number;
  readonly defenderAccuracy: number;
  readonly victimAccuracy: number;
  /** Perturbation of the answers the thief received: L1, L2, KL(y || y~), mean and population std. */
  readonly l1Mean: number;
  readonly l1Std: number;
  readonly l2Mean: number;
  readonly l2Std: number;
  readonly klMean: number;
  readonly klStd: number;
  /** Fraction of the thief's answers whose top class is the victim's. */
  readonly top1Agreement: number;
  /** The defended test-set answers' lead of the top class over the runner-up: mean, and share below 0.01. */
  readonly top1MarginMean: number;
  readonly top1MarginBelow001: number;
  /** The thief's training targets against the victim's true answers on the same images: mean L1, share within 0.05. */
  readonly targetL1Mean: number;
  readonly targetsRecovered: number;
  /** Thief-specific counts (e.g. rows inverted), when the thief reports them. */
  readonly diagnostics: Readonly<Record<string, number>> | null;
  readonly queriesUsed: number;
  /** Wall time of this point (answering + the thief's training + scoring), seconds. */
  readonly seconds: number;
  /** The queries Knockoff-style thieves drew from, e.g. "fashion-mnist" or "mnist-heldout". */
  readonly transferSet: string;
  /** Hash of the thief's training targets: equal hashes mean an identical training run. */
  readonly trainingDataHash: string;
  /** Set when the thief's model was not trained again: the point whose identical run it reuses. */
  readonly reusedFrom: string | null;
  readonly thiefParams: Readonly<Record<string, unknown>>;
  readonly defenseParams: Readonly<Record<string, unknown>>;
}

/** Identity of a point for resuming: what was asked, not what was measured. */
export function pointKey(p: Pick<EvalPoint, "dataset" | "threat" | "attack" | "defense" | "params" | "budget" | "seed" | "thiefParams" | "transferSet">): string {
  return stableStringify({
    dataset: p.dataset,
    threat: p.threat,
    attack: p.attack,
    defense: p.defense,
    params: p.params,
    budget: p.budget,
    seed: p.seed,
    thiefParams: p.thiefParams,
    transferSet: p.transferSet,
  });
}

export function settingLabel(params: Readonly<Record<string, unknown>>): string {
  const entries = Object.entries(params);
  return entries.length === 0 ? "-" : entries.map(([k, v]) => `${k}=${v}`).join(",");
}
