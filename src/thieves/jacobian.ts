// The Jacobian-based family (JBDA, JB-self, JB-top-k; Papernot et al. 2017 and Orekondy et al. 2020):
// start from a small seed set, and each round train a fresh substitute on everything queried so far,
// grow new points from the current ones along the substitute's input gradient, and query them. The
// augmentation strategy is the only difference between the three, so they share this loop.
import * as tf from "@tensorflow/tfjs";
import * as v from "valibot";
import { trainModel as defaultTrain } from "../models/training.js";
import { positiveInteger, positiveNumber, trainingEntries, trainingOptions } from "./parameters.js";
import { BudgetedQuerier } from "./query.js";
import { roleSeed, seeded, stream, type Random } from "../models/random.js";
import type { BlackBox, StealOptions, StealResult, Thief, ThiefDeps } from "./thief.js";
import { rowArgmax } from "../models/argmax.js";
import { argmaxOneHot, checkImageSet, checkStealOptions, concatRows, gatherRows } from "./thief.js";

export const jacobianParamsEntries = {
  // The reference: 100 seeds; substitutes 20 epochs of SGD lr 0.1, momentum 0.9, weight decay 5e-4;
  // step lambda 0.1 whose sign flips every tau = 5 rounds; the final model trains 100 epochs.
  ...trainingEntries({ epochs: 20, learningRate: 0.1, momentum: 0.9, weightDecay: 5e-4 }),
  seedSize: positiveInteger(100),
  finalEpochs: positiveInteger(100),
  lambda: positiveNumber(0.1),
  tau: positiveInteger(5),
};

/** What a strategy sees each round: the substitute and everything queried so far. */
export interface AugmentContext {
  readonly substitute: tf.LayersModel;
  readonly images: Float32Array;
  readonly answers: Float32Array;
  readonly count: number;
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  readonly round: number;
  /** At most this many new points (the budget left). */
  readonly maxNew: number;
  readonly random: Random;
}

export type AugmentStrategy = (context: AugmentContext) => Promise<{ images: Float32Array; count: number }>;

/** The step size of round `round`: lambda with its sign flipped every `tau` rounds (Papernot et al.). */
export function periodicStep(lambda: number, tau: number, round: number): number {
  return Math.floor(round / tau) % 2 === 0 ? lambda : -lambda;
}

/** `count` distinct indices of 0..n-1 chosen at random (all of them, in order, when count >= n). */
export function chooseRows(n: number, count: number, random: Random): Int32Array {
  if (count >= n) return Int32Array.from({ length: n }, (_, i) => i);
  const picked = seeded(random.uint32()).permutation(n).slice(0, count); // a sub-stream seeded by one draw, as before
  return picked.sort();
}

const CHUNK = 128;

/**
 * x' = clip(x + step * sign(grad_x CE(F(x), label)), 0, 1) for each row: step > 0 moves away from the
 * label (JBDA), step < 0 towards it (JB-self).
 */
export function jacobianStep(
  model: tf.LayersModel,
  images: Float32Array,
  labels: Int32Array,
  inputShape: readonly number[],
  numClasses: number,
  step: number,
): Float32Array {
  const rowSize = inputShape.reduce((a, b) => a * b, 1);
  const count = labels.length;
  const out = new Float32Array(count * rowSize);
  for (let start = 0; start < count; start += CHUNK) {
    const size = Math.min(CHUNK, count - start);
    const moved = tf.tidy(() => {
      const x = tf.tensor(images.subarray(start * rowSize, (start + size) * rowSize), [size, ...inputShape]);
      const y = tf.oneHot(tf.tensor1d(labels.subarray(start, start + size), "int32"), numClasses);
      // Summed (not averaged) cross-entropy: rows do not interact, and the sign is all we use.
      const loss = (xi: tf.Tensor) => tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(model.apply(xi, { training: false }) as tf.Tensor))));
      const gradient = tf.grad(loss)(x);
      return tf.clipByValue(tf.add(x, tf.mul(tf.sign(gradient), step)), 0, 1);
    });
    out.set(moved.dataSync() as Float32Array, start * rowSize);
    moved.dispose();
  }
  return out;
}

/**
 * Targeted PGD raising logit `targets[i]` of row i: `steps` signed steps of `stepSize`, each projected
 * back onto the L-infinity ball of `radius` around the start and onto [0, 1].
 */
