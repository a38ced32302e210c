// A pool of worker threads, each running its own copy of the defended model, behind the Predictor
// interface. tinypool runs the threads: it spawns them, hands each task to an idle one, replaces a thread
// that crashes or whose task is aborted, and terminates them. Above it this layer keeps what tinypool has no
// notion of: a bounded queue of requests (503 before the body is read), merging queued requests of the same
// client into one batch per dispatch (the model and the proxy are cheaper per row in batches), job and queue
// timeouts, which threads have their model loaded, and a drain that lets accepted queries finish.
import { randomUUID } from "node:crypto";
import { availableParallelism } from "node:os";
import { BroadcastChannel } from "node:worker_threads";
import Tinypool from "tinypool";
import type { InputBatch } from "../../models/types.js";
import { workerModule } from "../../node/worker-module.js";
import { errorKinds, ServiceError } from "../errors.js";
import { Counter, Gauge } from "../metrics.js";
import type { ServiceMetrics } from "../metrics.js";
import type { Prediction, Predictor, Reservation, ServedModelInfo } from "../predictor.js";
import type { WorkerData, WorkerInit, WorkerLifecycle, WorkerReply, WorkerRequest } from "./protocol.js";

export interface WorkerPoolOptions extends WorkerInit {
  /** Threads; default: every core. */
  readonly size?: number;
  /** Most rows merged into one dispatch. Default 64. */
  readonly maxRowsPerDispatch?: number;
  /** Most input rows waiting for a worker, per worker (not counting the batches being answered); a query
   * that would go over is refused with 503 "overloaded". A query always enters an empty queue (with nothing reserved). Default 512
   * (eight full dispatches); 64 is one full dispatch waiting per worker, so an admitted query waits for at most about two batches.
   * 0: nothing waits: a query is admitted only while fewer queries are in flight (being read, queued or answered) than
   * workers are ready, so it never waits for another's batch (the lowest latency under overload, the most 503s). */
  readonly maxQueueRows?: number;
  /** How long a reservation (room held for a query whose body is being read) lasts at most. Default 1 s. */
  readonly reservationMs?: number;
  /** A worker busy longer than this on one batch is terminated and replaced. Default 30 s. */
  readonly jobTimeoutMs?: number;
  /** A query no worker has taken after this long fails (504), e.g. while every worker keeps crashing. Default 60 s. */
  readonly queueTimeoutMs?: number;
  /** A worker that is not ready after this long fails the start. Default 10 min (the demo may train first). */
  readonly startupTimeoutMs?: number;
  readonly metrics?: ServiceMetrics;
  /** Operational messages (worker crashed, replaced). Never carries inputs or probabilities. */
  readonly log?: (line: string) => void;
}

interface QueueItem {
  batch: InputBatch;
  clientId?: string;
  resolve: (p: Prediction) => void;
  reject: (e: Error) => void;
  /** Fails the request if no worker takes it in time (e.g. every worker keeps crashing at start). */
  waitTimer: ReturnType<typeof setTimeout>;
}

/** A merged batch handed to tinypool, until its answer (or the thread's death) comes back. */
interface Job {
  items: QueueItem[];
  /** Aborting the task makes tinypool terminate the thread running it and start a replacement. */
  abort: AbortController;
  timer: ReturnType<typeof setTimeout>;
  timedOut: boolean;
}

