// One interface for every model-stealing attack: a configured object whose steal() queries a black box
// within a budget and returns a trained copy. Thieves see only probabilities (or whatever the defense
// answers); they never see the victim's weights or the defense.
import type * as tf from "@tensorflow/tfjs";
import { rowArgmax } from "../models/argmax.js";
import type { InputBatch, ProbabilityModel } from "../models/types.js";
import type { Core } from "../core/index.js";
import { PredictionPoisoningError, type ProblemLocation } from "../core/errors.js";
import type { SoftLabeledData, TrainOptions, trainModel } from "../models/training.js";

/** The only view of the victim a thief gets: inputs in, probability rows out. */
export type BlackBox = Pick<ProbabilityModel, "inputShape" | "numClasses" | "predict">;

/** Images without labels, flattened row-major (a query pool or a seed set). */
export interface ImageSet {
  readonly images: Float32Array;
  readonly count: number;
  readonly inputShape: readonly number[];
}

export interface StealProgress {
  readonly phase: "query" | "train" | "augment";
  readonly queriesUsed: number;
  readonly budget: number;
  /** Jacobian-style thieves: the augmentation round (0-based). */
  readonly round?: number;
  readonly epoch?: number;
  readonly epochs?: number;
  readonly loss?: number;
}

/**
 * What a thief knows of the defense in front of the black box (Kerckhoffs): its registry name and its
 * public parameters, defaults filled in. Never its secrets (seeds, keys), the victim or the proxy's weights.
 */
export interface DefenseKnowledge {
  readonly name: string;
  readonly params: Readonly<Record<string, unknown>>;
}

export interface StealOptions {
  /** Maximum number of black-box queries (rows). */
  readonly budget: number;
  /** Every random choice and the substitutes' initialisation derive from it (each under its own role name). */
  readonly seed: number;
  /** The defense the thief faces, as far as it is public; defense-aware thieves need it. */
  readonly defense?: DefenseKnowledge;
  readonly onProgress?: (event: StealProgress) => void;
}

/** The data the thief collected: its queries and the answers it got. */
export interface TransferSet extends SoftLabeledData {
  /** The black box's raw answers (before the thief turns them into targets, e.g. one-hot). */
  readonly answers: Float32Array;
}

export interface StealResult {
  readonly model: tf.LayersModel;
  readonly queriesUsed: number;
  readonly transferSet: TransferSet;
  /** Jacobian-style thieves: augmentation rounds run. */
  readonly rounds: number;
  readonly seconds: number;
  /** Thief-specific counts for reports, e.g. { inverted: 812, fallback: 188 } (JSON numbers). */
  readonly diagnostics?: Readonly<Record<string, number>>;
}

export interface Thief {
  /** Registry name, e.g. "knockoff", "jbtop3". */
  readonly name: string;
  /** The validated parameters it was built with (JSON-serialisable, defaults filled in). */
  readonly params: Readonly<Record<string, unknown>>;
  steal(blackBox: BlackBox, options: StealOptions): Promise<StealResult>;
}

/** What a thief is built from: how to make a fresh substitute, its data, and (optionally) the trainer. */
export interface ThiefDeps {
  /** A fresh, untrained model of the thief's architecture (logits out), initialised from `seed`. */
  readonly buildSubstitute: (seed: number) => tf.LayersModel;
  /** Knockoff: the images it may query (a transfer set such as Fashion-MNIST). */
  readonly pool?: ImageSet;
  /** Jacobian-style thieves: the in-distribution images the seed set is drawn from. */
  readonly seeds?: ImageSet;
  /** Defaults to the models layer's trainModel. */
  readonly train?: typeof trainModel;
  /** The WASM core, for thieves that run the public defense themselves (invert, recover). */
  readonly core?: Core;
}

export type ThiefTrainOptions = Pick<TrainOptions, "epochs" | "batchSize" | "learningRate" | "momentum" | "weightDecay" | "optimizer" | "restartsOnDivergence">;

/** What a thief was handed (budget, seed, image sets, black box) cannot be used. */
export class ThiefInputError extends PredictionPoisoningError {
  constructor(message: string, location?: ProblemLocation) {
    super("input", message, location);
    this.name = "ThiefInputError";
  }
}

export function checkStealOptions(thief: string, options: StealOptions): void {
  const { budget, seed } = options;
  if (!Number.isInteger(budget) || budget < 1) throw new ThiefInputError(`thief "${thief}": budget must be an integer >= 1, got ${budget}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new ThiefInputError(`thief "${thief}": seed must be an integer in [0, 2^32 - 1], got ${seed}`);
  }
}

export function checkImageSet(thief: string, what: string, set: ImageSet | undefined, blackBox: BlackBox): ImageSet {
  if (!set) throw new ThiefInputError(`thief "${thief}": needs deps.${what} (images to query)`);
  const size = set.inputShape.reduce((a, b) => a * b, 1);
  if (set.inputShape.join("x") !== blackBox.inputShape.join("x")) {
    throw new ThiefInputError(
      `thief "${thief}": ${what} images have shape [${set.inputShape}] but the black box takes [${blackBox.inputShape}]`,
    );
  }
  if (set.images.length !== set.count * size) {
    throw new ThiefInputError(`thief "${thief}": ${what} holds ${set.images.length} values, expected ${set.count} x ${size}`);
  }
  if (set.count < 1) throw new ThiefInputError(`thief "${thief}": ${what} is empty`);
  return set;
}

/** Copies rows `indices` of a row-major array with `rowSize` values per row. */
export function gatherRows(data: Float32Array, rowSize: number, indices: ArrayLike<number>): Float32Array {
  const out = new Float32Array(indices.length * rowSize);
  for (let i = 0; i < indices.length; i++) out.set(data.subarray(indices[i] * rowSize, (indices[i] + 1) * rowSize), i * rowSize);
  return out;
}

export function concatRows(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** One-hot rows of each row's argmax (first maximum on ties). */
export function argmaxOneHot(probs: Float32Array, numClasses: number): Float32Array {
  const rows = probs.length / numClasses;
  const out = new Float32Array(probs.length);
  for (let r = 0; r < rows; r++) out[r * numClasses + rowArgmax(probs, r, numClasses)] = 1;
  return out;
}

