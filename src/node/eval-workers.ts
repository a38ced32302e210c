// Thief trainings in parallel: tfjs-wasm runs on one thread, so one worker thread per core, each with
// its own backend, data and victim (loaded from the cache the main thread filled), runs jobs from a queue.
import { Worker } from "node:worker_threads";
import type { EvalConfig } from "../eval/config.js";
import type { ThiefJob, ThiefJobResult } from "../eval/jobs.js";
import type { JobExecutor } from "../eval/runner.js";

export interface WorkerInit {
  readonly config: EvalConfig;
  readonly cacheDir: string;
}

type WorkerReply = { type: "ready" } | { type: "result"; result: ThiefJobResult } | { type: "error"; message: string; jobId?: number };

const fromSources = import.meta.url.endsWith(".ts");
const entry = new URL(`./eval-worker-entry${fromSources ? ".ts" : ".js"}`, import.meta.url);

/** Run from TypeScript sources, a worker needs tsx's loader registered before it imports the entry. */
function startWorker(init: WorkerInit): Worker {
  if (!fromSources) return new Worker(entry, { workerData: init });
  const tsx = import.meta.resolve("tsx/esm/api");
  const bootstrap = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: init });
}

/** A JobExecutor that runs jobs on `count` worker threads; workers start lazily and stop when the queue is empty. */
export function workerExecutor(init: WorkerInit, count: number): JobExecutor {
  return async (jobs, onResult) => {
    if (jobs.length === 0) return;
    const queue = [...jobs];
    let chain = Promise.resolve();
    const runWorker = () =>
      new Promise<void>((resolvePromise, reject) => {
        const worker = startWorker(init);
        let current: ThiefJob | undefined;
        let failed = false;
        const next = () => {
          current = queue.shift();
          if (current) worker.postMessage(current);
          else void worker.terminate().then(() => resolvePromise());
        };
        worker.on("message", (reply: WorkerReply) => {
          if (reply.type === "ready") next();
          else if (reply.type === "result") {
            chain = chain.then(() => onResult(reply.result));
            chain.then(next, (err: unknown) => {
              failed = true;
              void worker.terminate();
              reject(err);
            });
          } else {
            failed = true;
            void worker.terminate();
            reject(new Error(`worker failed${current ? ` on ${current.attack} vs ${current.setting.defense}` : ""}: ${reply.message}`));
          }
        });
        worker.on("error", (err) => {
          failed = true;
          reject(err);
        });
        worker.on("exit", (code) => {
          if (!failed && current && code !== 0) reject(new Error(`worker exited with code ${code} during ${current.attack} vs ${current.setting.defense}`));
        });
      });
    await Promise.all(Array.from({ length: Math.min(count, jobs.length) }, runWorker));
    await chain;
  };
}