export function targetedPgd(
  model: tf.LayersModel,
  images: Float32Array,
  targets: Int32Array,
  inputShape: readonly number[],
  numClasses: number,
  options: { steps: number; stepSize: number; radius: number },
): Float32Array {
  const rowSize = inputShape.reduce((a, b) => a * b, 1);
  const count = targets.length;
  const out = new Float32Array(count * rowSize);
  for (let start = 0; start < count; start += CHUNK) {
    const size = Math.min(CHUNK, count - start);
    const x0 = tf.tensor(images.subarray(start * rowSize, (start + size) * rowSize), [size, ...inputShape]);
    const mask = tf.oneHot(tf.tensor1d(targets.subarray(start, start + size), "int32"), numClasses);
    const targetLogit = (xi: tf.Tensor) => tf.sum(tf.mul(mask, model.apply(xi, { training: false }) as tf.Tensor));
    const lower = tf.clipByValue(tf.sub(x0, options.radius), 0, 1);
    const upper = tf.clipByValue(tf.add(x0, options.radius), 0, 1);
    let x = x0.clone();
    for (let s = 0; s < options.steps; s++) {
      const next = tf.tidy(() => {
        const gradient = tf.grad(targetLogit)(x);
        return tf.minimum(tf.maximum(tf.add(x, tf.mul(tf.sign(gradient), options.stepSize)), lower), upper);
      });
      x.dispose();
      x = next;
    }
    out.set(x.dataSync() as Float32Array, start * rowSize);
    tf.dispose([x, x0, mask, lower, upper]);
  }
  return out;
}

/** The shared loop; the strategy decides how new points are grown. */
export class JacobianThief implements Thief {
  constructor(
    readonly name: string,
    readonly params: Readonly<v.InferOutput<v.ObjectSchema<typeof jacobianParamsEntries, undefined>> & Record<string, unknown>>,
    private readonly deps: ThiefDeps,
    private readonly augment: AugmentStrategy,
    /** What the substitutes train on: the answers as given, or only their top-1 labels (one-hot). */
    private readonly trainOn: "answers" | "top1" = "answers",
  ) {}

  async steal(blackBox: BlackBox, options: StealOptions): Promise<StealResult> {
    const started = performance.now();
    checkStealOptions(this.name, options);
    const seedPool = checkImageSet(this.name, "seeds", this.deps.seeds, blackBox);
    const { budget, seed, onProgress } = options;
    const p = this.params;
    const K = blackBox.numClasses;
    const inputShape = seedPool.inputShape;
    const rowSize = inputShape.reduce((a, b) => a * b, 1);
    const train = this.deps.train ?? defaultTrain;
    const random = stream(seed, "augment");
    const querier = new BudgetedQuerier(this.name, blackBox, budget, p.queryBatchSize, onProgress);
    const trainOptions = trainingOptions(p);

    const seedIndices = stream(seed, "seed-set").permutation(seedPool.count).subarray(0, Math.min(p.seedSize, seedPool.count, budget));
    let images = gatherRows(seedPool.images, rowSize, seedIndices);
    let answers = await querier.query(images, seedIndices.length, 0);
    let count = seedIndices.length;

    let round = 0;
    let restarts = 0;
    while (querier.remaining > 0) {
      const substitute = this.deps.buildSubstitute(roleSeed(seed, "substitute-init", round));
      try {
        const fit = await train(substitute, { images, targets: this.targetsOf(answers, K), count, inputShape, numClasses: K }, {
          ...trainOptions,
          seed: roleSeed(seed, "substitute-shuffles", round),
          progress: onProgress
            ? (e) => onProgress({ phase: "train", queriesUsed: querier.queriesUsed, budget, round, epoch: e.epoch, epochs: e.epochs, loss: e.loss })
            : false,
        });
        restarts += fit.restarts;
        onProgress?.({ phase: "augment", queriesUsed: querier.queriesUsed, budget, round });
        const grown = await this.augment({ substitute, images, answers, count, inputShape, numClasses: K, round, maxNew: querier.remaining, random });
        if (grown.count === 0) break;
        const newAnswers = await querier.query(grown.images, grown.count, round);
        // The reference augments in place, so its distinct set never grows past the seeds: append instead.
        images = concatRows(images, grown.images);
        answers = concatRows(answers, newAnswers);
        count += grown.count;
      } finally {
        substitute.dispose();
      }
      round++;
    }

    const model = this.deps.buildSubstitute(roleSeed(seed, "init"));
    const transferSet = { images, answers, targets: this.targetsOf(answers, K), count, inputShape, numClasses: K };
    const fit = await train(model, transferSet, {
      ...trainOptions,
      epochs: p.finalEpochs,
      seed: roleSeed(seed, "shuffles"),
      progress: onProgress
        ? (e) => onProgress({ phase: "train", queriesUsed: querier.queriesUsed, budget, round, epoch: e.epoch, epochs: e.epochs, loss: e.loss })
        : false,
    });
    restarts += fit.restarts;
    // Restarts at half the learning rate after a diverged training (trainingOptions allows a few).
    const diagnostics = restarts > 0 ? { trainingRestarts: restarts } : undefined;
    return { model, queriesUsed: querier.queriesUsed, transferSet, rounds: round, seconds: (performance.now() - started) / 1000, diagnostics };
  }

  private targetsOf(answers: Float32Array, numClasses: number): Float32Array {
    return this.trainOn === "top1" ? argmaxOneHot(answers, numClasses) : answers;
  }
}

/** Argmax labels of the black box's answers for the chosen rows. */
export function answerLabels(answers: Float32Array, numClasses: number, rows: ArrayLike<number>): Int32Array {
  const labels = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; i++) labels[i] = rowArgmax(answers, rows[i], numClasses);
  return labels;
}

