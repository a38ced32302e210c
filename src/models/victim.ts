// Training the model to defend (the victim) with the reference protocol (EVAL.md): SGD lr 0.01,
// momentum 0.5, batch 64. Pure: data in, model and metadata out; src/node/victim-files.ts caches it.
import type * as tf from "@tensorflow/tfjs";
import { initBackend } from "./backend.js";
import { subset, type Split } from "./labeled-images.js";
import { accuracy, softLabels, trainModel, type TrainingProgressEvent } from "./training.js";
import { buildModel, type Architecture } from "./zoo.js";
import { ModelConfigError } from "./errors.js";

export interface VictimOptions {
  arch: Architecture;
  /** Name recorded in the metadata, e.g. "mnist" or "fashion-mnist". */
  dataset: string;
  epochs?: number;
  seed?: number;
  batchSize?: number;
  learningRate?: number;
  momentum?: number;
  /** Train on only the first N training images (quick runs and tests); default all. */
  trainCount?: number;
  progress?: boolean | ((e: TrainingProgressEvent) => void);
  onBatch?: (e: TrainingProgressEvent) => void;
}

export interface VictimMetadata {
  arch: Architecture;
  dataset: string;
  /** Top-1 accuracy on the test split. */
  accuracy: number;
  inputShape: number[];
  numClasses: number;
  seed: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  momentum: number;
  trainCount: number;
  testCount: number;
  trainSeconds: number;
  /** The class names, label order (data from an image folder or with classes.txt). */
  classNames?: string[];
  /** Where the data came from (train --data): the training set, and the test set or how it was held out. */
  source?: { train: string; test: string };
}

export const VICTIM_DEFAULTS = { epochs: 8, seed: 0, batchSize: 64, learningRate: 0.01, momentum: 0.5 } as const;

/** Builds the architecture with `seed`, trains it on split.train, measures it on split.test. */
export async function trainVictim(split: Split, options: VictimOptions): Promise<{ model: tf.LayersModel; metadata: VictimMetadata }> {
  await initBackend();
  const o = { ...VICTIM_DEFAULTS, ...options };
  const { test } = split;
  if (o.trainCount !== undefined && (!Number.isInteger(o.trainCount) || o.trainCount < 1 || o.trainCount > split.train.count)) {
    throw new ModelConfigError(`trainCount must be an integer in 1..${split.train.count}, got ${o.trainCount}`);
  }
  const train = o.trainCount === undefined ? split.train : subset(split.train, Array.from({ length: o.trainCount }, (_, i) => i));
  const model = buildModel({ arch: o.arch, numClasses: train.numClasses, inputShape: train.inputShape, seed: o.seed });
  try {
    const result = await trainModel(model, softLabels(train), {
      epochs: o.epochs,
      batchSize: o.batchSize,
      optimizer: "sgd",
      learningRate: o.learningRate,
      momentum: o.momentum,
      seed: o.seed,
      progress: o.progress,
      onBatch: o.onBatch,
    });
    const acc = await accuracy(model, test);
    return {
      model,
      metadata: {
        arch: o.arch,
        dataset: o.dataset,
        accuracy: acc,
        inputShape: [...train.inputShape],
        numClasses: train.numClasses,
        seed: o.seed,
        epochs: o.epochs,
        batchSize: o.batchSize,
        learningRate: o.learningRate,
        momentum: o.momentum,
        trainCount: train.count,
        testCount: test.count,
        trainSeconds: result.seconds,
        ...(train.classNames ? { classNames: [...train.classNames] } : {}),
      },
    };
  } catch (err) {
    model.dispose();
    throw err;
  }
}
