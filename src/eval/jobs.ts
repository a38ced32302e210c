// The unit of parallel work: one thief stealing from one defense setting, then scored on the test set.
// Jobs are plain data (structured-clone safe) so a worker thread can run them against its own setup.
import { DefendedModel } from "../defenses/index.js";
import { argmaxRows } from "../models/argmax.js";
import { predictLogits } from "../models/training.js";
import { knockoffQueryIndices } from "../thieves/knockoff.js";
import { describeThief } from "../thieves/registry.js";
import { gatherRows, type DefenseKnowledge } from "../thieves/thief.js";
import { AnswerTable, predictAll } from "./black-box.js";
import { hashBytes } from "./hash.js";
import type { DefenseSetting } from "./config.js";
import { summarizeStats, targetRecovery, type PerturbationSummary, type TargetRecovery } from "./metrics.js";
import type { EvalSetup } from "./setup.js";

export interface ThiefJob {
  readonly id: number;
  readonly attack: string;
  readonly budget: number;
  /** The thief's seed (StealOptions.seed), derived from the run seed (seeds.ts). */
  readonly seed: number;
  readonly setting: DefenseSetting;
  /** What the thief is told of the defense: its name and public parameters (never its secrets). */
  readonly knowledge: DefenseKnowledge;
  /** Fixed-sample thieves: the defended answers to the fixed query set (in query order), replayed to the thief. */
  readonly answers?: Float32Array;
  /** Fixed-sample thieves: the victim's own answers to the same queries, to score the thief's training targets. */
  readonly victimAnswers?: Float32Array;
  /** The victim's top-1 on the test set, for fidelity. */
  readonly victimTestLabels: Int32Array;
}

export interface ThiefJobResult {
  readonly id: number;
  readonly thiefAccuracy: number;
  /** Share of test inputs on which the stolen copy's top-1 equals the victim's (the extraction metric). */
  readonly fidelity: number;
  readonly queriesUsed: number;
  /** Live (adaptive) thieves: the perturbation of the answers they received; null for replayed answers. */
  readonly perturbation: PerturbationSummary | null;
  /** How close the thief's training targets are to the victim's true answers on the same images. */
  readonly recovery: TargetRecovery;
  readonly diagnostics: Readonly<Record<string, number>> | null;
  readonly seconds: number;
}

/** The images a fixed-sample thief queries for (budget, seed): the rows its answers are computed for in advance. */
export function poolQueryImages(setup: EvalSetup, budget: number, seed: number): { images: Float32Array; count: number } {
  const pool = setup.data.pool;
  const rowSize = pool.inputShape.reduce((a, b) => a * b, 1);
  const indices = knockoffQueryIndices(pool.count, budget, seed);
  return { images: gatherRows(pool.images, rowSize, indices), count: indices.length };
}

export async function runThiefJob(job: ThiefJob, setup: EvalSetup): Promise<ThiefJobResult> {
  const started = performance.now();
  const thief = setup.createThief(job.attack);
  const { numClasses, inputShape, test } = setup.data;
  let perturbation: PerturbationSummary | null = null;
  let result;
  let queryImages: Float32Array | undefined;
  const stealOptions = { budget: job.budget, seed: job.seed, defense: job.knowledge };
  if (describeThief(job.attack).queries === "fixed-sample") {
    if (!job.answers) throw new Error(`job ${job.id} (${job.attack}): a fixed-sample thief's job needs the precomputed answers`);
    const { images } = poolQueryImages(setup, job.budget, job.seed);
    queryImages = images;
    const table = new AnswerTable(images, job.answers, inputShape, numClasses);
    result = await thief.steal(table, stealOptions);
  } else {
    const defense = setup.createDefense(job.setting);
    const blackBox = new DefendedModel(setup.victim, defense, { numClasses, inputShape: [...inputShape] });
    try {
      result = await thief.steal(blackBox, stealOptions);
      perturbation = summarizeStats(blackBox.stats());
    } finally {
      blackBox.dispose();
    }
  }
  try {
    const { transferSet } = result;
    // The victim's answers on the thief's training images: the precomputed ones when they are the fixed sample itself.
    const sameImages = job.victimAnswers && queryImages && transferSet.images.length === queryImages.length && hashBytes(transferSet.images) === hashBytes(queryImages);
    const truth = sameImages ? job.victimAnswers! : await predictAll(setup.victim, transferSet.images, transferSet.count, inputShape);
    const recovery = targetRecovery(truth, transferSet.targets, numClasses);
    const predicted = argmaxRows(predictLogits(result.model, test.images, test.count, inputShape), test.count, numClasses);
    const victimLabels = job.victimTestLabels;
    let correct = 0;
    let agree = 0;
    for (let i = 0; i < test.count; i++) {
      if (predicted[i] === test.labels[i]) correct++;
      if (predicted[i] === victimLabels[i]) agree++;
    }
    return {
      id: job.id,
      thiefAccuracy: correct / test.count,
      fidelity: agree / test.count,
      queriesUsed: result.queriesUsed,
      perturbation,
      recovery,
      diagnostics: result.rounds > 0 ? { ...result.diagnostics, rounds: result.rounds } : (result.diagnostics ?? null),
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    result.model.dispose();
  }
}
