// Messages between the pool (main thread) and its worker threads.
import type { ErrorKind } from "../errors.js";
import type { ServedModelInfo } from "../predictor.js";

/** workerData: a module exporting `createPredictor(options): Promise<Predictor>`, and its options (structured-cloneable). */
export interface WorkerInit {
  readonly module: string;
  readonly options: unknown;
}

export type WorkerRequest =
  | { type: "predict"; id: number; data: Float32Array; batchSize: number; clientId?: string }
  | { type: "close" };

export type WorkerReply =
  | { type: "ready"; info: ServedModelInfo }
  | { type: "failed"; message: string }
  | { type: "result"; id: number; probs: Float32Array; labels: Int32Array; l1: Float32Array }
  | { type: "error"; id: number; name: string; message: string; service?: { kind: ErrorKind; field?: string; reason?: string } };
