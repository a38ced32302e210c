// The two models Adaptive Misinformation (Kariyappa & Qureshi, CVPR 2020; src/defenses/adaptive-misinformation.ts)
// needs beside the victim, trained with the project's training loop (training.ts: trainModel with a
// per-example loss and per-example weights):
//
//   trainOutlierExposed   the out-of-distribution scorer: cross-entropy on labelled in-distribution images
//                         plus λ x cross-entropy to the uniform distribution on an outlier set (outlier
//                         exposure, Hendrycks et al. 2019). Its max softmax is the score s(x). Trained on the
//                         victim's data it can also serve as the victim itself.
//   trainMisinformation   f^: the same architecture trained with −log(1 − p_y) on the labelled images, so it
//                         puts little mass on the true class; its softmax is the misinformation m(x).
//
// Both take { train (, outliers), test? } and { arch, epochs, seed, batchSize, learningRate, momentum,
// progress? } (defaults: the victim's protocol, VICTIM_DEFAULTS) and return a tf.LayersModel with logits out,
// like trainVictim. Pure: data in, model and metadata out; caching is the caller's.
//
// Outlier exposure here mixes the two sets instead of drawing paired batches: every training row is either
// an image with its one-hot label (weight N/N_in) or an outlier with the uniform target (weight λN/N_out),
// N = N_in + N_out, shuffled together; soft cross-entropy to a uniform target is OE's loss on an outlier, and
// the weights make the expected batch loss exactly CE_in + λ·CE_uniform, the paper's objective. An epoch is
// one pass over both sets, so `batchSize` counts rows of either kind (with as many outliers as images, half
// a batch of each on average).
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "./backend.js";
import { exampleSize, type LabeledImages } from "./labeled-images.js";
import type { UnlabeledImages } from "./outliers.js";
import { oneHot, predictLogits, trainModel, accuracy, type ExampleLoss, type SoftLabeledData, type TrainingProgressEvent, type TrainResult } from "./training.js";
import { VICTIM_DEFAULTS } from "./victim.js";
import { buildModel, type Architecture } from "./zoo.js";
import { ModelConfigError, ModelInputError } from "./errors.js";

export interface AuxiliaryTrainingOptions {
  arch: Architecture;
  /** Default VICTIM_DEFAULTS.epochs (8). */
  epochs?: number;
  /** Seeds the initial weights and the shuffles (default 0). Pass a role seed (roleSeed(run, "...")) so the model does not share the victim's initialisation. */
  seed?: number;
  /** Default 64. */
  batchSize?: number;
  /** SGD learning rate, default 0.01. */
  learningRate?: number;
  /** SGD momentum, default 0.5. */
  momentum?: number;
  progress?: boolean | ((e: TrainingProgressEvent) => void);
  onBatch?: (e: TrainingProgressEvent) => void;
}

export interface OutlierExposureOptions extends AuxiliaryTrainingOptions {
  /** λ, the weight of the outlier term (default 1, the paper's). */
  lambda?: number;
}

export interface OutlierExposureInputs {
  /** Labelled in-distribution images (e.g. the victim's training split). */
  train: LabeledImages;
  /** Outliers (generateOutliers() in outliers.ts, or any other image set), same input shape. */
  outliers: UnlabeledImages;
  /** If given, the metadata reports accuracy and mean max softmax on it. */
  test?: LabeledImages;
}

export interface MisinformationInputs {
  train: LabeledImages;
  /** If given, the metadata reports accuracy and the mean probability of the true class on it. */
  test?: LabeledImages;
}

