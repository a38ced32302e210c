// The Node host of the HTTP app: a worker pool running the defended model, budgets in memory or Redis,
// the Hono app on @hono/node-server, and a graceful shutdown that finishes in-flight queries.
import { readFileSync } from "node:fs";
import type { AddressInfo, Socket } from "node:net";
import { serve } from "@hono/node-server";
import type { Hono } from "hono";
import { createApp } from "../app.js";
import type { HostStatus, RequestLog, ServiceLimits } from "../app.js";
import { MemoryBudgetStore } from "../budgets.js";
import type { BudgetStore } from "../budgets.js";
import { PradaDetection } from "../detection.js";
import type { DetectorName, OnDetect } from "../detection.js";
import { MemoryPradaStore, resolvePradaOptions } from "../../defenses/prada.js";
import type { PradaOptions } from "../../defenses/prada.js";
import type { KserveOptions } from "../kserve.js";
import { ServiceMetrics } from "../metrics.js";
import type { ServedModelInfo } from "../predictor.js";
import { RedisBudgetStore, redactUrl } from "./redis-budgets.js";
import { RedisPradaStore } from "./redis-prada.js";
import { WorkerPool } from "./worker-pool.js";
import type { WorkerInit } from "./protocol.js";
import type { DefendedPredictorOptions } from "./defended-predictor.js";

export interface BudgetFlags {
  /** Inputs per API key (per window). */
  readonly limit: number;
  readonly windowSeconds?: number;
  /** Header carrying the key; default "x-api-key". */
  readonly header?: string;
  /** Only these keys are accepted. */
  readonly keys?: readonly string[];
  /** A file with one accepted key per line (blank lines and # comments ignored). */
  readonly keysFile?: string;
}

/** API keys without budgets (detection needs a client identity). */
export interface ApiKeyFlags {
  readonly header?: string;
  readonly keys?: readonly string[];
  /** A file with one accepted key per line (blank lines and # comments ignored). */
  readonly keysFile?: string;
}

/** Per-client detection of model stealing (`serve --detect prada`). */
export interface DetectFlags {
  readonly detector: DetectorName;
  readonly onDetect: OnDetect;
  readonly prada?: PradaOptions;
  /** Most clients whose state is kept in memory (without Redis). Default 1000. */
  readonly maxClients?: number;
}

export interface ServerOptions {
  /** What the workers run: the defended model (`DefendedPredictorOptions`), or any module exporting createPredictor. */
  readonly predictor: DefendedPredictorOptions | WorkerInit;
  readonly port?: number;
  readonly host?: string;
  readonly workers?: number;
  readonly limits?: ServiceLimits;
  readonly budget?: BudgetFlags;
  /** API keys when there is no budget (the budget's header and keys win when both are given). */
  readonly apiKeys?: ApiKeyFlags;
  /** Per-client detection (needs API keys: a budget or apiKeys); its state is in Redis with `redis`. */
  readonly detect?: DetectFlags;
  /** Redis URL for budgets (and detector states) shared by replicas; memory when omitted. */
  readonly redis?: string;
  readonly jobTimeoutMs?: number;
  readonly maxRowsPerDispatch?: number;
  /** Most inputs waiting per worker before queries get 503 "overloaded" (`serve --max-queue`). Default 512. */
  readonly maxQueueRows?: number;
  /** On close, how long queries already accepted may take to finish before the server stops anyway. Default 30 s. */
  readonly drainTimeoutMs?: number;
  /** Also answer in the KServe v2 inference protocol under this model name (`serve --protocol kserve-v2`). */
  readonly kserve?: KserveOptions;
  /** Extra routes (the browser demo), given the served model's facts. */
  readonly extraRoutes?: (info: ServedModelInfo) => Promise<(app: Hono) => void> | ((app: Hono) => void);
  /** Operational messages (start, worker restarts, shutdown). */
  readonly log?: (line: string) => void;
  /** One entry per request (no inputs, no probabilities). */
  readonly accessLog?: (entry: RequestLog) => void;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly info: ServedModelInfo;
  readonly pool: WorkerPool;
  readonly metrics: ServiceMetrics;
  /** Graceful: /healthz and new queries answer 503 "draining" while the queries already accepted finish;
   * then stop listening, stop the workers, close Redis. Idempotent. */
  close(): Promise<void>;
}

