// A worker thread of the pool: builds its own predictor (its own tfjs WASM backend: tfjs wasm has no
// threads, so cores come from workers) and answers batches posted by the main thread. Only the
// perturbed probabilities, labels and L1 distances are posted back; y stays in this thread.
import { parentPort, workerData } from "node:worker_threads";
import { ServiceError } from "../errors.js";
import type { Predictor } from "../predictor.js";
import type { WorkerRequest, WorkerReply, WorkerInit } from "./protocol.js";

const port = parentPort;
if (!port) throw new Error("src/service/node/worker.ts must run as a worker thread");
const init = workerData as WorkerInit;

function post(message: WorkerReply, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

let predictor: Predictor;
try {
  const mod = (await import(init.module)) as { createPredictor?: (options: unknown) => Promise<Predictor> };
  if (typeof mod.createPredictor !== "function") throw new Error(`${init.module} does not export createPredictor(options)`);
  predictor = await mod.createPredictor(init.options);
  post({ type: "ready", info: JSON.parse(JSON.stringify(predictor.info)) });
} catch (e) {
  post({ type: "failed", message: e instanceof Error ? e.message : String(e) });
  process.exit(1);
}

port.on("message", async (msg: WorkerRequest) => {
  if (msg.type === "close") {
    await predictor.close?.();
    port.close();
    return;
  }
  try {
    const answer = await predictor.predict(
      { data: msg.data, batchSize: msg.batchSize, inputShape: predictor.info.inputShape },
      { clientId: msg.clientId },
    );
    const probs = answer.probs.slice();
    const labels = answer.labels.slice();
    const l1 = answer.l1.slice();
    post({ type: "result", id: msg.id, probs, labels, l1 }, [probs.buffer, labels.buffer, l1.buffer]);
  } catch (e) {
    // A ServiceError (an upstream's 502/504) is meant for the client: its kind crosses over, to be rebuilt there.
    const service = e instanceof ServiceError ? { kind: e.kind, field: e.field, reason: e.reason } : undefined;
    post({ type: "error", id: msg.id, name: e instanceof Error ? e.name : "Error", message: e instanceof Error ? e.message : String(e), ...(service ? { service } : {}) });
  }
});
