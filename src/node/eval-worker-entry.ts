// A worker thread of the evaluation: builds its own setup (backend, data, cached victim, core) once,
// then runs the thief jobs the main thread sends, one at a time.
import { parentPort, workerData } from "node:worker_threads";
import { runThiefJob, type ThiefJob } from "../eval/jobs.js";
import { prepareSetup } from "../eval/setup.js";
import { createNodeEvalEnvironment } from "./eval-environment.js";
import type { WorkerInit } from "./eval-workers.js";

const port = parentPort;
if (!port) throw new Error("eval-worker-entry must run in a worker thread");
const init = workerData as WorkerInit;

try {
  const env = await createNodeEvalEnvironment({ cacheDir: init.cacheDir, log: () => {} });
  const setup = await prepareSetup(init.config, env, { trainVictim: false });
  port.on("message", (job: ThiefJob) => {
    runThiefJob(job, setup).then(
      (result) => port.postMessage({ type: "result", result }),
      (err: unknown) => port.postMessage({ type: "error", jobId: job.id, message: err instanceof Error ? err.stack ?? err.message : String(err) }),
    );
  });
  port.postMessage({ type: "ready" });
} catch (err) {
  port.postMessage({ type: "error", message: err instanceof Error ? err.stack ?? err.message : String(err) });
}
