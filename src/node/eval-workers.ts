// Thief trainings in parallel: tfjs-wasm runs on one thread, so one worker thread per core, each with
// its own backend, data and victim (loaded from the cache the main thread filled). tinypool runs the threads
// and hands each queued job to an idle one; this executor reports results and failed jobs in order, and fails
// only when a thread cannot set up or dies.
import Tinypool from "tinypool";
import type { EvalConfig } from "../eval/config.js";
import type { ThiefJob, ThiefJobResult } from "../eval/jobs.js";
import type { JobExecutor } from "../eval/runner.js";
import { workerModule } from "./worker-module.js";
import { PredictionPoisoningError, type ProblemKind } from "../core/errors.js";

export interface WorkerInit {
  readonly config: EvalConfig;
  readonly cacheDir: string;
}

/** A job's answer; a failure is an answer too (as text: the error's stack), `setup` when the thread could not build its setup. */
export type WorkerReply = { type: "result"; result: ThiefJobResult } | { type: "error"; message: string; setup?: boolean; kind?: ProblemKind };

const entry = workerModule(new URL(`./eval-worker-entry${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url));

/** A JobExecutor that runs jobs on `count` worker threads; threads start with the jobs and stop when the queue is empty. */
export function workerExecutor(init: WorkerInit, count: number): JobExecutor {
  return async (jobs, onResult, onFailure) => {
    if (jobs.length === 0) return;
    const pool = new Tinypool({
      filename: entry,
      workerData: init,
      // Threads are spawned as jobs are queued (up to maxThreads) and end as soon as they find the queue empty.
      minThreads: 0,
      maxThreads: Math.min(count, jobs.length),
      idleTimeout: 0,
      useAtomics: false,
    });
    // A thread that dies between jobs (tinypool emits it on the pool, not on a task).
    const died = new Promise<never>((_, reject) => pool.on("error", (err: Error) => reject(new Error(`worker exited: ${err.message}`))));
    died.catch(() => {});
    let reported = Promise.resolve();
    const run = async (job: ThiefJob): Promise<void> => {
      const reply: WorkerReply = await pool.run(job).catch((err: Error) => {
        throw new Error(`worker exited during ${job.attack} vs ${job.setting.defense}: ${err.message}`);
      });
      if (reply.type === "error" && reply.setup) throw new Error(`worker failed: ${reply.message}`);
      // One report at a time, in the order they arrive (the store and the progress line are not concurrent).
      reported = reported.then(() => (reply.type === "result" ? onResult(reply.result) : onFailure(job, reply.kind ? new PredictionPoisoningError(reply.kind, reply.message) : new Error(reply.message))));
      await reported;
    };
    try {
      const running = Promise.all(jobs.map(run));
      // tinypool notices a thread that throws, not one that just exits (process.exit): make that exit an error it
      // fails the thread's job with. A thread tinypool ended itself (the queue was empty) is no longer listed.
      for (const thread of pool.threads) {
        thread.once("exit", (code: number) => {
          if (pool.threads.includes(thread)) thread.emit("error", new Error(`exited with code ${code}`));
        });
      }
      await Promise.race([running, died]);
    } finally {
      await pool.destroy();
    }
  };
}
