// The project's one error base, PredictionPoisoningError, and the core's own error, CoreInputError.
// The base lives in the lowest layer so every layer may extend it; each layer's errors add their own fields.

/**
 * What sort of problem an error is, the one thing a CLI exit code or an HTTP status is chosen by:
 * - "input": a value handed in (a batch, a row, an option's value) is malformed;
 * - "config": a named setting (a defense, a thief, a parameter, an architecture) is unknown or out of range;
 * - "data": a file, data set or model is there but cannot be used (wrong format, shape, classes);
 * - "not-found": a file, folder or model is not there;
 * - "unavailable": something needed cannot be reached or run now (a server, a backend);
 * - "internal": a broken invariant of this code (a bug, not the caller's fault).
 */
export type ProblemKind = "input" | "config" | "data" | "not-found" | "unavailable" | "internal";

export const problemKinds: readonly ProblemKind[] = ["input", "config", "data", "not-found", "unavailable", "internal"];

/** Where a problem is, beyond the message: each optional, set when known. */
export interface ProblemLocation {
  /** The option, parameter, flag or input at fault ("epsilon", "probs", "--data"). */
  readonly field?: string;
  /** The row of a batch (0-based) at fault; null or absent when the problem concerns the whole call. */
  readonly row?: number | null;
  /** The problem alone, without the field and row the message starts with ("must be >= 0, got -1"). */
  readonly detail?: string;
  /** The error this one was raised because of. */
  readonly cause?: unknown;
}

/**
 * The base of every error this project raises on purpose. `kind` says what sort of problem it is;
 * `field`, `row` and `detail` say where, so callers map and rephrase errors by type, never by message.
 * `Kind` is a ProblemKind for every layer but the service, whose errors have finer kinds of their own
 * (ServiceError: "validation", "budget_exhausted", ...).
 */
export class PredictionPoisoningError<Kind extends string = ProblemKind> extends Error {
  readonly kind: Kind;
  readonly field?: string;
  readonly row?: number | null;
  readonly detail?: string;

  constructor(kind: Kind, message: string, location: ProblemLocation = {}) {
    super(message, location.cause === undefined ? undefined : { cause: location.cause });
    this.name = "PredictionPoisoningError";
    this.kind = kind;
    this.field = location.field;
    this.row = location.row;
    this.detail = location.detail;
  }
}

/** Whether `error` is one of this project's errors with a ProblemKind (every layer's, the service's aside). */
export function isProblem(error: unknown): error is PredictionPoisoningError<ProblemKind> {
  return error instanceof PredictionPoisoningError && (problemKinds as readonly string[]).includes(error.kind);
}

/** The core's one error: what was wrong, in which row (null: the whole call) and field. */
export class CoreInputError extends PredictionPoisoningError {
  /** Row of the batch (0-based) the problem is in; null when it concerns the whole call. */
  declare readonly row: number | null;
  /** The option or input that is wrong: "probs", "proxyProbs", "gram", "numClasses", "epsilon", ... */
  declare readonly field: string;
  declare readonly detail: string;

  constructor(field: string, row: number | null, problem: string) {
    super("input", row === null ? `${field}: ${problem}` : `row ${row}, ${field}: ${problem}`, { field, row, detail: problem });
    this.name = "CoreInputError";
  }
}
