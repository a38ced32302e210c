// A worker thread of the evaluation (tinypool loads this module once per thread): builds its own setup
// (backend, data, cached victim, core) once, then runs the thief jobs it is handed, one at a time.
import Tinypool from "tinypool";
import { runThiefJob, type ThiefJob } from "../eval/jobs.js";
import { prepareSetup, type EvalSetup } from "../eval/setup.js";
import { createNodeEvalEnvironment } from "./eval-environment.js";
import type { WorkerInit, WorkerReply } from "./eval-workers.js";
import { isProblem } from "../core/errors.js";

if (!Tinypool.isWorkerThread) throw new Error("eval-worker-entry must run in a tinypool worker thread");
const init = Tinypool.workerData as WorkerInit;
const stackOf = (err: unknown) => (err instanceof Error ? err.stack ?? err.message : String(err));

// Before tinypool counts the thread as up (it awaits this module). A failure is kept for the jobs, not thrown:
// tinypool would report its own import error instead.
let setup: EvalSetup | undefined;
let setupFailure: string | undefined;
try {
  const env = await createNodeEvalEnvironment({ cacheDir: init.cacheDir, log: () => {} });
  setup = await prepareSetup(init.config, env, { trainVictim: false });
} catch (err) {
  setupFailure = stackOf(err);
}

export default async function runJob(job: ThiefJob): Promise<WorkerReply> {
  if (!setup) return { type: "error", message: setupFailure ?? "no setup", setup: true };
  try {
    return { type: "result", result: await runThiefJob(job, setup) };
  } catch (err) {
    // A job's own failure (a diverged training, say): its message and kind, which the main thread reports.
    return { type: "error", message: err instanceof Error ? err.message : String(err), ...(isProblem(err) ? { kind: err.kind } : {}) };
  }
}
