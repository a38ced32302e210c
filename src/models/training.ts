// Training on soft labels: cross-entropy from logits (or another per-example loss, optionally weighted
// per example), SGD with momentum or Adam, learning-rate steps, seeded shuffling, a validation split
// and keep-the-best weights. Runs on the WASM backend.
import * as tf from "@tensorflow/tfjs";
import { assertWasmBackend } from "./backend.js";
import { exampleSize, type LabeledImages } from "./labeled-images.js";
import { rowArgmax } from "./argmax.js";
import { deriveSeed, seeded } from "./random.js";
import type { ProbabilityModel } from "./types.js";
import { ModelConfigError, ModelInputError } from "./errors.js";

export interface SoftLabeledData {
  /** count x prod(inputShape), row-major. */
  images: Float32Array;
  /** count x numClasses target distributions (rows sum to 1; one-hot for hard labels). */
  targets: Float32Array;
  count: number;
  inputShape: readonly number[];
  numClasses: number;
  /**
   * Optional loss weight per example (count entries, finite, >= 0): a batch's loss is
   * sum_i w_i·loss_i / batch size. Absent: every weight 1 (the plain batch mean).
   */
  weights?: Float32Array;
}

/** A loss per example: logits (B x K) and targets (B x K) in, B losses out. */
export type ExampleLoss = (logits: tf.Tensor, targets: tf.Tensor) => tf.Tensor;

export interface TrainingProgressEvent {
  phase: "batch" | "epoch";
  /** 1-based. */
  epoch: number;
  epochs: number;
  /** 1-based batch within the epoch (the last batch for "epoch" events). */
  batch: number;
  batches: number;
  /** Mean loss of this batch ("batch") or of the epoch so far ("epoch"). */
  loss: number;
  /** After each epoch when there is a validation split. */
  valAccuracy?: number;
}

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  optimizer: "sgd" | "adam";
  learningRate: number;
  /** SGD momentum (PyTorch semantics: v = m v + g; w -= lr v). Default 0. */
  momentum?: number;
  /** L2 penalty added to the gradients (PyTorch's weight_decay). Default 0. */
  weightDecay?: number;
  /** Multiply the learning rate by `gamma` at the start of each listed (0-based) epoch. */
  lrSteps?: { epochs: number[]; gamma: number };
  /** Seeds the shuffles and the validation split. */
  seed: number;
  /** Fraction (0..1) of the data held out to validate after each epoch. Default 0. */
  validationFraction?: number;
  /** With a validation split: restore the weights of the best validation epoch at the end. Default true. */
  keepBest?: boolean;
  /** true: one line per epoch on the console; a function: called after every epoch; default quiet. */
  progress?: boolean | ((e: TrainingProgressEvent) => void);
  /** Called after every batch (progress bars). */
  onBatch?: (e: TrainingProgressEvent) => void;
  /** The per-example loss to minimise; default softCrossEntropyPerExample (the batch mean is softCrossEntropy). */
  loss?: ExampleLoss;
  /**
   * When the loss turns non-finite, start again from the initial weights at half the learning rate, up to
   * this many times (what a practitioner does by hand); default 0: throw TrainingDivergedError at once.
   */
  restartsOnDivergence?: number;
}

export interface TrainResult {
  epochs: number;
  finalLoss: number;
  bestValAccuracy?: number;
  /** 1-based epoch whose weights the model holds at the end when keepBest applied. */
  bestEpoch?: number;
  history: { loss: number; valAccuracy?: number }[];
  seconds: number;
  /** The learning rate the finished run started from (options.learningRate halved once per restart). */
  learningRate: number;
  /** Restarts after a divergence (0 when the first run finished). */
  restarts: number;
}

/** The loss became Infinity or NaN: the weights blew up (a learning rate too high for the data). */
export class TrainingDivergedError extends ModelConfigError {
  constructor(message: string) {
    super(message, { field: "learningRate", detail: "the training diverged" });
    this.name = "TrainingDivergedError";
  }
}

