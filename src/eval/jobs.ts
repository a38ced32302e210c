// The unit of parallel work: one thief stealing from one defense setting, then scored on the test set.
// Jobs are plain data (structured-clone safe) so a worker thread can run them against its own setup.
import { DefendedModel } from "../defenses/index.js";
import { accuracy } from "../models/training.js";
import { knockoffQueryIndices } from "../thieves/knockoff.js";
import { describeThief } from "../thieves/registry.js";
import { gatherRows } from "../thieves/thief.js";
import { AnswerTable } from "./black-box.js";
import type { DefenseSetting } from "./config.js";
import { summarizeStats, type PerturbationSummary } from "./metrics.js";
import type { EvalSetup } from "./setup.js";

export interface ThiefJob {
  readonly id: number;
  readonly attack: string;
  readonly budget: number;
  readonly seed: number;
  readonly setting: DefenseSetting;
  /** Pool thieves: the defended answers to the fixed query set (in query order), replayed to the thief. */
  readonly answers?: Float32Array;
}

export interface ThiefJobResult {
  readonly id: number;
  readonly thiefAccuracy: number;
  readonly queriesUsed: number;
  /** Live (adaptive) thieves: the perturbation of the answers they received; null for replayed answers. */
  readonly perturbation: PerturbationSummary | null;
  readonly seconds: number;
}

/** The images a pool thief queries for (budget, seed): the rows its answers are computed for in advance. */
export function poolQueryImages(setup: EvalSetup, budget: number, seed: number): { images: Float32Array; count: number } {
  const pool = setup.data.pool;
  const rowSize = pool.inputShape.reduce((a, b) => a * b, 1);
  const indices = knockoffQueryIndices(pool.count, budget, seed);
  return { images: gatherRows(pool.images, rowSize, indices), count: indices.length };
}

export async function runThiefJob(job: ThiefJob, setup: EvalSetup): Promise<ThiefJobResult> {
  const started = performance.now();
  const thief = setup.createThief(job.attack);
  const { numClasses, inputShape } = setup.data;
  let perturbation: PerturbationSummary | null = null;
  let result;
  if (describeThief(job.attack).data === "pool") {
    if (!job.answers) throw new Error(`job ${job.id} (${job.attack}): a pool thief's job needs the precomputed answers`);
    const { images } = poolQueryImages(setup, job.budget, job.seed);
    const table = new AnswerTable(images, job.answers, inputShape, numClasses);
    result = await thief.steal(table, { budget: job.budget, seed: job.seed });
  } else {
    const defense = setup.createDefense(job.setting);
    const blackBox = new DefendedModel(setup.victim, defense, { numClasses, inputShape: [...inputShape] });
    try {
      result = await thief.steal(blackBox, { budget: job.budget, seed: job.seed });
      perturbation = summarizeStats(blackBox.stats());
    } finally {
      blackBox.dispose();
    }
  }
  try {
    const thiefAccuracy = await accuracy(result.model, setup.data.test);
    return { id: job.id, thiefAccuracy, queriesUsed: result.queriesUsed, perturbation, seconds: (performance.now() - started) / 1000 };
  } finally {
    result.model.dispose();
  }
}
