// The service's error vocabulary: every failure a client can see has a kind (a metrics label),
// an HTTP status and, for bad input, the request field it is about.

export type ErrorKind =
  | "bad_json"
  | "validation"
  | "too_large"
  | "unauthorized"
  | "budget_exhausted"
  | "blocked"
  | "not_found"
  | "worker_crash"
  | "timeout"
  | "unavailable"
  | "internal";

type Status = 400 | 401 | 403 | 404 | 413 | 429 | 500 | 503 | 504;

const statusOf: Record<ErrorKind, Status> = {
  bad_json: 400,
  validation: 400,
  too_large: 413,
  unauthorized: 401,
  budget_exhausted: 429,
  blocked: 403,
  not_found: 404,
  worker_crash: 500,
  timeout: 504,
  unavailable: 503,
  internal: 500,
};

export const errorKinds = Object.keys(statusOf) as ErrorKind[];

export class ServiceError extends Error {
  readonly status: Status;
  constructor(
    readonly kind: ErrorKind,
    message: string,
    /** The request field the error is about, e.g. "inputs[0][3]" or "x-api-key". */
    readonly field?: string,
    /** Why the request was refused, when a policy refused it (e.g. "prada": the detector blocked the key). */
    readonly reason?: string,
  ) {
    super(message);
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
