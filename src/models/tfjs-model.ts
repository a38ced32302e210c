// Wraps a user's tfjs LayersModel or GraphModel (the victim) as a ProbabilityModel.
import * as tf from "@tensorflow/tfjs";
import { assertWasmBackend, initBackend } from "./backend.js";
import { assertFiniteOutput, validateBatch } from "./inputs.js";
import type { InputBatch, ProbabilityModel } from "./types.js";
import { ModelConfigError, ModelDataError } from "./errors.js";

export interface TfjsClassifierOptions {
  /** What the model outputs: "logits" (softmax applied here; the zoo's models) or "probabilities". Default "logits". */
  outputs?: "logits" | "probabilities";
  /** Per-example input shape, when the model's own input shape has unknown dimensions. */
  inputShape?: readonly number[];
}

function knownShape(shape: (number | null)[] | undefined): number[] | null {
  if (!shape || shape.length < 2) return null;
  const rest = shape.slice(1);
  return rest.every((d) => typeof d === "number" && d > 0) ? (rest as number[]) : null;
}

export class TfjsClassifier implements ProbabilityModel {
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  readonly outputs: "logits" | "probabilities";

  constructor(readonly model: tf.LayersModel | tf.GraphModel, options: TfjsClassifierOptions = {}) {
    this.outputs = options.outputs ?? "logits";
    if (this.outputs !== "logits" && this.outputs !== "probabilities") throw new ModelConfigError(`outputs must be "logits" or "probabilities", got ${String(this.outputs)}`);
    const inputs = model.inputs;
    const outputs = model.outputs;
    if (inputs.length !== 1 || outputs.length !== 1) throw new ModelDataError(`TfjsClassifier needs a model with one input and one output, got ${inputs.length} and ${outputs.length}`);
    const fromModel = knownShape(inputs[0].shape as (number | null)[]);
    if (options.inputShape && fromModel && options.inputShape.join() !== fromModel.join()) {
      throw new ModelConfigError(`inputShape [${options.inputShape}] disagrees with the model's input [${fromModel}]`);
    }
    const inputShape = options.inputShape ? [...options.inputShape] : fromModel;
    if (!inputShape) throw new ModelConfigError(`the model's input shape [${inputs[0].shape}] has unknown dimensions: pass options.inputShape`);
    this.inputShape = inputShape;
    let outShape = outputs[0].shape as (number | null)[] | undefined;
    if (!outShape || outShape.some((d, i) => i > 0 && (typeof d !== "number" || d < 0))) {
      // graph models often declare no output shape: ask the model with one blank example
      assertWasmBackend();
      outShape = tf.tidy(() => (model.predict(tf.zeros([1, ...inputShape])) as tf.Tensor).shape);
    }
    const k = outShape[outShape.length - 1];
    if (outShape.length !== 2 || typeof k !== "number" || k < 2) {
      throw new ModelDataError(`TfjsClassifier needs a [batch, classes] output with at least 2 classes, the model outputs [${outShape}]`);
    }
    this.numClasses = k;
  }

  private async run(batch: InputBatch, as: "logits" | "probabilities"): Promise<Float32Array> {
    await initBackend();
    validateBatch(batch, this.inputShape, "TfjsClassifier");
    const out = tf.tidy(() => {
      const x = tf.tensor(batch.data, [batch.batchSize, ...this.inputShape]);
      const y = this.model.predict(x) as tf.Tensor;
      if (Array.isArray(y)) throw new ModelDataError("TfjsClassifier: the model returned several outputs");
      if (this.outputs === as) return y;
      return as === "probabilities" ? tf.softmax(y) : tf.log(y);
    });
    const values = (await out.data()) as Float32Array;
    out.dispose();
    if (as === "probabilities" || this.outputs === "logits") assertFiniteOutput(values, "TfjsClassifier");
    if (as === "probabilities" && this.outputs === "probabilities") assertDistributions(values, this.numClasses);
    return values;
  }

  /** Probabilities, batchSize x numClasses row-major. */
  predict(batch: InputBatch): Promise<Float32Array> {
    return this.run(batch, "probabilities");
  }

  /** Logits (for a probability-output model: log-probabilities). */
  logits(batch: InputBatch): Promise<Float32Array> {
    return this.run(batch, "logits");
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** A model declared to output probabilities must output rows on the simplex. */
function assertDistributions(values: Float32Array, k: number): void {
  for (let row = 0; row < values.length / k; row++) {
    let sum = 0;
    for (let j = 0; j < k; j++) {
      const v = values[row * k + j];
      if (v < 0) throw new ModelDataError(`TfjsClassifier: the model output a negative probability ${v} (row ${row}); is it a logits model? use outputs: "logits"`);
      sum += v;
    }
    if (Math.abs(sum - 1) > 1e-3) throw new ModelDataError(`TfjsClassifier: output row ${row} sums to ${sum}, not 1; is it a logits model? use outputs: "logits"`);
  }
}