export interface AuxiliaryModelMetadata {
  kind: "outlier-exposed" | "misinformation";
  arch: Architecture;
  /** The training set's name. */
  dataset: string;
  inputShape: number[];
  numClasses: number;
  seed: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  momentum: number;
  trainCount: number;
  /** Outlier exposure only. */
  outlierCount?: number;
  outliers?: string;
  lambda?: number;
  finalLoss: number;
  trainSeconds: number;
  testCount?: number;
  /** Top-1 accuracy on inputs.test. */
  accuracy?: number;
  /** Mean max softmax on inputs.test (outlier exposure: the in-distribution score). */
  meanMaxProbability?: number;
  /** Mean softmax of the true class on inputs.test (misinformation: should be well below 1/K). */
  meanTrueClassProbability?: number;
}

export interface TrainedAuxiliaryModel {
  /** Logits out. */
  model: tf.LayersModel;
  metadata: AuxiliaryModelMetadata;
}

/**
 * −log(1 − Σ_k t_k p_k) per row, p = softmax(z): for one-hot t, −log(1 − p_y), Adaptive Misinformation's loss
 * for f^. Computed as lse(z) − lse(z + log(1 − t)) (1 − t floored at 1e-30), stable for confident rows.
 */
export const misinformationLoss: ExampleLoss = (logits, targets) =>
  tf.tidy(() => tf.sub(tf.logSumExp(logits, -1), tf.logSumExp(tf.add(logits, tf.log(tf.maximum(tf.sub(1, targets), 1e-30))), -1)));

/**
 * The outlier-exposure training set: the labelled images with one-hot targets and weight N/N_in, then the
 * outliers with uniform targets and weight λN/N_out (N = N_in + N_out), so the expected batch loss is
 * CE_in + λ·CE_uniform (see the file header).
 */
export function outlierExposureData(train: LabeledImages, outliers: UnlabeledImages, lambda = 1): SoftLabeledData {
  if (!(lambda >= 0) || !Number.isFinite(lambda)) throw new ModelConfigError(`outlier exposure: lambda must be a finite number >= 0, got ${lambda}`);
  if (outliers.count < 1) throw new ModelInputError("outlier exposure: the outlier set is empty (without outliers, train the victim with trainVictim)");
  if (train.count < 1) throw new ModelInputError("outlier exposure: the training set is empty");
  if (outliers.inputShape.join() !== train.inputShape.join()) {
    throw new ModelInputError(`outlier exposure: outliers are [${outliers.inputShape}], the training images [${train.inputShape}]`);
  }
  const size = exampleSize(train);
  if (outliers.images.length !== outliers.count * size) throw new ModelInputError(`outlier exposure: outliers have ${outliers.images.length} values, expected ${outliers.count} x ${size}`);
  const K = train.numClasses;
  const count = train.count + outliers.count;
  const images = new Float32Array(count * size);
  images.set(train.images.subarray(0, train.count * size));
  images.set(outliers.images, train.count * size);
  const targets = new Float32Array(count * K);
  targets.set(oneHot(train.labels, K));
  targets.fill(1 / K, train.count * K);
  const weights = new Float32Array(count);
  weights.fill(count / train.count, 0, train.count);
  weights.fill((lambda * count) / outliers.count, train.count);
  return { images, targets, weights, count, inputShape: train.inputShape, numClasses: K };
}

function settings(o: AuxiliaryTrainingOptions) {
  return {
    arch: o.arch,
    epochs: o.epochs ?? VICTIM_DEFAULTS.epochs,
    seed: o.seed ?? VICTIM_DEFAULTS.seed,
    batchSize: o.batchSize ?? VICTIM_DEFAULTS.batchSize,
    learningRate: o.learningRate ?? VICTIM_DEFAULTS.learningRate,
    momentum: o.momentum ?? VICTIM_DEFAULTS.momentum,
  };
}

