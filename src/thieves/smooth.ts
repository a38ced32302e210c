// The smoothing thief: a randomised defense adds fresh noise to every answer, so the mean of several
// answers about (nearly) the same image is closer to the victim's answer than any single one. It asks
// each sampled pool image as it is plus `copies - 1` jittered versions (every copy costs a query),
// averages each group's answers and trains Knockoff's copy on all queried images with their group's mean.
import * as v from "valibot";
import { stream, type Random } from "../models/random.js";
import { knockoffParamsSchema, knockoffQueryIndices, trainKnockoffCopy } from "./knockoff.js";
import { nonNegativeInteger, nonNegativeNumber, parseParams, positiveInteger } from "./parameters.js";
import { BudgetedQuerier } from "./query.js";
import type { BlackBox, ImageSet, StealOptions, StealResult, Thief, ThiefDeps } from "./thief.js";
import { checkImageSet, checkStealOptions, gatherRows, ThiefInputError } from "./thief.js";

export const smoothParamsSchema = v.strictObject({
  /** Queries per sampled image: the original plus `copies - 1` jittered ones. */
  copies: positiveInteger(4),
  /** Largest shift of a jittered copy, in pixels along each image axis. */
  maxShift: nonNegativeInteger(1),
  /** Standard deviation of the Gaussian pixel noise of a jittered copy (pixels then clipped to [0, 1]). */
  noise: nonNegativeNumber(0.05),
  ...v.omit(knockoffParamsSchema, ["labels"]).entries,
});
export type SmoothParams = v.InferOutput<typeof smoothParamsSchema>;

export interface JitterOptions {
  readonly maxShift: number;
  readonly noise: number;
}

/**
 * Jittered copies of `count` images: each shifted by a random whole number of pixels in
 * [-maxShift, maxShift] along the first two axes of `inputShape` (height, width; vacated pixels 0),
 * plus Gaussian noise of std `noise`, clipped to [0, 1]. Images of rank < 2 get noise only.
 */
export function jitterImages(images: Float32Array, count: number, inputShape: readonly number[], options: JitterOptions, random: Random): Float32Array {
  const rowSize = inputShape.reduce((a, b) => a * b, 1);
  const height = inputShape.length >= 2 ? inputShape[0] : 1;
  const width = inputShape.length >= 2 ? inputShape[1] : 1;
  const channels = rowSize / (height * width);
  const maxShift = inputShape.length >= 2 ? options.maxShift : 0;
  const out = new Float32Array(count * rowSize);
  const shift = () => random.int(2 * maxShift + 1) - maxShift;
  for (let r = 0; r < count; r++) {
    const dy = shift();
    const dx = shift();
    const base = r * rowSize;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const sy = y - dy;
        const sx = x - dx;
        const inside = sy >= 0 && sy < height && sx >= 0 && sx < width;
        for (let c = 0; c < channels; c++) {
          const source = inside ? images[base + (sy * width + sx) * channels + c] : 0;
          const value = options.noise > 0 ? source + options.noise * random.normal() : source;
          out[base + (y * width + x) * channels + c] = Math.min(1, Math.max(0, value));
        }
      }
    }
  }
  return out;
}

export class SmoothThief implements Thief {
  readonly params: Readonly<SmoothParams>;

  constructor(
    readonly name: string,
    params: Partial<SmoothParams> | Record<string, unknown>,
    private readonly deps: ThiefDeps,
  ) {
    this.params = parseParams(name, smoothParamsSchema, params);
  }

  async steal(blackBox: BlackBox, options: StealOptions): Promise<StealResult> {
    const started = performance.now();
    checkStealOptions(this.name, options);
    const pool: ImageSet = checkImageSet(this.name, "pool", this.deps.pool, blackBox);
    const { budget, seed, onProgress } = options;
    const p = this.params;
    const rowSize = pool.inputShape.reduce((a, b) => a * b, 1);
    const K = blackBox.numClasses;
    if (budget < p.copies) {
      throw new ThiefInputError(`thief "${this.name}": a budget of ${budget} cannot pay for one image's ${p.copies} copies`);
    }

    // Block c of the queries holds copy c of every original (block 0: the originals, Knockoff's first rows).
    const indices = knockoffQueryIndices(pool.count, Math.floor(budget / p.copies), seed);
    const n = indices.length;
    const originals = gatherRows(pool.images, rowSize, indices);
    const images = new Float32Array(n * p.copies * rowSize);
    images.set(originals);
    const random = stream(seed, "augment");
    for (let c = 1; c < p.copies; c++) images.set(jitterImages(originals, n, pool.inputShape, p, random), c * n * rowSize);

    const querier = new BudgetedQuerier(this.name, blackBox, budget, p.queryBatchSize, onProgress);
    const answers = await querier.query(images, n * p.copies);
    // In float64 and clamped, so a float32 sum cannot creep above 1 (the trainer rejects such targets).
    const sums = new Float64Array(n * K);
    for (let c = 0; c < p.copies; c++) for (let j = 0; j < n * K; j++) sums[j] += answers[c * n * K + j];
    const means = Float32Array.from(sums, (s) => Math.min(1, Math.max(0, s / p.copies)));
    const targets = new Float32Array(n * p.copies * K);
    let spread = 0;
    for (let c = 0; c < p.copies; c++) {
      targets.set(means, c * n * K);
      for (let j = 0; j < n * K; j++) spread += Math.abs(answers[c * n * K + j] - means[j]);
    }

    const transferSet = { images, answers, targets, count: n * p.copies, inputShape: pool.inputShape, numClasses: K };
    const model = await trainKnockoffCopy(this.deps, transferSet, p, options, querier.queriesUsed);
    return {
      model,
      queriesUsed: querier.queriesUsed,
      transferSet,
      rounds: 0,
      seconds: (performance.now() - started) / 1000,
      // meanSpread: mean L1 distance of an answer to its group's mean (how much the averaging smoothed).
      diagnostics: { originals: n, copies: p.copies, meanSpread: spread / (n * p.copies) },
    };
  }
}

export function createSmooth(params: Record<string, unknown>, deps: ThiefDeps): SmoothThief {
  return new SmoothThief("smooth", params, deps);
}
