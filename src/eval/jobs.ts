// The unit of parallel work: one thief stealing from one defense setting, then scored on the test set.
// Jobs are plain data (structured-clone safe) so a worker thread can run them against its own setup.
import { DefendedModel, verifyWatermark, type VerifyResult, type WatermarkEntry, type WatermarkRecord } from "../defenses/index.js";
import * as tf from "@tensorflow/tfjs";
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
  /**
   * A control, not a thief: Knockoff trained (with this job's seed) on `answers`, the victim's clean answers to
   * the fixed sample drawn with `querySeed`; its pool is that sample, so it learns from the thieves' very inputs.
   */
  readonly cleanCopy?: { readonly querySeed: number };
  /** Thief parameters over the run's (the watermark evaluation's fitted thieves: more epochs). */
  readonly thiefParams?: Readonly<Record<string, unknown>>;
  /** Watermark evaluation: verify the stolen copy against `marks` (absent: the marks its own live queries got). */
  readonly verify?: { readonly maxQueries: number; readonly alpha: number; readonly marks?: WatermarkSet };
}

/** Watermarked queries as plain data (structured-clone safe): inputs row-major, their watermark and victim labels, soft or not. */
export interface WatermarkSet {
  readonly inputs: Float32Array;
  readonly labels: Int32Array;
  readonly victimLabels: Int32Array;
  /** The mark: 0 label keyed per input (DAWN), 3 label keyed per class; soft (top-1 kept): 1 keyed per input, 2 per class. */
  readonly soft: Uint8Array;
}

export function watermarkSet(records: readonly WatermarkRecord[], rowSize: number): WatermarkSet {
  const inputs = new Float32Array(records.length * rowSize);
  records.forEach((r, i) => inputs.set(r.input, i * rowSize));
  return {
    inputs, labels: Int32Array.from(records, (r) => r.label), victimLabels: Int32Array.from(records, (r) => r.victimLabel),
    soft: Uint8Array.from(records, (r) => (r.kind !== "soft" ? (r.keying === "class" ? 3 : 0) : r.keying === "class" ? 2 : 1)),
  };
}

/** How many label and soft marks a set holds. */
export function markCounts(set: WatermarkSet): { label: number; soft: number } {
  const soft = set.soft.reduce((n, s) => n + (s === 1 || s === 2 ? 1 : 0), 0);
  return { label: set.labels.length - soft, soft };
}

function watermarkEntries(set: WatermarkSet, inputShape: readonly number[], numClasses: number): WatermarkEntry[] {
  const size = inputShape.reduce((a, b) => a * b, 1);
  return Array.from(set.labels, (label, i) => ({
    kind: set.soft[i] === 1 || set.soft[i] === 2 ? ("soft" as const) : ("label" as const),
    keying: set.soft[i] === 2 || set.soft[i] === 3 ? ("class" as const) : set.soft[i] === 1 ? ("input" as const) : undefined,
    input: set.inputs.subarray(i * size, (i + 1) * size), inputShape, numClasses, label, victimLabel: set.victimLabels[i],
  }));
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
  /** Jobs with `verify`: the ownership test of the stolen copy, and how many watermarked queries there were. */
  readonly watermark?: VerifyResult & { readonly marks: number; readonly softMarks: number };
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
  const { numClasses, inputShape, test } = setup.data;
  let perturbation: PerturbationSummary | null = null;
  let result;
  let queryImages: Float32Array | undefined;
  const live: WatermarkRecord[] = [];
  const stealOptions = { budget: job.budget, seed: job.seed, defense: job.knowledge };
  if (job.cleanCopy) {
    if (!job.answers) throw new Error(`job ${job.id} (clean copy): needs the victim's answers`);
    const sample = poolQueryImages(setup, job.budget, job.cleanCopy.querySeed);
    queryImages = sample.images;
    const thief = setup.createThief("knockoff", { pool: { ...sample, inputShape }, params: job.thiefParams });
    result = await thief.steal(new AnswerTable(sample.images, job.answers, inputShape, numClasses), { ...stealOptions, budget: sample.count });
  } else if (describeThief(job.attack).queries === "fixed-sample") {
    const thief = setup.createThief(job.attack, { params: job.thiefParams });
    if (!job.answers) throw new Error(`job ${job.id} (${job.attack}): a fixed-sample thief's job needs the precomputed answers`);
    const { images } = poolQueryImages(setup, job.budget, job.seed);
    queryImages = images;
    const table = new AnswerTable(images, job.answers, inputShape, numClasses);
    result = await thief.steal(table, stealOptions);
  } else {
    const thief = setup.createThief(job.attack, { params: job.thiefParams });
    const defense = setup.createDefense(job.setting, { onWatermark: (records) => void live.push(...records) });
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
    let watermark: ThiefJobResult["watermark"];
    if (job.verify) {
      const rowSize = inputShape.reduce((a, b) => a * b, 1);
      const marks = job.verify.marks ?? watermarkSet(live, rowSize);
      const entries = watermarkEntries(marks, inputShape, numClasses);
      const softMarks = markCounts(marks).soft;
      // The stolen copy as `verify` sees a model directory: its probabilities (softmax of its logits) and labels.
      const suspect = async (batch: { data: Float32Array; batchSize: number }) => {
        const logits = predictLogits(result.model, batch.data, batch.batchSize, inputShape);
        const probs = tf.tidy(() => tf.softmax(tf.tensor2d(logits, [batch.batchSize, numClasses])).dataSync() as Float32Array);
        return { labels: argmaxRows(probs, batch.batchSize, numClasses), probs };
      };
      watermark = entries.length
        ? { ...(await verifyWatermark(entries, suspect, { maxQueries: job.verify.maxQueries, alpha: job.verify.alpha })), marks: entries.length - softMarks, softMarks }
        : {
          queries: 0, matches: 0, pValue: 1, log10PValue: 0, nullRate: 1 / (numClasses - 1), informative: 0, alpha: job.verify.alpha, verdict: "no evidence",
          duplicates: 0, marks: 0, softMarks: 0, label: null, labelClass: null, softInput: null, softClass: null,
        };
    }
    return {
      id: job.id,
      watermark,
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
