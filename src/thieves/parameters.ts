// Thief parameters are validated with valibot: unknown keys and bad values fail with a message naming
// the thief and the parameter, and the validated object (defaults filled in) is what reports record.
import * as v from "valibot";
import { PredictionPoisoningError, type ProblemLocation } from "../core/errors.js";
import type { ThiefTrainOptions } from "./thief.js";

/** A thief was asked for with an unknown name or a bad parameter. */
export class ThiefConfigError extends PredictionPoisoningError {
  constructor(message: string, location?: ProblemLocation) {
    super("config", message, location);
    this.name = "ThiefConfigError";
  }
}

export const positiveInteger = (fallback: number) => v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), fallback);
export const nonNegativeInteger = (fallback: number) => v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), fallback);
export const positiveNumber = (fallback: number) => v.optional(v.pipe(v.number(), v.finite(), v.gtValue(0)), fallback);
export const nonNegativeNumber = (fallback: number) => v.optional(v.pipe(v.number(), v.finite(), v.minValue(0)), fallback);

/** The training hyper-parameters every thief shares (SGD as in the reference). */
export const trainingEntries = (defaults: { epochs: number; learningRate: number; momentum: number; weightDecay: number }) => ({
  epochs: positiveInteger(defaults.epochs),
  batchSize: positiveInteger(64),
  optimizer: v.optional(v.picklist(["sgd", "adam"]), "sgd"),
  learningRate: positiveNumber(defaults.learningRate),
  momentum: nonNegativeNumber(defaults.momentum),
  weightDecay: nonNegativeNumber(defaults.weightDecay),
  /** Rows per black-box request. */
  queryBatchSize: positiveInteger(128),
});

/** How often a thief's training restarts at half the learning rate after its loss turned non-finite. */
export const THIEF_DIVERGENCE_RESTARTS = 3;

/** The trainer's options out of parsed parameters that include the trainingEntries. */
export function trainingOptions(p: ThiefTrainOptions): ThiefTrainOptions {
  return {
    epochs: p.epochs, batchSize: p.batchSize, optimizer: p.optimizer, learningRate: p.learningRate, momentum: p.momentum, weightDecay: p.weightDecay,
    // A thief whose loss blows up does what a practitioner does: halves the learning rate and starts again.
    restartsOnDivergence: THIEF_DIVERGENCE_RESTARTS,
  };
}

export function parseParams<TSchema extends v.GenericSchema>(thief: string, schema: TSchema, raw: unknown): v.InferOutput<TSchema> {
  const result = v.safeParse(schema, raw ?? {});
  if (result.success) return result.output;
  const issue = result.issues[0];
  const path = issue.path?.map((p) => String(p.key)).join(".") ?? "";
  throw new ThiefConfigError(`thief "${thief}": parameter${path ? ` "${path}"` : "s"}: ${issue.message}`);
}
