// One evaluation point: a thief against one defense setting, and what it measured.
import { stableStringify } from "./hash.js";

export interface EvalPoint {
  readonly dataset: string;
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
export function pointKey(p: Pick<EvalPoint, "dataset" | "attack" | "defense" | "params" | "budget" | "seed" | "thiefParams" | "transferSet">): string {
  return stableStringify({
    dataset: p.dataset,
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
