// Learned recovery after D-DAE (Chen et al., "D-DAE: Defense-Penetrating Model Extraction Attacks",
// IEEE S&P 2023). The thief knows the defense's name and public parameters, so it can run the defense
// itself on posteriors it makes up: a shadow model trained on its own answers gives clean-looking
// posteriors y_s (on the queries and jittered copies, at a spread of temperatures), the simulated defense
// turns them into ỹ_s, and a small MLP learns ỹ -> y from those pairs. The real answers go through the
// MLP and Knockoff's copy trains on the recovered targets. The queries are Knockoff's fixed sample.
import * as tf from "@tensorflow/tfjs";
import * as v from "valibot";
import { rowArgmax } from "../models/argmax.js";
import { roleSeed, stream } from "../models/random.js";
import { predictLogits, trainModel as defaultTrain, type SoftLabeledData } from "../models/training.js";
import { knockoffParamsSchema, queryFixedSample, trainKnockoffCopy } from "./knockoff.js";
import { nonNegativeInteger, nonNegativeNumber, parseParams, positiveInteger, positiveNumber, trainingOptions } from "./parameters.js";
import { requireKnowledge, simulateDefense, type SimulatedDefense } from "./simulate.js";
import { jitterImages } from "./smooth.js";
import type { BlackBox, ImageSet, StealOptions, StealResult, Thief, ThiefDeps, TransferSet } from "./thief.js";
import { argmaxOneHot, checkImageSet, checkStealOptions } from "./thief.js";

export const recoverParamsSchema = v.strictObject({
  /** What the shadow model trains on: one-hot argmax of the answers (robust to label-preserving defenses) or the answers. */
  shadowLabels: v.optional(v.picklist(["top1", "soft"]), "top1"),
  /** Default: the copy's `epochs`. */
  shadowEpochs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  /** Jittered copies of each query the shadow answers for the recovery pairs (they cost no queries). */
  simulations: nonNegativeInteger(4),
  maxShift: nonNegativeInteger(1),
  noise: nonNegativeNumber(0.05),
  /** Simulated posteriors are softmax(shadow logits / T) with T log-uniform in [1/spread, spread]; 1: T = 1. */
  temperatureSpread: v.optional(v.pipe(v.number(), v.finite(), v.minValue(1)), 3),
  /**
   * The thief's guess for the defender's proxy (defenses with one): a scratch model of its own (default),
   * or the uniform softmax, under which MAD-argmax's simulated answers degenerate to ties of a few
   * classes that do not look like the real ones.
   */
  proxy: v.optional(v.picklist(["uniform", "scratch"]), "scratch"),
  recoveryHidden: positiveInteger(64),
  recoveryEpochs: positiveInteger(30),
  /** Adam's learning rate for the recovery MLP. */
  recoveryLearningRate: positiveNumber(0.003),
  ...v.omit(knockoffParamsSchema, ["labels"]).entries,
});
export type RecoverParams = v.InferOutput<typeof recoverParamsSchema>;

// Rows per call of the simulated defense: bounds a scratch proxy's Jacobian batches.
const SIMULATION_BATCH = 256;
const LOG_FLOOR = 1e-6;

/** The recovery MLP's input for answer rows: ỹ and log(ỹ + 1e-6), so both the large and the tiny entries are visible. */
export function recoveryFeatures(probs: Float32Array, numClasses: number): Float32Array {
  const rows = probs.length / numClasses;
  const out = new Float32Array(rows * 2 * numClasses);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < numClasses; k++) {
      const p = Math.max(0, probs[r * numClasses + k]);
      out[r * 2 * numClasses + k] = p;
      out[r * 2 * numClasses + numClasses + k] = Math.log(p + LOG_FLOOR);
    }
  }
  return out;
}