async function train(
  kind: AuxiliaryModelMetadata["kind"],
  labelled: LabeledImages,
  data: SoftLabeledData,
  options: AuxiliaryTrainingOptions,
  loss: ExampleLoss | undefined,
  test: LabeledImages | undefined,
): Promise<{ model: tf.LayersModel; result: TrainResult; metadata: AuxiliaryModelMetadata }> {
  await initBackend();
  const s = settings(options);
  const model = buildModel({ arch: s.arch, numClasses: labelled.numClasses, inputShape: labelled.inputShape, seed: s.seed });
  try {
    const result = await trainModel(model, data, {
      epochs: s.epochs,
      batchSize: s.batchSize,
      optimizer: "sgd",
      learningRate: s.learningRate,
      momentum: s.momentum,
      seed: s.seed,
      progress: options.progress,
      onBatch: options.onBatch,
      loss,
    });
    const metadata: AuxiliaryModelMetadata = {
      kind,
      ...s,
      dataset: labelled.name,
      inputShape: [...labelled.inputShape],
      numClasses: labelled.numClasses,
      trainCount: labelled.count,
      finalLoss: result.finalLoss,
      trainSeconds: result.seconds,
    };
    if (test) {
      metadata.testCount = test.count;
      metadata.accuracy = await accuracy(model, test);
      const probs = softmaxRows(model, test);
      const K = test.numClasses;
      let max = 0, truth = 0;
      for (let i = 0; i < test.count; i++) {
        let m = 0;
        for (let k = 0; k < K; k++) m = Math.max(m, probs[i * K + k]);
        max += m;
        truth += probs[i * K + test.labels[i]];
      }
      if (kind === "outlier-exposed") metadata.meanMaxProbability = max / test.count;
      else metadata.meanTrueClassProbability = truth / test.count;
    }
    return { model, result, metadata };
  } catch (err) {
    model.dispose();
    throw err;
  }
}

/** The out-of-distribution scorer (or an outlier-exposed victim): CE on inputs.train + λ·CE to uniform on inputs.outliers. */
export async function trainOutlierExposed(inputs: OutlierExposureInputs, options: OutlierExposureOptions): Promise<TrainedAuxiliaryModel> {
  const lambda = options.lambda ?? 1;
  const data = outlierExposureData(inputs.train, inputs.outliers, lambda);
  const { model, metadata } = await train("outlier-exposed", inputs.train, data, options, undefined, inputs.test);
  return {
    model,
    metadata: { ...metadata, outlierCount: inputs.outliers.count, outliers: inputs.outliers.name ?? "outliers", lambda },
  };
}

/** f^, the misinformation model: −log(1 − p_y) on inputs.train. */
export async function trainMisinformation(inputs: MisinformationInputs, options: AuxiliaryTrainingOptions): Promise<TrainedAuxiliaryModel> {
  const t = inputs.train;
  const data: SoftLabeledData = { images: t.images, targets: oneHot(t.labels, t.numClasses), count: t.count, inputShape: t.inputShape, numClasses: t.numClasses };
  const { model, metadata } = await train("misinformation", t, data, options, misinformationLoss, inputs.test);
  return { model, metadata };
}

/** softmax of `model`'s logits on every image of `set` (count x K). */
export function softmaxRows(model: tf.LayersModel, set: UnlabeledImages): Float32Array {
  const logits = predictLogits(model, set.images, set.count, set.inputShape);
  const K = logits.length / Math.max(1, set.count);
  const out = new Float32Array(logits.length);
  for (let i = 0; i < set.count; i++) {
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, logits[i * K + k]);
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Math.exp(logits[i * K + k] - m);
    for (let k = 0; k < K; k++) out[i * K + k] = Math.exp(logits[i * K + k] - m) / sum;
  }
  return out;
}

/** The out-of-distribution score s(x) = max_k softmax(model(x))_k of every image of `set`. */
export function maxSoftmax(model: tf.LayersModel, set: UnlabeledImages): Float32Array {
  const probs = softmaxRows(model, set);
  const K = probs.length / Math.max(1, set.count);
  const out = new Float32Array(set.count);
  for (let i = 0; i < set.count; i++) {
    let m = 0;
    for (let k = 0; k < K; k++) m = Math.max(m, probs[i * K + k]);
    out[i] = m;
  }
  return out;
}
