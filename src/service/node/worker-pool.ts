// A pool of worker threads, each running its own copy of the defended model, behind the Predictor
// interface. Queued requests of the same client are merged into one batch per dispatch (the model and
// the proxy are cheaper per row in batches); a crashed or hung worker fails its batch and is replaced.
import { Worker } from "node:worker_threads";
import { availableParallelism } from "node:os";
import type { InputBatch } from "../../models/types.js";
import { errorKinds, ServiceError } from "../errors.js";
import { Counter, Gauge } from "../metrics.js";
import type { ServiceMetrics } from "../metrics.js";
import type { Prediction, Predictor, Reservation, ServedModelInfo } from "../predictor.js";
import type { WorkerInit, WorkerReply, WorkerRequest } from "./protocol.js";

export interface WorkerPoolOptions extends WorkerInit {
  /** Threads; default: every core. */
  readonly size?: number;
  /** Most rows merged into one dispatch. Default 64. */
  readonly maxRowsPerDispatch?: number;
  /** Most input rows waiting for a worker, per worker (not counting the batches being answered); a query
   * that would go over is refused with 503 "overloaded". A query always enters an empty queue (with nothing reserved). Default 512
   * (eight full dispatches); 64 is one full dispatch waiting per worker, so an admitted query waits for at most about two batches. */
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

interface Job {
  id: number;
  items: QueueItem[];
  timer: ReturnType<typeof setTimeout>;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  job?: Job;
  /** Set when the pool ends the worker itself (close, timeout) so its exit is not taken for a crash. */
  failure?: ServiceError;
  stopping?: boolean;
}

const fromSource = import.meta.url.endsWith(".ts");
const workerUrl = new URL(`./worker${fromSource ? ".ts" : ".js"}`, import.meta.url);

// Run from TypeScript sources (tests, `npm run cli`), a worker needs the tsx loader registered in its
// own thread first: Node 20 does not pass the parent's --import hooks to worker threads.
function newWorker(init: WorkerInit): Worker {
  if (!fromSource) return new Worker(workerUrl, { workerData: init });
  const tsx = import.meta.resolve("tsx/esm/api");
  const boot = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(workerUrl.href)}); })`;
  return new Worker(boot, { eval: true, workerData: init });
}

export class WorkerPool implements Predictor {
  private readonly slots: Slot[] = [];
  private readonly queue: QueueItem[] = [];
  /** Rows in `queue`. */
  private queuedRows = 0;
  /** Rows (estimated) and count of the reservations of queries whose bodies are being read. */
  private reservedRows = 0;
  private reservations = 0;
  private nextId = 1;
  private closing = false;
  private idleWaiters: (() => void)[] = [];
  private consecutiveStartFailures = 0;
  private readonly restartTimers = new Set<ReturnType<typeof setTimeout>>();
  private readonly restarts = new Counter("pp_worker_restarts_total", "Worker threads replaced after a crash or a hung batch.");
  readonly size: number;
  readonly maxRows: number;
  readonly jobTimeoutMs: number;
  readonly queueTimeoutMs: number;
  /** Most rows waiting in the whole pool: maxQueueRows x size. */
  readonly queueCapacity: number;
  private readonly rejected = new Counter("pp_queue_rejected_total", "Queries refused with 503 because the worker queue was full.");

  private constructor(
    private readonly options: WorkerPoolOptions,
    public readonly info: ServedModelInfo,
  ) {
    this.size = options.size ?? availableParallelism();
    this.maxRows = options.maxRowsPerDispatch ?? 64;
    this.jobTimeoutMs = options.jobTimeoutMs ?? 30_000;
    this.queueTimeoutMs = options.queueTimeoutMs ?? 60_000;
    const perWorker = options.maxQueueRows ?? 512;
    if (!(Number.isInteger(perWorker) && perWorker >= 1)) throw new RangeError(`maxQueueRows must be a positive integer, got ${perWorker}`);
    this.queueCapacity = perWorker * this.size;
    options.metrics?.add(new Gauge("pp_workers_ready", "Worker threads ready to answer.", () => this.readyCount));
    options.metrics?.add(new Gauge("pp_queue_rows", "Inputs waiting for a worker.", () => this.queuedRows));
    options.metrics?.add(new Gauge("pp_queue_reserved_rows", "Inputs (estimated) of queries admitted to the queue whose bodies are being read.", () => this.reservedRows));
    options.metrics?.add(new Gauge("pp_queue_capacity_rows", "Most inputs that may wait for a worker (--max-queue x workers).", () => this.queueCapacity));
    options.metrics?.add(this.rejected);
    options.metrics?.add(this.restarts);
  }

  /** Starts every worker and resolves once all are ready; rejects with the first worker's failure. */
  static async start(options: WorkerPoolOptions): Promise<WorkerPool> {
    const size = options.size ?? availableParallelism();
    if (!(Number.isInteger(size) && size >= 1)) throw new RangeError(`workers must be a positive integer, got ${size}`);
    const pool = new WorkerPool(options, undefined as unknown as ServedModelInfo);
    try {
      const infos = await Promise.all(Array.from({ length: size }, () => pool.spawn()));
      (pool as { info: ServedModelInfo }).info = infos[0];
    } catch (e) {
      await pool.terminateAll();
      throw e;
    }
    return pool;
  }

  get readyCount(): number {
    return this.slots.filter((s) => s.ready).length;
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
    return this.queuedRows + this.reservedRows >= this.queueCapacity;
  }

  /** A query of `rows` more inputs fits: always into an empty queue that nothing is reserved in. */
  private fits(rows: number): boolean {
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

  private spawn(): Promise<ServedModelInfo> {
    const init: WorkerInit = { module: this.options.module, options: this.options.options };
    const worker = newWorker(init);
    const slot: Slot = { worker, ready: false };
    this.slots.push(slot);
    return new Promise((resolve, reject) => {
      let started = false;
      const startTimer = setTimeout(() => {
        if (started) return;
        slot.failure = new ServiceError("unavailable", "a model worker did not start in time");
        void worker.terminate();
      }, this.options.startupTimeoutMs ?? 600_000);
      worker.on("message", (msg: WorkerReply) => {
        if (msg.type === "ready") {
          started = true;
          clearTimeout(startTimer);
          slot.ready = true;
          this.consecutiveStartFailures = 0;
          resolve(msg.info);
          this.pump();
        } else if (msg.type === "failed") {
          started = true;
          clearTimeout(startTimer);
          reject(new Error(`model worker failed to start: ${msg.message}`));
        } else this.onReply(slot, msg);
      });
      worker.on("error", (e) => {
        // An uncaught exception in the worker: 'exit' follows and does the bookkeeping.
        if (!slot.failure) slot.failure = new ServiceError("worker_crash", "the model worker crashed while answering; the query was not answered");
        this.options.log?.(`worker ${worker.threadId} crashed: ${e.name}`);
      });
      worker.on("exit", (code) => {
        clearTimeout(startTimer);
        if (!started) reject(new Error(`model worker exited (code ${code}) before it was ready`));
        this.onExit(slot, code, started);
      });
    });
  }

  private onReply(slot: Slot, msg: Extract<WorkerReply, { type: "result" | "error" }>): void {
    const job = slot.job;
    if (!job || job.id !== msg.id) return;
    clearTimeout(job.timer);
    slot.job = undefined;
    if (msg.type === "error") {
      let err: Error;
      if (msg.service && errorKinds.includes(msg.service.kind)) err = new ServiceError(msg.service.kind, msg.message, msg.service.field, msg.service.reason);
      else {
        err = new Error(msg.message);
        err.name = msg.name;
      }
      for (const item of job.items) item.reject(err);
    } else {
      const K = this.info.numClasses;
      let row = 0;
      for (const item of job.items) {
        const n = item.batch.batchSize;
        item.resolve({
          probs: msg.probs.slice(row * K, (row + n) * K),
          labels: msg.labels.slice(row, row + n),
          l1: msg.l1.slice(row, row + n),
        });
        row += n;
      }
    }
    this.pump();
  }

  private onExit(slot: Slot, code: number, started: boolean): void {
    const index = this.slots.indexOf(slot);
    if (index >= 0) this.slots.splice(index, 1);
    slot.ready = false;
    if (slot.job) {
      clearTimeout(slot.job.timer);
      const err = slot.failure ?? new ServiceError("worker_crash", "the model worker exited while answering; the query was not answered");
      for (const item of slot.job.items) item.reject(err);
      slot.job = undefined;
    }
    if (slot.stopping || this.closing) {
      this.checkIdle();
      return;
    }
    if (!started) this.consecutiveStartFailures++;
    this.restarts.inc();
    // Back off when replacements keep failing to start (e.g. the model files vanished).
    const delay = Math.min(5000, 50 * 2 ** this.consecutiveStartFailures);
    this.options.log?.(`worker exited (code ${code}); starting a replacement in ${delay} ms`);
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (this.closing) return;
      this.spawn().catch((e: Error) => this.options.log?.(`replacement worker failed: ${e.message}`));
    }, delay);
    this.restartTimers.add(timer);
    if (this.readyCount === 0) this.checkIdle();
    this.pump();
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

  private pump(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) break;
      if (!slot.ready || slot.job) continue;
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
      const id = this.nextId++;
      const timer = setTimeout(() => {
        slot.failure = new ServiceError("timeout", `the model worker took over ${this.jobTimeoutMs} ms; the query was not answered`);
        this.options.log?.(`worker ${slot.worker.threadId} hung for ${this.jobTimeoutMs} ms; terminating it`);
        void slot.worker.terminate();
      }, this.jobTimeoutMs);
      slot.job = { id, items, timer };
      const message: WorkerRequest = { type: "predict", id, data, batchSize: rows, clientId: first.clientId };
      slot.worker.postMessage(message, [data.buffer as ArrayBuffer]);
    }
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.queue.length === 0 && this.slots.every((s) => !s.job)) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
    // With no worker left to take it, queued work would wait forever: fail it now.
    if (this.closing && this.slots.length === 0) {
      for (const q of this.take(0, this.queue.length)) {
        clearTimeout(q.waitTimer);
        q.reject(new ServiceError("unavailable", "the service is shutting down"));
      }
    }
  }

  /** Graceful: refuses new work, lets queued and in-flight batches finish, then stops every worker. */
  async close(graceMs = 10_000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const t of this.restartTimers) clearTimeout(t);
    this.checkIdle();
    const idle = new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      this.checkIdle();
    });
    await Promise.race([idle, new Promise((r) => setTimeout(r, graceMs).unref())]);
    await Promise.all(
      this.slots.map(
        (slot) =>
          new Promise<void>((resolve) => {
            slot.stopping = true;
            const kill = setTimeout(() => void slot.worker.terminate(), 2000);
            slot.worker.once("exit", () => {
              clearTimeout(kill);
              resolve();
            });
            slot.worker.postMessage({ type: "close" } satisfies WorkerRequest);
          }),
      ),
    );
  }

  private async terminateAll(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map((s) => ((s.stopping = true), s.worker.terminate())));
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