/** Row softmax of `logits / temperatures[r]` in float64, clamped into [0, 1] for the trainer. */
function softmaxRows(logits: Float32Array, numClasses: number, temperatures?: Float64Array): Float32Array {
  const rows = logits.length / numClasses;
  const out = new Float32Array(logits.length);
  const e = new Float64Array(numClasses);
  for (let r = 0; r < rows; r++) {
    const t = temperatures ? temperatures[r] : 1;
    let max = -Infinity;
    for (let k = 0; k < numClasses; k++) max = Math.max(max, logits[r * numClasses + k] / t);
    let sum = 0;
    for (let k = 0; k < numClasses; k++) sum += e[k] = Math.exp(logits[r * numClasses + k] / t - max);
    for (let k = 0; k < numClasses; k++) out[r * numClasses + k] = Math.min(1, e[k] / sum);
  }
  return out;
}

function meanL1(a: Float32Array, b: Float32Array, numClasses: number): number {
  let total = 0;
  for (let i = 0; i < a.length; i++) total += Math.abs(a[i] - b[i]);
  return total / (a.length / numClasses);
}

/** Swaps entries so each row of `probs` has its maximum at `labels`' argmax; returns how many rows changed. */
export function enforceTop1(probs: Float32Array, labels: Float32Array, numClasses: number): number {
  let swapped = 0;
  for (let r = 0; r < probs.length / numClasses; r++) {
    const want = rowArgmax(labels, r, numClasses);
    const have = rowArgmax(probs, r, numClasses);
    if (want === have) continue;
    const t = probs[r * numClasses + want];
    probs[r * numClasses + want] = probs[r * numClasses + have];
    probs[r * numClasses + have] = t;
    swapped++;
  }
  return swapped;
}

function recoveryModel(features: number, hidden: number, numClasses: number, seed: number): tf.LayersModel {
  const init = (layer: number) => tf.initializers.glorotUniform({ seed: roleSeed(seed, "recovery-init", layer) });
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [features], units: hidden, activation: "relu", kernelInitializer: init(0) }),
      tf.layers.dense({ units: hidden, activation: "relu", kernelInitializer: init(1) }),
      tf.layers.dense({ units: numClasses, kernelInitializer: init(2) }),
    ],
  });
}

async function applyInBatches(defense: SimulatedDefense, probs: Float32Array, images: Float32Array, inputShape: readonly number[], numClasses: number): Promise<Float32Array> {
  const rows = probs.length / numClasses;
  const rowSize = inputShape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(probs.length);
  for (let from = 0; from < rows; from += SIMULATION_BATCH) {
    const size = Math.min(SIMULATION_BATCH, rows - from);
    const inputs = { data: images.subarray(from * rowSize, (from + size) * rowSize), batchSize: size, inputShape };
    out.set(await defense.apply(probs.subarray(from * numClasses, (from + size) * numClasses), numClasses, inputs), from * numClasses);
  }
  return out;
}

export class RecoverThief implements Thief {
  readonly params: Readonly<RecoverParams>;

  constructor(
    readonly name: string,
    params: Partial<RecoverParams> | Record<string, unknown>,
    private readonly deps: ThiefDeps,
  ) {
    this.params = parseParams(name, recoverParamsSchema, params);
  }

  async steal(blackBox: BlackBox, options: StealOptions): Promise<StealResult> {
    const started = performance.now();
    checkStealOptions(this.name, options);
    const knowledge = requireKnowledge(this.name, options.defense);
    const pool: ImageSet = checkImageSet(this.name, "pool", this.deps.pool, blackBox);
    const { seed } = options;
    const p = this.params;
    const K = blackBox.numClasses;
    // Undefended answers are already the victim's: nothing to undo. Built before querying, so a defense
    // the thief cannot simulate fails before any query is spent.
    const simulated = knowledge.name === "none" ? null : simulateDefense(this.name, knowledge, this.deps, { seed: roleSeed(seed, "simulation"), proxy: p.proxy });
    let queriesUsed: number;
    let transferSet: TransferSet;
    let diagnostics: Record<string, number>;
    try {
      const asked = await queryFixedSample(this.name, blackBox, pool, options, p.queryBatchSize);
      const { images, answers, count } = asked;
      queriesUsed = asked.queriesUsed;
      const queries: SoftLabeledData = { images, targets: answers, count, inputShape: pool.inputShape, numClasses: K };
      const recovered = simulated ? await this.recover(queries, simulated, seed) : { targets: answers, diagnostics: { shadowPairs: 0 } };
      transferSet = { ...queries, answers, targets: recovered.targets };
      diagnostics = recovered.diagnostics;
    } finally {
      simulated?.dispose();
    }
    const model = await trainKnockoffCopy(this.deps, transferSet, p, options, queriesUsed);
    return { model, queriesUsed, transferSet, rounds: 0, seconds: (performance.now() - started) / 1000, diagnostics };
  }