/** Mean over the batch of -sum_k t_k log softmax(z)_k. */
export function softCrossEntropy(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.neg(tf.mean(tf.sum(tf.mul(targets, tf.logSoftmax(logits)), -1))) as tf.Scalar);
}

/** -sum_k t_k log softmax(z)_k for each row (B losses). */
export const softCrossEntropyPerExample: ExampleLoss = (logits, targets) =>
  tf.tidy(() => tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(logits)), -1)));

/** count x numClasses one-hot rows. */
export function oneHot(labels: Int32Array, numClasses: number): Float32Array {
  const out = new Float32Array(labels.length * numClasses);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= numClasses) throw new ModelInputError(`oneHot: label ${y} at index ${i} is outside 0..${numClasses - 1}`);
    out[i * numClasses + y] = 1;
  }
  return out;
}

/** Hard labels as one-hot soft labels. */
export function softLabels(d: LabeledImages): SoftLabeledData {
  return { images: d.images, targets: oneHot(d.labels, d.numClasses), count: d.count, inputShape: d.inputShape, numClasses: d.numClasses };
}

function validateOptions(o: TrainOptions): void {
  const positiveInt = (v: number, name: string) => {
    if (!Number.isInteger(v) || v < 1) throw new ModelConfigError(`${name} must be a positive integer, got ${v}`, { field: name });
  };
  positiveInt(o.epochs, "epochs");
  positiveInt(o.batchSize, "batchSize");
  if (o.optimizer !== "sgd" && o.optimizer !== "adam") throw new ModelConfigError(`optimizer must be "sgd" or "adam", got ${String(o.optimizer)}`, { field: "optimizer" });
  if (!(o.learningRate > 0) || !Number.isFinite(o.learningRate)) throw new ModelConfigError(`learningRate must be a positive number, got ${o.learningRate}`, { field: "learningRate" });
  if (o.momentum !== undefined && !(o.momentum >= 0 && o.momentum < 1)) throw new ModelConfigError(`momentum must be in [0, 1), got ${o.momentum}`, { field: "momentum" });
  if (o.weightDecay !== undefined && !(o.weightDecay >= 0 && Number.isFinite(o.weightDecay))) throw new ModelConfigError(`weightDecay must be >= 0, got ${o.weightDecay}`, { field: "weightDecay" });
  if (o.validationFraction !== undefined && !(o.validationFraction >= 0 && o.validationFraction < 1)) {
    throw new ModelConfigError(`validationFraction must be in [0, 1), got ${o.validationFraction}`, { field: "validationFraction" });
  }
  if (!Number.isFinite(o.seed)) throw new ModelConfigError(`seed must be a finite number, got ${o.seed}`, { field: "seed" });
  if (o.lrSteps && (!(o.lrSteps.gamma > 0) || o.lrSteps.epochs.some((e) => !Number.isInteger(e) || e < 0))) {
    throw new ModelConfigError(`lrSteps needs a positive gamma and non-negative integer epochs, got ${JSON.stringify(o.lrSteps)}`, { field: "lrSteps" });
  }
  const r = o.restartsOnDivergence;
  if (r !== undefined && !(Number.isInteger(r) && r >= 0)) {
    throw new ModelConfigError(`restartsOnDivergence must be a non-negative integer, got ${r}`, { field: "restartsOnDivergence" });
  }
}

