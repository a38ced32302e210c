// Knockoff Nets, "random" strategy (Orekondy et al. 2019): query a seeded random sample of a transfer
// pool, then train a fresh model on the answers with soft cross-entropy. With labels "top1" the same
// thief trains on one-hot argmax labels, which a label-preserving defense cannot poison.
import * as v from "valibot";
import type * as tf from "@tensorflow/tfjs";
import { trainModel as defaultTrain, type SoftLabeledData } from "../models/training.js";
import { parseParams, trainingEntries, trainingOptions } from "./parameters.js";
import { BudgetedQuerier } from "./query.js";
import { roleSeed, stream } from "../models/random.js";
import type { BlackBox, ImageSet, StealOptions, StealResult, Thief, ThiefDeps, ThiefTrainOptions } from "./thief.js";
import { argmaxOneHot, checkImageSet, checkStealOptions, gatherRows } from "./thief.js";

export const knockoffParamsSchema = v.strictObject({
  /** "soft": train on the answers as given; "top1": train on one-hot argmax labels. */
  labels: v.optional(v.picklist(["soft", "top1"]), "soft"),
  // The reference: SGD lr 0.01, momentum 0.5, batch 64, 30-50 epochs.
  ...trainingEntries({ epochs: 30, learningRate: 0.01, momentum: 0.5, weightDecay: 0 }),
});
export type KnockoffParams = v.InferOutput<typeof knockoffParamsSchema>;

/**
 * The pool indices a Knockoff-style thief queries for (budget, seed): the first `budget` of a seeded
 * shuffle. Every thief whose registry entry says queries "fixed-sample" asks exactly these, so the
 * evaluation can answer them once for all such thieves.
 */
export function knockoffQueryIndices(poolSize: number, budget: number, seed: number): Int32Array {
  return stream(seed, "queries").permutation(poolSize).subarray(0, Math.min(budget, poolSize));
}

/** What a fixed-sample thief asked and was answered: Knockoff's sample of the pool, queried through the budget. */
export interface FixedSampleAnswers {
  readonly images: Float32Array;
  readonly answers: Float32Array;
  readonly count: number;
  readonly queriesUsed: number;
}

/**
 * Queries knockoffQueryIndices(pool, budget, seed) in batches of `queryBatchSize`: the one place a
 * "fixed-sample" thief's queries are made, so they are exactly what the evaluation answers in advance.
 */
export async function queryFixedSample(
  thief: string,
  blackBox: BlackBox,
  pool: ImageSet,
  options: Pick<StealOptions, "budget" | "seed" | "onProgress">,
  queryBatchSize: number,
): Promise<FixedSampleAnswers> {
  const rowSize = pool.inputShape.reduce((a, b) => a * b, 1);
  // A budget larger than the pool queries the whole pool once (no repeats: they add no information).
  const indices = knockoffQueryIndices(pool.count, options.budget, options.seed);
  const images = gatherRows(pool.images, rowSize, indices);
  const querier = new BudgetedQuerier(thief, blackBox, options.budget, queryBatchSize, options.onProgress);
  const answers = await querier.query(images, indices.length);
  return { images, answers, count: indices.length, queriesUsed: querier.queriesUsed };
}

export class KnockoffThief implements Thief {
  readonly params: Readonly<KnockoffParams>;

  constructor(
    readonly name: string,
    params: Partial<KnockoffParams> | Record<string, unknown>,
    private readonly deps: ThiefDeps,
  ) {
    this.params = parseParams(name, knockoffParamsSchema, params);
  }

  async steal(blackBox: BlackBox, options: StealOptions): Promise<StealResult> {
    const started = performance.now();
    checkStealOptions(this.name, options);
    const pool: ImageSet = checkImageSet(this.name, "pool", this.deps.pool, blackBox);
    const p = this.params;
    const K = blackBox.numClasses;
    const { images, answers, count, queriesUsed } = await queryFixedSample(this.name, blackBox, pool, options, p.queryBatchSize);
    const targets = p.labels === "top1" ? argmaxOneHot(answers, K) : answers;

    const transferSet = { images, answers, targets, count, inputShape: pool.inputShape, numClasses: K };
    const model = await trainKnockoffCopy(this.deps, transferSet, p, options, queriesUsed);
    return { model, queriesUsed, transferSet, rounds: 0, seconds: (performance.now() - started) / 1000 };
  }
}

/**
 * Trains a fresh substitute on `data` the way Knockoff does (init and shuffles from the run seed's
 * "init" and "shuffles" roles), for the thieves that differ from Knockoff only in their targets.
 */
export async function trainKnockoffCopy(
  deps: ThiefDeps,
  data: SoftLabeledData,
  params: ThiefTrainOptions,
  options: Pick<StealOptions, "budget" | "seed" | "onProgress">,
  queriesUsed: number,
): Promise<tf.LayersModel> {
  const { budget, seed, onProgress } = options;
  const model = deps.buildSubstitute(roleSeed(seed, "init"));
  const train = deps.train ?? defaultTrain;
  await train(model, data, {
    ...trainingOptions(params),
    seed: roleSeed(seed, "shuffles"),
    progress: onProgress ? (e) => onProgress({ phase: "train", queriesUsed, budget, epoch: e.epoch, epochs: e.epochs, loss: e.loss }) : false,
  });
  return model;
}

export function createKnockoff(params: Record<string, unknown>, deps: ThiefDeps): KnockoffThief {
  return new KnockoffThief("knockoff", params, deps);
}
