// The service's error vocabulary: every failure a client can see has a kind (a metrics label),
// an HTTP status and, for bad input, the request field it is about.
import { PredictionPoisoningError } from "../core/errors.js";

export type ErrorKind =
  | "bad_json"
  | "validation"
  | "too_large"
  | "unauthorized"
  | "budget_exhausted"
  | "blocked"
  | "not_found"
  | "method_not_allowed"
  | "client_closed"
  | "worker_crash"
  | "timeout"
  | "unavailable"
  | "overloaded"
  | "bad_upstream"
  | "upstream_timeout"
  | "internal";

// 499: the client closed the connection before the answer (nginx's code); it never reaches the client,
// but the access log and metrics tell it apart from the server's own failures.
type Status = 400 | 401 | 403 | 404 | 405 | 413 | 429 | 499 | 500 | 502 | 503 | 504;

const statusOf: Record<ErrorKind, Status> = {
  bad_json: 400,
  validation: 400,
  too_large: 413,
  unauthorized: 401,
  budget_exhausted: 429,
  blocked: 403,
  not_found: 404,
  method_not_allowed: 405,
  client_closed: 499,
  worker_crash: 500,
  timeout: 504,
  unavailable: 503,
  overloaded: 503,
  // A sidecar's upstream model server could not be reached, failed, or answered something that is no answer.
  bad_upstream: 502,
  upstream_timeout: 504,
  internal: 500,
};

export const errorKinds = Object.keys(statusOf) as ErrorKind[];

/** The HTTP status of each kind (the OpenAPI description lists them per status). */
export const errorStatus: Readonly<Record<ErrorKind, Status>> = statusOf;

/** A failure a client sees: the project's error base with the service's finer kinds (one HTTP status each). */
export class ServiceError extends PredictionPoisoningError<ErrorKind> {
  readonly status: Status;
  constructor(
    kind: ErrorKind,
    message: string,
    /** The request field the error is about, e.g. "inputs[0][3]" or "x-api-key". */
    field?: string,
    /** Why the request was refused, when a policy refused it (e.g. "prada": the detector blocked the key), or what
     * failed upstream (bad_upstream: "unreachable", "status", "not_json", "malformed"). */
    readonly reason?: string,
    /** Seconds after which a retry may succeed: sent as `Retry-After` (503 overloaded, 429 windowed budgets). */
    readonly retryAfter?: number,
  ) {
    super(kind, message, { field });
    this.name = "ServiceError";
    this.status = statusOf[kind];
  }

  toJSON(): { error: { kind: ErrorKind; message: string; field?: string; reason?: string } } {
    return {
      error: {
        kind: this.kind,
        message: this.message,
        ...(this.field !== undefined ? { field: this.field } : {}),
        ...(this.reason !== undefined ? { reason: this.reason } : {}),
      },
    };
  }
}
