// What the HTTP app needs from whatever runs the defended model: in-process (edge runtimes, tests)
// or a pool of worker threads (Node). The true probabilities y stay behind this interface: only the
// answers ỹ and per-row distances come out, so the app cannot leak y even by mistake.
import type { InputBatch } from "../models/types.js";

export interface ServedModelInfo {
  /** Per-input shape, e.g. [28, 28, 1]. */
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  /** Class names in label order (defaults to "0".."K-1"). */
  readonly classes?: readonly string[];
  /** A human-readable name of the served model, e.g. "demo (MNIST LeNet)" or a directory. */
  readonly model?: string;
  /** Set when the model is an upstream model server the defense sits in front of (a sidecar). */
  readonly upstream?: UpstreamInfo;
  readonly defense: {
    readonly name: string;
    /** Answers depend on a secret key (the key itself is never here). */
    readonly keyed?: boolean;
    /** The public parameters, only when the operator publishes them (never secrets). */
    readonly params?: Readonly<Record<string, unknown>>;
    readonly traits?: Readonly<Record<string, boolean>>;
  };
}

/** A sidecar's upstream, as clients may see it: no credentials, no query string. */
export interface UpstreamInfo {
  readonly protocol: string;
  /** Scheme, host and path only. */
  readonly url: string;
  readonly model?: string;
  readonly outputs: string;
  readonly timeoutMs: number;
}

export interface Prediction {
  /** Perturbed probabilities ỹ, B x K row-major. */
  readonly probs: Float32Array;
  /** argmax ỹ per row. */
  readonly labels: Int32Array;
  /** ||ỹ - y||_1 per row, for metrics. */
  readonly l1: Float32Array;
}

export interface Predictor {
  readonly info: ServedModelInfo;
  predict(batch: InputBatch, context?: { clientId?: string; reservation?: Reservation }): Promise<Prediction>;
  /** True while new work would be refused (a full queue): the app then answers 503 before reading the body. */
  saturated?(): boolean;
  /** Claims room in the queue for a query of about `rows` inputs before its body is read, so a flood is refused
   * before it is parsed; null when there is no room (the app answers 503). Passed to predict, or released. */
  reserve?(rows: number): Reservation | null;
  /** Finishes in-flight work and releases resources. */
  close?(): Promise<void>;
}

/** Room held in a predictor's queue for a query whose body is still being read. Releasing twice is harmless. */
export interface Reservation {
  release(): void;
}
