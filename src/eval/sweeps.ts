// A grid's ε settings of one defense answered in one pass: settings whose filled-in parameters
// differ only in `epsilon` share one defense's `sweep` (MAD: the core's perturbSweep, one oracle call
// and one proxy pass per row for every ε). Each setting still goes through a DefendedModel of its own,
// so its answers and statistics are, bit for bit, what answering it alone gives.
import { DefendedModel, type Defense, type DefenseBatch, type DefenseResult, type DefenseStats } from "../defenses/index.js";
import type { ProbabilityModel } from "../models/types.js";
import { predictAll } from "./black-box.js";
import type { DefenseSetting } from "./config.js";
import { stableStringify } from "./hash.js";

export interface AnsweredSetting {
  readonly answers: Float32Array;
  readonly stats: DefenseStats;
  readonly defenseParams: Record<string, unknown>;
}

/**
 * Each setting's group: the settings of its defense whose filled-in parameters (and secrets) are
 * its own but for a numeric `epsilon`, in grid order; a setting without one is alone.
 */
export function epsilonGroups(
  settings: readonly DefenseSetting[],
  paramsOf: (setting: DefenseSetting) => Readonly<Record<string, unknown>>,
  secretsOf: (setting: DefenseSetting) => string,
): Map<DefenseSetting, readonly DefenseSetting[]> {
  const byKey = new Map<string, DefenseSetting[]>();
  const groups = new Map<DefenseSetting, readonly DefenseSetting[]>();
  for (const setting of settings) {
    const { epsilon, ...rest } = paramsOf(setting);
    if (typeof epsilon !== "number") {
      groups.set(setting, [setting]);
      continue;
    }
    const key = stableStringify({ defense: setting.defense, rest, secrets: secretsOf(setting) });
    const group = byKey.get(key) ?? [];
    group.push(setting);
    byKey.set(key, group);
    groups.set(setting, group);
  }
  return groups;
}

/**
 * Answers `images` for every setting of `group` from `base.sweep` (base: the group's defense, built
 * with any member's parameters). Member e's model asks its own view of the defense; the view's i-th
 * batch takes result e of the sweep over the i-th batch, which the first member to reach it runs.
 */
export async function answerSwept(
  group: readonly DefenseSetting[],
  base: Defense & Required<Pick<Defense, "sweep">>,
  paramsOf: (setting: DefenseSetting) => Readonly<Record<string, unknown>>,
  victim: ProbabilityModel,
  images: Float32Array,
  count: number,
): Promise<Map<DefenseSetting, AnsweredSetting>> {
  const epsilons = group.map((setting) => paramsOf(setting).epsilon as number);
  const sweeps: { batch: DefenseBatch; results: Promise<DefenseResult[]> }[] = [];
  const view = (e: number): Defense => {
    let calls = 0;
    return {
      name: base.name,
      params: { ...paramsOf(group[e]) },
      traits: base.traits,
      async apply(batch) {
        const i = calls++;
        sweeps[i] ??= { batch, results: base.sweep(batch, epsilons) };
        const { batch: swept, results } = sweeps[i];
        if (!sameRows(swept, batch)) throw new Error(`sweep of ${base.name}: batch ${i} of setting ${e} is not the batch the sweep answered`);
        return (await results)[e];
      },
    };
  };
  const answered = new Map<DefenseSetting, AnsweredSetting>();
  for (let e = 0; e < group.length; e++) {
    const defended = new DefendedModel(victim, view(e), { numClasses: victim.numClasses, inputShape: [...victim.inputShape] });
    const answers = await predictAll(defended, images, count, victim.inputShape);
    answered.set(group[e], { answers, stats: defended.stats(), defenseParams: { ...defended.defense.params } });
  }
  return answered;
}

function sameRows(a: DefenseBatch, b: DefenseBatch): boolean {
  if (a.batchSize !== b.batchSize || a.numClasses !== b.numClasses || a.probs.length !== b.probs.length) return false;
  for (let i = 0; i < a.probs.length; i++) if (!Object.is(a.probs[i], b.probs[i])) return false;
  return true;
}
