// Messages between the pool (main thread) and its worker threads: tasks and their answers go through
// tinypool; the start and stop of each thread go over a BroadcastChannel (tinypool has no per-thread hooks).
import type { ErrorKind } from "../errors.js";
import type { ServedModelInfo } from "../predictor.js";

/** workerData: a module exporting `createPredictor(options): Promise<Predictor>`, and its options (structured-cloneable). */
export interface WorkerInit {
  readonly module: string;
  readonly options: unknown;
}

/** tinypool's workerData: the init, and the name of the pool's lifecycle BroadcastChannel. */
export interface WorkerData extends WorkerInit {
  readonly lifecycle: string;
}

/** A task: one (merged) batch. tinypool pairs it with its answer, so it needs no id. */
export interface WorkerRequest {
  readonly type: "predict";
  readonly data: Float32Array;
  readonly batchSize: number;
  readonly clientId?: string;
}

/** A task's answer; a failure of the predictor is an answer too (a rejected task means the thread died). */
export type WorkerReply =
  | { type: "result"; probs: Float32Array; labels: Int32Array; l1: Float32Array }
  | { type: "error"; name: string; message: string; service?: { kind: ErrorKind; field?: string; reason?: string } };

/** On the lifecycle channel: a thread's predictor is built (or failed to build); the pool asks every thread
 * to close its predictor, and each says when it has. */
export type WorkerLifecycle =
  | { type: "ready"; threadId: number; info: ServedModelInfo }
  | { type: "failed"; threadId: number; message: string }
  | { type: "close" }
  | { type: "closed"; threadId: number };
