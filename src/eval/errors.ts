// The evaluation's errors, each a PredictionPoisoningError naming what sort of problem it is.
import { PredictionPoisoningError, type ProblemLocation } from "../core/errors.js";

/** An evaluation setting is unknown or out of range (a preset, a grid entry, a data set, a transfer set). */
export class EvalConfigError extends PredictionPoisoningError {
  constructor(message: string, location?: ProblemLocation) {
    super("config", message, location);
    this.name = "EvalConfigError";
  }
}

/** What an evaluation needs is missing or cannot be used: a data set not installed, a model not trained, too few images. */
export class EvalDataError extends PredictionPoisoningError {
  constructor(message: string, location?: ProblemLocation, kind: "data" | "not-found" = "data") {
    super(kind, message, location);
    this.name = "EvalDataError";
  }
}