function validateData(model: tf.LayersModel, data: SoftLabeledData): void {
  const size = exampleSize(data);
  if (data.count < 1) throw new ModelInputError("training data is empty");
  if (data.images.length !== data.count * size) throw new ModelInputError(`training images: ${data.images.length} values, expected ${data.count} x ${size}`);
  if (data.targets.length !== data.count * data.numClasses) throw new ModelInputError(`training targets: ${data.targets.length} values, expected ${data.count} x ${data.numClasses}`);
  const modelInput = model.inputs[0].shape.slice(1);
  if (modelInput.join() !== data.inputShape.join()) throw new ModelInputError(`model expects inputs [${modelInput}], data has [${data.inputShape}]`);
  const modelOut = model.outputs[0].shape[model.outputs[0].shape.length - 1];
  if (modelOut !== data.numClasses) throw new ModelInputError(`model outputs ${modelOut} classes, targets have ${data.numClasses}`);
  for (let i = 0; i < data.targets.length; i++) {
    const t = data.targets[i];
    if (!(t >= 0 && t <= 1)) throw new ModelInputError(`training targets: value ${t} at index ${i} is not a probability`);
  }
  for (let i = 0; i < data.images.length; i++) {
    if (!Number.isFinite(data.images[i])) throw new ModelInputError(`training images: value ${data.images[i]} at index ${i}`);
  }
  if (data.weights !== undefined) {
    if (!(data.weights instanceof Float32Array) || data.weights.length !== data.count) {
      throw new ModelInputError(`training weights: expected a Float32Array of ${data.count} values, got ${data.weights.length}`);
    }
    for (let i = 0; i < data.count; i++) {
      const w = data.weights[i];
      if (!(w >= 0 && Number.isFinite(w))) throw new ModelInputError(`training weights: value ${w} at index ${i} is not a finite number >= 0`);
    }
  }
}

/** Copies rows `order[from..to)` of a row-major array into a fresh array. */
function gatherRows(src: Float32Array, rowSize: number, order: Int32Array, from: number, to: number): Float32Array {
  const out = new Float32Array((to - from) * rowSize);
  for (let i = from; i < to; i++) out.set(src.subarray(order[i] * rowSize, (order[i] + 1) * rowSize), (i - from) * rowSize);
  return out;
}

/** Logits (count x K) of `model` on row-major images, in batches. */
export function predictLogits(model: tf.LayersModel, images: Float32Array, count: number, inputShape: readonly number[], batchSize = 256): Float32Array {
  assertWasmBackend();
  const size = exampleSize({ inputShape });
  const k = model.outputs[0].shape[model.outputs[0].shape.length - 1] as number;
  const out = new Float32Array(count * k);
  for (let from = 0; from < count; from += batchSize) {
    const n = Math.min(batchSize, count - from);
    const logits = tf.tidy(() => {
      const x = tf.tensor(images.subarray(from * size, (from + n) * size), [n, ...inputShape]);
      return model.predict(x) as tf.Tensor;
    });
    out.set(logits.dataSync() as Float32Array, from * k);
    logits.dispose();
  }
  return out;
}

/** Top-1 accuracy on hard labels, of a tfjs model (logits) or any ProbabilityModel. */
export async function accuracy(model: ProbabilityModel | tf.LayersModel, data: LabeledImages, batchSize = 256): Promise<number> {
  if (data.count === 0) throw new ModelInputError(`accuracy: ${data.name} is empty`);
  const k = data.numClasses;
  let correct = 0;
  const size = exampleSize(data);
  for (let from = 0; from < data.count; from += batchSize) {
    const n = Math.min(batchSize, data.count - from);
    const slice = data.images.subarray(from * size, (from + n) * size);
    const scores = model instanceof tf.LayersModel
      ? predictLogits(model, slice, n, data.inputShape, batchSize)
      : await model.predict({ data: slice, batchSize: n, inputShape: data.inputShape });
    for (let i = 0; i < n; i++) if (rowArgmax(scores, i, k) === data.labels[from + i]) correct++;
  }
  return correct / data.count;
}

function makeOptimizer(o: TrainOptions): tf.Optimizer {
  return o.optimizer === "adam" ? tf.train.adam(o.learningRate) : tf.train.momentum(o.learningRate, o.momentum ?? 0);
}

function setLearningRate(opt: tf.Optimizer, lr: number): void {
  const o = opt as unknown as { setLearningRate?: (lr: number) => void; learningRate: number };
  if (typeof o.setLearningRate === "function") o.setLearningRate(lr); // SGD/momentum cache -lr in a tensor
  else o.learningRate = lr; // Adam reads it every step
}

