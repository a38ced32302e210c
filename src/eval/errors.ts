// The evaluation's errors, each a PredictionPoisoningError naming what sort of problem it is.
import { PredictionPoisoningError, isProblem, type ProblemKind, type ProblemLocation } from "../core/errors.js";

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

/** One thief training that failed, as a run reports it. */
export interface FailedJob {
  readonly job: string;
  readonly message: string;
  readonly kind: ProblemKind;
}

/** Some thief trainings of a run failed; the others finished and were written, and a rerun retries only these. */
export class EvalJobsFailedError extends PredictionPoisoningError {
  readonly failures: readonly FailedJob[];
  constructor(failures: readonly FailedJob[]) {
    // The failures' common kind (a diverged training is "config"), else "internal".
    const kind = failures.every((f) => f.kind === failures[0].kind) ? failures[0].kind : "internal";
    super(kind, `${failures.length} thief training(s) failed (the other points are written; rerun to retry these): ${failures.map((f) => `${f.job}: ${f.message}`).join("; ")}`, {
      detail: "thief trainings failed",
    });
    this.name = "EvalJobsFailedError";
    this.failures = failures;
  }
}

/** The failure record of a job that threw. */
export function failedJob(job: string, error: Error): FailedJob {
  return { job, message: error.message, kind: isProblem(error) ? error.kind : "internal" };
}