const defendedModule = new URL(`./defended-predictor${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url).href;

function readKeys(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new Error(`API keys file ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const keys = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  if (keys.length === 0) throw new Error(`API keys file ${file}: no keys in it`);
  return keys;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const log = options.log ?? (() => {});
  const metrics = new ServiceMetrics();
  const init: WorkerInit = "module" in options.predictor ? options.predictor : { module: defendedModule, options: options.predictor };

  let budgets: BudgetStore | undefined;
  let keys: Set<string> | undefined;
  if (options.budget) {
    const { limit, windowSeconds } = options.budget;
    const listed = [...(options.budget.keys ?? []), ...(options.budget.keysFile ? readKeys(options.budget.keysFile) : [])];
    // Without a fixed list anyone could mint keys: every fresh key is a fresh budget (and a count to keep).
    if (listed.length === 0) throw new Error("--budget needs the accepted API keys (--api-keys <file>, one per line): without a fixed list a client could mint a fresh key, and a fresh budget, at will");
    keys = new Set(listed);
    budgets = options.redis
      ? await RedisBudgetStore.connect({ url: options.redis, limit, windowSeconds })
      : new MemoryBudgetStore({ limit, windowSeconds, maxKeys: Math.max(100_000, keys.size) });
  } else if (options.redis && !options.detect) {
    throw new Error("--redis stores query budgets: give a budget too (--budget <inputs per key>)");
  }
  let apiKeys: { header?: string; keys?: Set<string> } | undefined;
  if (!options.budget && options.apiKeys) {
    const listed = [...(options.apiKeys.keys ?? []), ...(options.apiKeys.keysFile ? readKeys(options.apiKeys.keysFile) : [])];
    apiKeys = { header: options.apiKeys.header, keys: listed.length ? new Set(listed) : undefined };
  }
  let detection: PradaDetection | undefined;
  let pradaRedis: RedisPradaStore | undefined;
  if (options.detect) {
    if (!budgets && !apiKeys) {
      throw new Error("--detect needs API keys to tell clients apart (--api-keys <file>)");
    }
    try {
      const prada = resolvePradaOptions(options.detect.prada);
      pradaRedis = options.redis ? await RedisPradaStore.connect({ url: options.redis }, prada) : undefined;
      const store = pradaRedis ?? new MemoryPradaStore({ maxClients: options.detect.maxClients });
      detection = new PradaDetection({ store, onDetect: options.detect.onDetect, prada, metrics });
    } catch (e) {
      await budgets?.close?.();
      throw e;
    }
  }

  let pool: WorkerPool;
  try {
    pool = await WorkerPool.start({
      ...init,
      size: options.workers,
      metrics,
      log,
      jobTimeoutMs: options.jobTimeoutMs,
      maxRowsPerDispatch: options.maxRowsPerDispatch,
      maxQueueRows: options.maxQueueRows,
    });
  } catch (e) {
    await budgets?.close?.();
    await detection?.close();
    throw e;
  }
  const info = pool.info;
  let closing = false;
  // What /healthz says, and whether queries are taken: a dependency down is reported, not hidden behind a 200.
  const status = (): HostStatus => {
    if (closing) return { status: "draining", reason: "shutting down: finishing the queries already accepted" };
    if (pool.readyCount === 0) return { status: "unavailable", reason: "no model worker is up (restarting)" };
    const outage = budgets?.outage?.() ?? pradaRedis?.outage();
    return outage ? { status: "unavailable", reason: outage } : { status: "ok" };
  };
  const extraRoutes = options.extraRoutes ? await options.extraRoutes(info) : undefined;
  const app = createApp({
    predictor: pool,
    metrics,
    limits: options.limits,
    budgets: budgets && {
      store: budgets,
      header: options.budget?.header,
      keys,
      limit: options.budget?.limit,
      windowSeconds: options.budget?.windowSeconds,
    },
    apiKeys,
    detection,
    log: options.accessLog,
    status,
    extraRoutes,
    kserve: options.kserve,
    closeRefusedUploads: true,
  });

  // Requests that arrived before close(): the drain waits for them. Later ones are answered 503 "draining".
  let accepted = 0;
  let onDrained: (() => void) | undefined;
  const fetch = async (request: Request, env: unknown): Promise<Response> => {
    if (closing) return lingering(await app.fetch(request, env), env);
    accepted++;
    try {
      return lingering(await app.fetch(request, env), env);
    } finally {
      if (--accepted === 0) onDrained?.();
    }
  };

  const host = options.host ?? "127.0.0.1";
  const { server, address } = await new Promise<{ server: ReturnType<typeof serve>; address: AddressInfo }>((resolve, reject) => {
    const s = serve({ fetch, port: options.port ?? 8080, hostname: host }, (a) => resolve({ server: s, address: a }));
    s.once("error", reject);
  }).catch(async (e: NodeJS.ErrnoException) => {
    await pool.close();
    await budgets?.close?.();
    await detection?.close();
    throw new Error(e.code === "EADDRINUSE" ? `port ${options.port} on ${host} is already in use` : `cannot listen on ${host}:${options.port}: ${e.message}`);
  });
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${address.port}`;
  log(
    `serving ${info.model ?? "model"} with defense ${info.defense.name}${info.defense.keyed ? " (keyed)" : ""}` +
      `${info.defense.params ? ` ${JSON.stringify(info.defense.params)}` : ""} on ${pool.size} workers` +
      `; queue of ${pool.queueCapacity / pool.size} inputs per worker` +
      (budgets ? `; budgets of ${options.budget!.limit} inputs per key${options.redis ? ` in ${redactUrl(options.redis)}` : " in memory"}` : "") +
      (detection
        ? `; detector ${detection.name} (on detect: ${detection.onDetect}, δ = ${detection.detector.options.delta}) with states ${options.redis ? `in ${redactUrl(options.redis)}` : "in memory"}`
        : ""),
  );

  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      closing = true;
      // Keep listening while the accepted requests finish, so health checks see 503 "draining", not a refused connection.
      if (accepted > 0) {
        const drained = new Promise<void>((resolve) => (onDrained = resolve));
        await Promise.race([drained, new Promise((r) => setTimeout(r, options.drainTimeoutMs ?? 30_000).unref())]);
      }
      // Stop accepting connections; keep-alive sockets are closed once idle, requests still running finish.
      const httpClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
      await pool.close();
      await Promise.race([httpClosed, new Promise((r) => setTimeout(r, 5000).unref())]);
      (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      await budgets?.close?.();
      await detection?.close();
    })());

  return { url, port: address.port, info, pool, metrics, close };
}

/** How long a connection refused before its body was read stays open after the answer (see lingering). */
const LINGER_MS = 2000;

/**
 * An answer that closes its connection before the request's body was read (a 503 under a flood): Node would
 * destroy the socket as soon as the answer is written, and a client still uploading then sees a reset instead of
 * the 503. Half-close instead (the client reads the answer, then closes), and destroy only after LINGER_MS.
 */
function lingering(response: Response, env: unknown): Response {
  if (response.headers.get("connection") !== "close") return response;
  const socket = (env as { incoming?: { socket?: Socket } } | undefined)?.incoming?.socket;
  if (socket && !socket.destroyed) {
    socket.destroySoon = function (this: Socket) {
      this.end();
      const timer = setTimeout(() => this.destroy(), LINGER_MS);
      timer.unref();
      this.once("close", () => clearTimeout(timer));
    };
  }
  return response;
}