function disposeOptimizer(opt: tf.Optimizer): void {
  opt.dispose();
  // MomentumOptimizer.dispose() forgets the learning-rate scalar its SGD base keeps
  const c = (opt as unknown as { c?: tf.Tensor }).c;
  if (c && !c.isDisposed) c.dispose();
}

/** What a training step minimises: a per-example loss and optional per-example weights (B). */
export interface StepObjective {
  /** Default: soft cross-entropy. */
  loss?: ExampleLoss;
  /** Batch loss = sum_i w_i·loss_i / B; absent: the mean. */
  weights?: tf.Tensor;
}

/** The batch loss of `objective` on logits and targets (soft cross-entropy's mean when it is empty). */
export function batchLoss(logits: tf.Tensor, targets: tf.Tensor, objective: StepObjective = {}): tf.Scalar {
  if (!objective.loss && !objective.weights) return softCrossEntropy(logits, targets);
  return tf.tidy(() => {
    const losses = (objective.loss ?? softCrossEntropyPerExample)(logits, targets);
    return (objective.weights ? tf.div(tf.sum(tf.mul(losses, objective.weights)), losses.shape[0] as number) : tf.mean(losses)) as tf.Scalar;
  });
}

/**
 * One optimisation step: forward, the loss (soft cross-entropy unless `objective` says otherwise),
 * backward, update (with L2 `weightDecay`). Returns the batch loss (the caller disposes it).
 */
export function trainingStep(
  model: tf.LayersModel,
  variables: tf.Variable[],
  optimizer: tf.Optimizer,
  xs: tf.Tensor,
  ys: tf.Tensor,
  weightDecay = 0,
  objective: StepObjective = {},
): tf.Scalar {
  return tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => batchLoss(model.apply(xs, { training: true }) as tf.Tensor, ys, objective), variables);
    if (weightDecay > 0) for (const v of variables) grads[v.name] = tf.add(grads[v.name], tf.mul(v, weightDecay));
    optimizer.applyGradients(grads);
    return value;
  });
}