const workerFile = workerModule(new URL(`./worker${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url));
/** How long close() waits for the threads to close their predictors (flush the watermark log) before terminating them. */
const closePredictorsMs = 2000;

export class WorkerPool implements Predictor {
  private readonly threads: Tinypool;
  private readonly lifecycle: BroadcastChannel;
  /** Threads whose predictor is built: tinypool knows when a thread is up, not when its model is loaded. */
  private readonly readyThreads = new Set<number>();
  private readonly closedThreads = new Set<number>();
  private readonly watched = new WeakSet<object>();
  private readonly lifecycleWaiters = new Set<() => void>();
  private readonly queue: QueueItem[] = [];
  private readonly jobs = new Set<Job>();
  /** Rows in `queue`. */
  private queuedRows = 0;
  /** Rows (estimated) and count of the reservations of queries whose bodies are being read. */
  private reservedRows = 0;
  private reservations = 0;
  private closing = false;
  /** Set once the threads are being terminated: tasks then fail because the pool stopped, not the thread. */
  private terminating = false;
  private idleWaiters: (() => void)[] = [];
  /** Until every thread is first ready, a thread that fails fails the start (startFailure). */
  private started = false;
  private startFailure?: Error;
  private readonly restarts = new Counter("pp_worker_restarts_total", "Worker threads replaced after a crash or a hung batch.");
  readonly size: number;
  readonly maxRows: number;
  readonly jobTimeoutMs: number;
  readonly queueTimeoutMs: number;
  /** Most rows waiting in the whole pool: maxQueueRows x size. */
  readonly queueCapacity: number;
  private readonly rejected = new Counter("pp_queue_rejected_total", "Queries refused with 503 because the worker queue was full.");
  /** The first thread's description of its model (every thread loads the same one). */
  private served?: ServedModelInfo;

  private constructor(private readonly options: WorkerPoolOptions) {
    this.size = options.size ?? availableParallelism();
    this.maxRows = options.maxRowsPerDispatch ?? 64;
    this.jobTimeoutMs = options.jobTimeoutMs ?? 30_000;
    this.queueTimeoutMs = options.queueTimeoutMs ?? 60_000;
    const perWorker = options.maxQueueRows ?? 512;
    if (!(Number.isInteger(perWorker) && perWorker >= 0)) throw new RangeError(`maxQueueRows must be an integer >= 0, got ${perWorker}`);
    this.queueCapacity = perWorker * this.size;
    options.metrics?.add(new Gauge("pp_workers_ready", "Worker threads ready to answer.", () => this.readyCount));
    options.metrics?.add(new Gauge("pp_queue_rows", "Inputs waiting for a worker.", () => this.queuedRows));
    options.metrics?.add(new Gauge("pp_queue_reserved_rows", "Inputs (estimated) of queries admitted to the queue whose bodies are being read.", () => this.reservedRows));
    options.metrics?.add(new Gauge("pp_queue_capacity_rows", "Most inputs that may wait for a worker (--max-queue x workers).", () => this.queueCapacity));
    options.metrics?.add(this.rejected);
    options.metrics?.add(this.restarts);

    const data: WorkerData = { module: options.module, options: options.options, lifecycle: `pp-worker-pool-${randomUUID()}` };
    this.lifecycle = new BroadcastChannel(data.lifecycle);
    this.lifecycle.onmessage = (event) => this.onLifecycle(event.data as WorkerLifecycle);
    this.lifecycle.unref();
    this.threads = new Tinypool({
      filename: workerFile,
      workerData: data,
      minThreads: this.size,
      maxThreads: this.size,
      // An idle thread keeps its event loop running (an upstream's sockets, the watermark log's writes), not blocked in Atomics.wait.
      useAtomics: false,
    });
    // A thread that dies with no task on it (tinypool replaces it); one that dies on a task fails that task instead.
    this.threads.on("error", (e: Error) => {
      if (!this.started) this.startFailure ??= new Error(`model worker exited before it was ready: ${e.message}`);
      else if (!this.terminating) this.replaced(`a model worker crashed while idle (${e.name})`);
      this.wakeLifecycleWaiters();
    });
    this.watchExits();
  }

  /** Starts every worker and resolves once all are ready; rejects with the first worker's failure. */
  static async start(options: WorkerPoolOptions): Promise<WorkerPool> {
    const size = options.size ?? availableParallelism();
    if (!(Number.isInteger(size) && size >= 1)) throw new RangeError(`workers must be a positive integer, got ${size}`);
    const pool = new WorkerPool({ ...options, size });
    const timeoutMs = options.startupTimeoutMs ?? 600_000;
    const deadline = setTimeout(() => {
      pool.startFailure ??= new ServiceError("unavailable", `a model worker did not start within ${timeoutMs} ms`);
      pool.wakeLifecycleWaiters();
    }, timeoutMs);
    try {
      await pool.lifecycleUntil(() => pool.startFailure !== undefined || pool.readyThreads.size >= size);
      if (pool.startFailure) throw pool.startFailure;
      pool.started = true;
    } catch (e) {
      await pool.terminate();
      throw e;
    } finally {
      clearTimeout(deadline);
    }
    return pool;
  }

  private onLifecycle(message: WorkerLifecycle): void {
    if (message.type === "ready") {
      this.served ??= message.info;
      this.readyThreads.add(message.threadId);
      const live = new Set(this.threads.threads.map((t) => t.threadId));
      for (const id of this.readyThreads) if (!live.has(id)) this.readyThreads.delete(id);
      this.watchExits();
      this.pump();
    } else if (message.type === "failed") {
      if (!this.started) this.startFailure ??= new Error(`model worker failed to start: ${message.message}`);
      else this.options.log?.(`replacement worker failed: ${message.message}`);
    } else if (message.type === "closed") this.closedThreads.add(message.threadId);
    this.wakeLifecycleWaiters();
  }

  private lifecycleUntil(done: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (!done()) return;
        this.lifecycleWaiters.delete(check);
        resolve();
      };
      this.lifecycleWaiters.add(check);
      check();
    });
  }

  private wakeLifecycleWaiters(): void {
    for (const check of [...this.lifecycleWaiters]) check();
  }

  /** tinypool has started a replacement for a thread that died or was terminated. */
  private replaced(why: string): void {
    this.restarts.inc();
    this.options.log?.(`${why}; starting a replacement`);
    this.watchExits();
  }

  /**
   * tinypool notices a thread that throws, not one that just exits (process.exit): such an exit is turned into
   * an error it handles like a crash (fails the task, replaces the thread). A thread tinypool ended is no longer listed.
   */
  private watchExits(): void {
    for (const thread of this.threads.threads) {
      if (this.watched.has(thread)) continue;
      this.watched.add(thread);
      thread.once("exit", (code: number) => {
        if (this.threads.threads.includes(thread)) thread.emit("error", new Error(`the model worker exited (code ${code})`));
      });
    }
  }

  get info(): ServedModelInfo {
    return this.served!;
  }

  /** Threads that are up (as tinypool counts them) and have their model loaded. */
  get readyCount(): number {
    let ready = 0;
    for (const thread of this.threads.threads) if (this.readyThreads.has(thread.threadId)) ready++;
    return ready;
  }

  get restartCount(): number {
    return this.restarts.get();
  }

  /** Rows waiting for a worker now. */
  get queueRows(): number {
    return this.queuedRows;
  }

  /** The queue is full: a new query would be refused. */
  saturated(): boolean {
    if (this.queueCapacity === 0) return this.inFlight >= this.readyCount;
    return this.queuedRows + this.reservedRows >= this.queueCapacity;
  }

  /** Queries being read, waiting or answered (merged queries count once per request). */
  private get inFlight(): number {
    let answering = 0;
    for (const job of this.jobs) answering += job.items.length;
    return this.reservations + this.queue.length + answering;
  }

  /** A query of `rows` more inputs fits: always into an empty queue that nothing is reserved in (with a queue at all). */
  private fits(rows: number): boolean {
    if (this.queueCapacity === 0) return this.inFlight < this.readyCount;
    if (this.queue.length === 0 && this.reservations === 0) return true;
    return this.queuedRows + this.reservedRows + rows <= this.queueCapacity;
  }

  /**
   * Holds room for a query of about `rows` inputs while its body is read and validated; null when full. A
   * reservation lapses after `reservationMs` (default 1 s), so a slow upload cannot hold the queue.
   */
  reserve(rows: number): Reservation | null {
    if (this.closing) return { release: () => {} }; // predict() refuses with "shutting down"
    if (!this.fits(rows)) {
      this.rejected.inc();
      return null;
    }
    this.reservedRows += rows;
    this.reservations++;
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      clearTimeout(lapse);
      this.reservedRows -= rows;
      this.reservations--;
    };
    const lapse = setTimeout(release, this.options.reservationMs ?? 1000);
    lapse.unref?.();
    return { release };
  }

  private take(at: number, count = 1): QueueItem[] {
    const items = this.queue.splice(at, count);
    for (const q of items) this.queuedRows -= q.batch.batchSize;
    return items;
  }

  predict(batch: InputBatch, context?: { clientId?: string; reservation?: Reservation }): Promise<Prediction> {
    context?.reservation?.release();
    if (this.closing) return Promise.reject(new ServiceError("unavailable", "the service is shutting down"));
    if (!this.fits(batch.batchSize)) {
      this.rejected.inc();
      return Promise.reject(
        new ServiceError("overloaded", `the server is at capacity (${this.queuedRows} inputs queued, at most ${this.queueCapacity}); retry after a second`, undefined, undefined, 1),
      );
    }
    return new Promise((resolve, reject) => {
      const item: QueueItem = {
        batch,
        clientId: context?.clientId,
        resolve,
        reject,
        waitTimer: setTimeout(() => {
          const at = this.queue.indexOf(item);
          if (at < 0) return;
          this.take(at);
          reject(new ServiceError("timeout", `no model worker took the query within ${this.queueTimeoutMs} ms`));
          this.checkIdle();
        }, this.queueTimeoutMs),
      };
      this.queue.push(item);
      this.queuedRows += batch.batchSize;
      this.pump();
    });
  }

  /** Hands merged batches to tinypool while a thread with its model loaded is idle; the rest wait here. */
  private pump(): void {
    for (let idle = this.readyCount - this.jobs.size; idle > 0 && this.queue.length > 0; idle--) {
      // Merge queued requests of the same client (per-client defenses see one client per batch).
      const first = this.take(0)[0];
      const items = [first];
      let rows = first.batch.batchSize;
      for (let i = 0; i < this.queue.length && rows < this.maxRows; ) {
        const q = this.queue[i];
        if (q.clientId === first.clientId && rows + q.batch.batchSize <= this.maxRows) {
          items.push(q);
          rows += q.batch.batchSize;
          this.take(i);
        } else i++;
      }
      for (const q of items) clearTimeout(q.waitTimer);
      const data = items.length === 1 && ownsBuffer(first.batch.data) ? first.batch.data : concat(items.map((q) => q.batch.data));
      this.dispatch({ type: "predict", data, batchSize: rows, clientId: first.clientId }, items);
    }
    this.checkIdle();
  }

  private dispatch(request: WorkerRequest, items: QueueItem[]): void {
    const job: Job = {
      items,
      abort: new AbortController(),
      timedOut: false,
      timer: setTimeout(() => {
        job.timedOut = true;
        job.abort.abort();
      }, this.jobTimeoutMs),
    };
    this.jobs.add(job);
    this.threads
      .run(request, { transferList: [request.data.buffer as ArrayBuffer], signal: job.abort.signal })
      .then(
        (reply: WorkerReply) => {
          this.finished(job);
          this.answer(job, reply);
        },
        (e: Error) => {
          this.finished(job);
          this.failed(job, e);
        },
      );
  }

  /** Hands the thread its next batch before the answers are settled, so it does not idle while they are sent. */
  private finished(job: Job): void {
    clearTimeout(job.timer);
    this.jobs.delete(job);
    this.pump();
  }

  private answer(job: Job, reply: WorkerReply): void {
    if (reply.type === "error") {
      let err: Error;
      if (reply.service && errorKinds.includes(reply.service.kind)) err = new ServiceError(reply.service.kind, reply.message, reply.service.field, reply.service.reason);
      else {
        err = new Error(reply.message);
        err.name = reply.name;
      }
      for (const item of job.items) item.reject(err);
      return;
    }
    const K = this.info.numClasses;
    let row = 0;
    for (const item of job.items) {
      const n = item.batch.batchSize;
      item.resolve({
        probs: reply.probs.slice(row * K, (row + n) * K),
        labels: reply.labels.slice(row, row + n),
        l1: reply.l1.slice(row, row + n),
      });
      row += n;
    }
  }

  /** The task was rejected: the thread running it died, was terminated for the job timeout, or the pool stopped. */
  private failed(job: Job, e: Error): void {
    let err: ServiceError;
    if (job.timedOut) {
      err = new ServiceError("timeout", `the model worker took over ${this.jobTimeoutMs} ms; the query was not answered`);
      this.replaced(`a model worker hung for ${this.jobTimeoutMs} ms; terminated it`);
    } else if (this.terminating) {
      err = new ServiceError("unavailable", "the service shut down before the query was answered");
    } else {
      err = new ServiceError("worker_crash", "the model worker crashed while answering; the query was not answered");
      this.replaced(`a model worker crashed while answering (${e.name})`);
    }
    for (const item of job.items) item.reject(err);
  }

  private checkIdle(): void {
    if (this.queue.length === 0 && this.jobs.size === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
    // With no worker left to take it, queued work would wait forever: fail it now.
    if (this.closing && this.readyCount === 0) this.refuseQueued();
  }

  private refuseQueued(): void {
    for (const q of this.take(0, this.queue.length)) {
      clearTimeout(q.waitTimer);
      q.reject(new ServiceError("unavailable", "the service is shutting down"));
    }
  }

  /** Graceful: refuses new work, lets queued and in-flight batches finish, then stops every worker. */
  async close(graceMs = 10_000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const idle = new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      this.checkIdle();
    });
    await Promise.race([idle, new Promise((r) => setTimeout(r, graceMs).unref())]);
    this.refuseQueued();
    // Each thread closes its predictor (disposes the models, flushes the watermark log) before tinypool terminates it.
    const live = this.threads.threads.map((t) => t.threadId);
    const closed = this.lifecycleUntil(() => live.every((id) => this.closedThreads.has(id)));
    this.lifecycle.postMessage({ type: "close" } satisfies WorkerLifecycle);
    let stopWaiting: ReturnType<typeof setTimeout> | undefined;
    // A referenced timer: idle tinypool threads do not keep the process alive while their answers travel.
    await Promise.race([closed, new Promise((r) => (stopWaiting = setTimeout(r, closePredictorsMs)))]);
    clearTimeout(stopWaiting);
    await this.terminate();
  }

  private async terminate(): Promise<void> {
    this.closing = true;
    this.terminating = true;
    for (const job of this.jobs) clearTimeout(job.timer);
    await this.threads.destroy();
    this.lifecycle.close();
    this.lifecycleWaiters.clear();
  }
}

function ownsBuffer(a: Float32Array): boolean {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && a.buffer instanceof ArrayBuffer;
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
