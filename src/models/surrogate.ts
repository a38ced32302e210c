// The defender's surrogate for GRAD² (Mazeika, Li, Forsyth, ICML 2022): a model of a zoo architecture
// distilled on the victim's own answers (soft-label cross-entropy, about 10 epochs in the paper), so that
// its per-class gradients stand in for the thief's. Training is src/models/training.ts' trainModel.
import type * as tf from "@tensorflow/tfjs";
import { initBackend } from "./backend.js";
import { exampleSize } from "./labeled-images.js";
import { trainModel, type TrainingProgressEvent, type TrainResult } from "./training.js";
import { buildModel, type ModelSpec } from "./zoo.js";
import { ModelInputError } from "./errors.js";

export interface SurrogateOptions {
  /** Architecture, classes, input shape and initialisation seed of the surrogate. */
  spec: ModelSpec;
  /** count x prod(spec.inputShape) inputs, row-major (e.g. the victim's training images). */
  images: Float32Array;
  /** count x spec.numClasses: the victim's probability vectors on `images` (soft labels). */
  probs: Float32Array;
  /** Default SURROGATE_DEFAULTS.epochs (10, as in GRAD²). */
  epochs?: number;
  batchSize?: number;
  optimizer?: "sgd" | "adam";
  learningRate?: number;
  momentum?: number;
  /** Seeds the shuffles; default spec.seed. */
  seed?: number;
  progress?: boolean | ((e: TrainingProgressEvent) => void);
  onBatch?: (e: TrainingProgressEvent) => void;
}

export interface SurrogateResult {
  /** The trained surrogate (logits out). Wrap it as `new Proxy(model, spec)` for grad2's deps.proxy. */
  model: tf.LayersModel;
  result: TrainResult;
}

/** The victim's training protocol (SGD, lr 0.01, momentum 0.5, batch 64) for 10 epochs. */
export const SURROGATE_DEFAULTS = { epochs: 10, batchSize: 64, optimizer: "sgd", learningRate: 0.01, momentum: 0.5 } as const;

/** Builds `spec` and trains it on (images, probs) with soft-label cross-entropy. */
export async function distillSurrogate(options: SurrogateOptions): Promise<SurrogateResult> {
  await initBackend();
  const { spec, images, probs } = options;
  const size = exampleSize(spec);
  if (size === 0 || images.length % size !== 0) throw new ModelInputError(`distillSurrogate: ${images.length} image values are not a whole number of [${spec.inputShape}] inputs`);
  const count = images.length / size;
  if (probs.length !== count * spec.numClasses) {
    throw new ModelInputError(`distillSurrogate: ${probs.length} probability values for ${count} images x ${spec.numClasses} classes`);
  }
  const model = buildModel(spec);
  try {
    const result = await trainModel(
      model,
      { images, targets: probs, count, inputShape: spec.inputShape, numClasses: spec.numClasses },
      {
        epochs: options.epochs ?? SURROGATE_DEFAULTS.epochs,
        batchSize: options.batchSize ?? SURROGATE_DEFAULTS.batchSize,
        optimizer: options.optimizer ?? SURROGATE_DEFAULTS.optimizer,
        learningRate: options.learningRate ?? SURROGATE_DEFAULTS.learningRate,
        momentum: options.momentum ?? SURROGATE_DEFAULTS.momentum,
        seed: options.seed ?? spec.seed,
        progress: options.progress,
        onBatch: options.onBatch,
      },
    );
    return { model, result };
  } catch (error) {
    model.dispose();
    throw error;
  }
}
