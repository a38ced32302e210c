// A worker thread of the pool (tinypool loads this module once per thread): builds its own predictor (its
// own tfjs WASM backend: tfjs wasm has no threads, so cores come from workers) and answers the batches
// tinypool hands it. Only the perturbed probabilities, labels and L1 distances go back; y stays in this thread.
import { BroadcastChannel, threadId } from "node:worker_threads";
import Tinypool from "tinypool";
import { ServiceError } from "../errors.js";
import type { Predictor } from "../predictor.js";
import type { WorkerData, WorkerLifecycle, WorkerReply, WorkerRequest } from "./protocol.js";

if (!Tinypool.isWorkerThread) throw new Error("src/service/node/worker.ts must run in a tinypool worker thread");
const init = Tinypool.workerData as WorkerData;
const lifecycle = new BroadcastChannel(init.lifecycle);
const announce = (message: WorkerLifecycle) => lifecycle.postMessage(message);

/** A thread whose predictor failed to build ends after this pause, so tinypool's replacements do not spin. */
const failedStartPauseMs = 1000;

// Built once per thread, before tinypool counts the thread as up (it awaits this module), so tasks go only to
// threads with a model. A failure is announced, not thrown: tinypool would report its own import error instead.
let predictor: Predictor | undefined;
let startFailure: string | undefined;
try {
  const mod = (await import(init.module)) as { createPredictor?: (options: unknown) => Promise<Predictor> };
  if (typeof mod.createPredictor !== "function") throw new Error(`${init.module} does not export createPredictor(options)`);
  predictor = await mod.createPredictor(init.options);
  announce({ type: "ready", threadId, info: JSON.parse(JSON.stringify(predictor.info)) });
} catch (e) {
  startFailure = e instanceof Error ? e.message : String(e);
  announce({ type: "failed", threadId, message: startFailure });
  setTimeout(() => {
    throw new Error(`model worker failed to start: ${startFailure}`);
  }, failedStartPauseMs);
}

lifecycle.onmessage = async (event) => {
  const message = event.data as WorkerLifecycle;
  if (message.type !== "close") return; // other threads' announcements
  await predictor?.close?.();
  announce({ type: "closed", threadId });
};

export default async function answer(request: WorkerRequest): Promise<WorkerReply> {
  if (!predictor) return { type: "error", name: "ServiceError", message: `the model worker failed to start: ${startFailure}`, service: { kind: "unavailable" } };
  try {
    const answer = await predictor.predict(
      { data: request.data, batchSize: request.batchSize, inputShape: predictor.info.inputShape },
      { clientId: request.clientId },
    );
    // Copies: an answer may view a larger buffer (WASM memory), which a structured clone would copy whole.
    return { type: "result", probs: answer.probs.slice(), labels: answer.labels.slice(), l1: answer.l1.slice() };
  } catch (e) {
    // A ServiceError (an upstream's 502/504) is meant for the client: its kind crosses over, to be rebuilt there.
    const service = e instanceof ServiceError ? { kind: e.kind, field: e.field, reason: e.reason } : undefined;
    return { type: "error", name: e instanceof Error ? e.name : "Error", message: e instanceof Error ? e.message : String(e), ...(service ? { service } : {}) };
  }
}