/** The tf.Variables behind a LayersModel's trainable weights. */
export function trainableVariables(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

/** Trains `model` in place on soft targets. */
export async function trainModel(model: tf.LayersModel, data: SoftLabeledData, options: TrainOptions): Promise<TrainResult> {
  assertWasmBackend();
  validateOptions(options);
  validateData(model, data);
  const started = performance.now();
  const restarts = options.restartsOnDivergence ?? 0;
  const initial = restarts > 0 ? model.getWeights().map((w) => tf.keep(w.clone())) : null;
  let learningRate = options.learningRate;
  try {
    for (let restart = 0; ; restart++) {
      try {
        const run = await trainOnce(model, data, { ...options, learningRate });
        return { ...run, learningRate, restarts: restart, seconds: (performance.now() - started) / 1000 };
      } catch (err) {
        if (!(err instanceof TrainingDivergedError) || !initial || restart >= restarts) throw err;
        model.setWeights(initial);
        learningRate /= 2;
      }
    }
  } finally {
    initial?.forEach((w) => w.dispose());
  }
}

/** One training run from the model's current weights (shuffles and split as seeded). */
async function trainOnce(model: tf.LayersModel, data: SoftLabeledData, options: TrainOptions): Promise<Omit<TrainResult, "learningRate" | "restarts" | "seconds">> {
  const k = data.numClasses;
  const size = exampleSize(data);
  const order = seeded(deriveSeed(options.seed, 0), "splitmix32").permutation(data.count); // splitmix32: keeps trained models bit-identical
  const valCount = Math.floor(data.count * (options.validationFraction ?? 0));
  const trainCount = data.count - valCount;
  if (trainCount < 1) throw new ModelConfigError(`validationFraction ${options.validationFraction} leaves no training data`, { field: "validationFraction" });
  const trainIdx = order.subarray(0, trainCount);
  const valIdx = order.subarray(trainCount);
  const valImages = valCount ? gatherRows(data.images, size, valIdx, 0, valCount) : null;
  const valLabels = valCount ? Int32Array.from(valIdx, (i) => rowArgmax(data.targets, i, k)) : null;
  const keepBest = valCount > 0 && (options.keepBest ?? true);
  const report =
    options.progress === true
      ? (e: TrainingProgressEvent) => {
          if (e.phase === "epoch") console.log(`epoch ${e.epoch}/${e.epochs} loss ${e.loss.toFixed(4)}${e.valAccuracy !== undefined ? ` val acc ${e.valAccuracy.toFixed(4)}` : ""}`);
        }
      : typeof options.progress === "function"
        ? options.progress
        : null;

  const variables = trainableVariables(model);
  const optimizer = makeOptimizer(options);
  const decay = options.weightDecay ?? 0;
  let lr = options.learningRate;
  const history: TrainResult["history"] = [];
  let best: { accuracy: number; epoch: number; weights: tf.Tensor[] } | null = null;
  const batches = Math.ceil(trainCount / options.batchSize);
  try {
    for (let epoch = 0; epoch < options.epochs; epoch++) {
      if (options.lrSteps?.epochs.includes(epoch)) {
        lr *= options.lrSteps.gamma;
        setLearningRate(optimizer, lr);
      }
      const shuffled = Int32Array.from(seeded(deriveSeed(options.seed, epoch + 1), "splitmix32").permutation(trainCount), (i) => trainIdx[i]);
      let lossSum = 0;
      let seen = 0;
      for (let b = 0; b < batches; b++) {
        const from = b * options.batchSize;
        const to = Math.min(trainCount, from + options.batchSize);
        const xs = tf.tensor(gatherRows(data.images, size, shuffled, from, to), [to - from, ...data.inputShape]);
        const ys = tf.tensor2d(gatherRows(data.targets, k, shuffled, from, to), [to - from, k]);
        const ws = data.weights ? tf.tensor1d(gatherRows(data.weights, 1, shuffled, from, to)) : undefined;
        const loss = trainingStep(model, variables, optimizer, xs, ys, decay, { loss: options.loss, weights: ws });
        const lossValue = (await loss.data())[0];
        tf.dispose([xs, ys, loss]);
        ws?.dispose();
        if (!Number.isFinite(lossValue)) {
          throw new TrainingDivergedError(`training diverged: loss is ${lossValue} at epoch ${epoch + 1}, batch ${b + 1} at learning rate ${options.learningRate} (lower the learning rate?)`);
        }
        lossSum += lossValue * (to - from);
        seen += to - from;
        options.onBatch?.({ phase: "batch", epoch: epoch + 1, epochs: options.epochs, batch: b + 1, batches, loss: lossValue });
      }
      const entry: TrainResult["history"][number] = { loss: lossSum / seen };
      if (valImages && valLabels) {
        const logits = predictLogits(model, valImages, valCount, data.inputShape);
        let correct = 0;
        for (let i = 0; i < valCount; i++) if (rowArgmax(logits, i, k) === valLabels[i]) correct++;
        entry.valAccuracy = correct / valCount;
        if (keepBest && (!best || entry.valAccuracy > best.accuracy)) {
          best?.weights.forEach((w) => w.dispose());
          best = { accuracy: entry.valAccuracy, epoch: epoch + 1, weights: model.getWeights().map((w) => tf.keep(w.clone())) };
        }
      }
      history.push(entry);
      report?.({ phase: "epoch", epoch: epoch + 1, epochs: options.epochs, batch: batches, batches, loss: entry.loss, valAccuracy: entry.valAccuracy });
    }
    if (best) model.setWeights(best.weights);
  } finally {
    best?.weights.forEach((w) => w.dispose());
    disposeOptimizer(optimizer);
  }
  const accuracies = history.map((h) => h.valAccuracy).filter((a): a is number => a !== undefined);
  return {
    epochs: options.epochs,
    finalLoss: history[history.length - 1].loss,
    bestValAccuracy: accuracies.length ? Math.max(...accuracies) : undefined,
    bestEpoch: best?.epoch,
    history,
  };
}
