// The models layer's errors, each a PredictionPoisoningError naming what sort of problem it is.
import { PredictionPoisoningError, type ProblemLocation } from "../core/errors.js";

/** A model or data option is unknown or out of range (an architecture, a seed, a count, a Jacobian mode). */
export class ModelConfigError extends PredictionPoisoningError {
  constructor(message: string, location?: ProblemLocation) {
    super("config", message, location);
    this.name = "ModelConfigError";
  }
}

/** A batch or array handed to a model function is malformed (its shape, its length, a non-finite value). */
export class ModelInputError extends PredictionPoisoningError {
  constructor(message: string, location?: ProblemLocation) {
    super("input", message, location);
    this.name = "ModelInputError";
  }
}

/** A model, data set or file's contents cannot be used (IDX or NPY bytes, a tfjs model's inputs or outputs, labels). */
export class ModelDataError extends PredictionPoisoningError {
  constructor(message: string, location?: ProblemLocation) {
    super("data", message, location);
    this.name = "ModelDataError";
  }
}