  /** The recovered targets ŷ for the real answers (queries.targets), and what the recovery saw. */
  private async recover(queries: SoftLabeledData, simulated: SimulatedDefense, seed: number): Promise<{ targets: Float32Array; diagnostics: Record<string, number> }> {
    const p = this.params;
    const { images, targets: answers, count, inputShape, numClasses: K } = queries;
    const train = this.deps.train ?? defaultTrain;

    const shadow = this.deps.buildSubstitute(roleSeed(seed, "shadow-init"));
    let simImages: Float32Array;
    let cleanSim: Float32Array;
    try {
      const shadowTargets = p.shadowLabels === "top1" ? argmaxOneHot(answers, K) : answers;
      await train(shadow, { ...queries, targets: shadowTargets }, { ...trainingOptions(p), epochs: p.shadowEpochs ?? p.epochs, seed: roleSeed(seed, "shadow-shuffles") });
      const jitterRandom = stream(seed, "jitter");
      const rowSize = images.length / count;
      simImages = new Float32Array(count * (1 + p.simulations) * rowSize);
      simImages.set(images);
      for (let s = 1; s <= p.simulations; s++) simImages.set(jitterImages(images, count, inputShape, p, jitterRandom), s * count * rowSize);
      const simCount = count * (1 + p.simulations);
      // A spread of temperatures, so the made-up posteriors range from confident to hesitant as a real victim's do.
      const temperatureRandom = stream(seed, "temperatures");
      const temperatures = Float64Array.from({ length: simCount }, () => p.temperatureSpread ** (2 * temperatureRandom.uniform() - 1));
      cleanSim = softmaxRows(predictLogits(shadow, simImages, simCount, inputShape), K, temperatures);
    } finally {
      shadow.dispose();
    }

    const defendedSim = await applyInBatches(simulated, cleanSim, simImages, inputShape, K);
    const pairs = cleanSim.length / K;
    const features = recoveryFeatures(defendedSim, K);
    const mlp = recoveryModel(2 * K, p.recoveryHidden, K, seed);
    try {
      const fit = await train(
        mlp,
        { images: features, targets: cleanSim, count: pairs, inputShape: [2 * K], numClasses: K },
        { epochs: p.recoveryEpochs, batchSize: p.batchSize, optimizer: "adam", learningRate: p.recoveryLearningRate, seed: roleSeed(seed, "recovery-shuffles") },
      );
      const fitted = softmaxRows(predictLogits(mlp, features, pairs, [2 * K]), K);
      const targets = softmaxRows(predictLogits(mlp, recoveryFeatures(answers, K), count, [2 * K]), K);
      // A top-1-preserving defense tells the thief the victim's argmax: the recovery must not lose it.
      const top1Swaps = simulated.traits.keepsTop1 ? enforceTop1(targets, answers, K) : 0;
      return {
        targets,
        diagnostics: {
          shadowPairs: pairs,
          recoveryLoss: fit.finalLoss,
          // Mean L1 to the clean simulated posteriors: of the simulated answers, and of their recoveries.
          simulatedL1: meanL1(defendedSim, cleanSim, K),
          recoveredL1: meanL1(fitted, cleanSim, K),
          // Mean L1 between the real answers and their recovered targets (how much the recovery moved them).
          answerChangeL1: meanL1(targets, answers, K),
          top1Swaps,
        },
      };
    } finally {
      mlp.dispose();
    }
  }
}

export function createRecover(params: Record<string, unknown>, deps: ThiefDeps): RecoverThief {
  return new RecoverThief("recover", params, deps);
}
