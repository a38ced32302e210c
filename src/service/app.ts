// The HTTP prediction API as one Hono app. It imports nothing from `node:`, so the same app runs under
// the Node adapter (src/service/node/server.ts) and in edge runtimes (export `app.fetch`). Queries come in
// this project's format (/v1/predict) and, optionally, KServe v2's (./kserve.ts), through one pipeline.
import { Hono } from "hono";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { BudgetDecision, BudgetStore } from "./budgets.js";
import type { ClientDetection, VerdictName } from "./detection.js";
import { ServiceError } from "./errors.js";
import type { ErrorKind } from "./errors.js";
import { ServiceMetrics } from "./metrics.js";
import type { Predictor, Reservation } from "./predictor.js";
import { createKserveDecoder, kserveError, kserveMetadata, kserveResponse } from "./kserve.js";
import type { KserveOptions } from "./kserve.js";
import type { InputBatch } from "../models/types.js";
import { createBodyDecoder } from "./schema.js";
import { openApiDocument } from "./openapi.js";

export interface ServiceLimits {
  /** Most inputs per request (413 above). Default 256. */
  readonly maxBatch?: number;
  /** Largest request body in bytes (413 above). Default 8 MiB. */
  readonly maxBodyBytes?: number;
  /** Inclusive range of every input value; null accepts any finite value. Default [0, 1] (pixels). */
  readonly inputRange?: readonly [number, number] | null;
}

export interface BudgetConfig {
  readonly store: BudgetStore;
  /** Request header carrying the API key. Default "x-api-key". */
  readonly header?: string;
  /** When set, only these keys are accepted (401 otherwise): budgets mean little if keys are free to mint. */
  readonly keys?: ReadonlySet<string>;
  /** Reported by GET /v1/model. */
  readonly limit?: number;
  readonly windowSeconds?: number;
}

/** API keys without budgets (e.g. for per-client detection): the header and, optionally, the accepted keys. */
export interface ApiKeyConfig {
  /** Default "x-api-key". */
  readonly header?: string;
  /** When set, only these keys are accepted (401 otherwise). */
  readonly keys?: ReadonlySet<string>;
}

/** One line per request; never carries inputs or probabilities. */
export interface RequestLog {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly ms: number;
  /** Of ms, the time until the request's body was received and parsed (answered queries). */
  readonly bodyMs?: number;
  readonly rows?: number;
  readonly error?: ErrorKind;
  readonly detail?: string;
  /** Per-client detection's verdict on this key after the request (never the inputs). */
  readonly verdict?: VerdictName;
  /** The detector's latest Shapiro–Wilk W for this key (PRADA). */
  readonly w?: number;
}

/** What /healthz reports: "ok", or why the host cannot answer queries now. */
export interface HostStatus {
  readonly status: "ok" | "draining" | "unavailable";
  /** Why not "ok", e.g. "no model worker is up" or "the budget store (Redis) is unreachable". */
  readonly reason?: string;
}

export interface AppOptions {
  readonly predictor: Predictor;
  readonly limits?: ServiceLimits;
  /** Per-API-key query budgets; omitted = no budgets and no key needed. */
  readonly budgets?: BudgetConfig;
  /** API keys when there are no budgets (budgets carry their own header and keys). */
  readonly apiKeys?: ApiKeyConfig;
  /** Per-client detection of model stealing (needs API keys: budgets or apiKeys). */
  readonly detection?: ClientDetection;
  /** Pass one in to add host series (worker pool) or read counts in tests. */
  readonly metrics?: ServiceMetrics;
  readonly log?: (entry: RequestLog) => void;
  /** Whether the host can answer (e.g. at least one worker up, not shutting down). Default: always. */
  readonly isReady?: () => boolean;
  /** The host's status with its reason (wins over `isReady`): "draining" while shutting down, "unavailable"
   * when a dependency is down (no worker, Redis unreachable). Queries get 503 unless "ok". */
  readonly status?: () => HostStatus;
  /** Mounts more routes (e.g. the browser demo) after the API's routes and before the 404 handler. */
  readonly extraRoutes?: (app: Hono) => void;
  /** Also answer in the KServe v2 inference protocol (POST /v2/models/{name}/infer, health and metadata), through
   * the same keys, budgets, detection and metrics as /v1/predict. */
  readonly kserve?: KserveOptions;
  /** A 503 sent before the request's body was read says `Connection: close`, so the host need not read the
   * refused upload (the Node host, which closes such connections after a half-close). Default false: edge
   * runtimes own their connections. */
  readonly closeRefusedUploads?: boolean;
}

/** One way of asking for predictions: how its body is decoded, its answer and its errors written. */
interface QueryRoute {
  readonly decode: (body: unknown) => InputBatch;
  readonly respond: (c: Context, answer: { probs: Float32Array; labels: Int32Array; rows: number }, body: unknown) => Response;
  readonly render: ErrorRenderer;
  /** Refuses before the body is read (e.g. an unknown model name). */
  readonly check?: (c: Context) => ServiceError | undefined;
}

type ErrorRenderer = (c: Context, err: ServiceError) => Response;

// 499 is no standard status: Hono's types list only those.
const renderJson: ErrorRenderer = (c, err) => c.json(err.toJSON(), err.status as 500);
const renderKserve: ErrorRenderer = (c, err) => c.json(kserveError(err), err.status as 500);

const maxKeyLength = 256;

const overloaded = () =>
  new ServiceError("overloaded", "the server is at capacity (its queue of queries is full); retry after a second", undefined, undefined, 1);

export const defaultLimits = { maxBatch: 256, maxBodyBytes: 8 * 1024 * 1024, inputRange: [0, 1] as const };

/** Whether a failure is the client going away mid-request (an aborted upload), not the server's fault. */
function clientClosed(c: Context, e: unknown): boolean {
  if (c.req.raw.signal?.aborted) return true;
  const err = e as { code?: unknown; message?: unknown; name?: unknown } | null;
  if (!err || typeof err !== "object") return false;
  return err.code === "ECONNRESET" || err.code === "ERR_STREAM_PREMATURE_CLOSE" || err.message === "aborted" || err.name === "AbortError";
}

const closedError = () => new ServiceError("client_closed", "the client closed the connection before the request was answered");

// Internal error messages may quote numbers from the model's computation: redact them from logs.
const redactNumbers = (s: string) => s.replace(/-?\d*\.\d+(?:e[-+]?\d+)?|\d+(?:e[-+]?\d+)/gi, "<n>").slice(0, 300);

export function createApp(options: AppOptions): Hono {
  const { predictor } = options;
  const info = predictor.info;
  const limits = {
    maxBatch: options.limits?.maxBatch ?? defaultLimits.maxBatch,
    maxBodyBytes: options.limits?.maxBodyBytes ?? defaultLimits.maxBodyBytes,
    inputRange: options.limits?.inputRange === undefined ? defaultLimits.inputRange : options.limits.inputRange,
  };
  if (!(Number.isInteger(limits.maxBatch) && limits.maxBatch >= 1)) throw new RangeError(`maxBatch must be a positive integer, got ${limits.maxBatch}`);
  if (!(Number.isInteger(limits.maxBodyBytes) && limits.maxBodyBytes >= 64)) throw new RangeError(`maxBodyBytes must be an integer >= 64, got ${limits.maxBodyBytes}`);
  const metrics = options.metrics ?? new ServiceMetrics();
  const decode = createBodyDecoder(info.inputShape, limits);
  const budgetHeader = (options.budgets?.header ?? options.apiKeys?.header ?? "x-api-key").toLowerCase();
  const keyConfig = options.budgets ?? options.apiKeys;
  const detection = options.detection;
  if (detection && !keyConfig) throw new Error("per-client detection needs API keys (budgets or apiKeys)");
  const perInput = info.inputShape.reduce((a, b) => a * b, 1);
  const classes = info.classes ?? Array.from({ length: info.numClasses }, (_, i) => String(i));
  const log = options.log ?? (() => {});
  // Request bytes per input row, learnt from the bodies seen (base64 is about 5.3 bytes a value, JSON more).
  let bytesPerRow = perInput * 5;
  const hostStatus = (): HostStatus =>
    options.status ? options.status() : !options.isReady || options.isReady() ? { status: "ok" } : { status: "unavailable", reason: "the model is not ready (starting or shutting down)" };

  const app = new Hono();

  function fail(c: Context, err: ServiceError, started: number, rows?: number, verdict?: VerdictName, render: ErrorRenderer = renderJson): Response {
    metrics.recordError(err.kind);
    // An upstream failure's message says what went wrong there (never values): the operator needs it.
    const detail = err.kind === "bad_upstream" || err.kind === "upstream_timeout" ? { detail: err.message } : {};
    log({ method: c.req.method, path: c.req.path, status: err.status, ms: Date.now() - started, rows, error: err.kind, ...detail, ...(verdict ? { verdict } : {}) });
    if (err.retryAfter !== undefined) c.header("retry-after", String(err.retryAfter));
    return render(c, err);
  }

  /** Known paths answer other methods with 405 and an Allow header (not a 404). */
  const methodNotAllowed = (path: string, allow: "GET" | "POST", render: ErrorRenderer = renderJson) => (c: Context) => {
    c.header("allow", allow === "GET" ? "GET, HEAD" : "POST");
    return fail(c, new ServiceError("method_not_allowed", `${c.req.method} ${path}: use ${allow}`, "method"), Date.now(), undefined, undefined, render);
  };

  app.get("/healthz", (c) => {
    const s = hostStatus();
    return c.json(s.status === "ok" ? { status: "ok" } : { status: s.status, ...(s.reason ? { reason: s.reason } : {}) }, s.status === "ok" ? 200 : 503);
  });

  app.get("/v1/model", (c) =>
    c.json({
      model: info.model ?? null,
      // Rebuilt field by field as well: the upstream's URL is already without credentials and query.
      ...(info.upstream
        ? { upstream: { protocol: info.upstream.protocol, url: info.upstream.url, model: info.upstream.model ?? null, outputs: info.upstream.outputs, timeoutMs: info.upstream.timeoutMs } }
        : {}),
      inputShape: info.inputShape,
      numClasses: info.numClasses,
      classes,
      // Rebuilt field by field, so nothing a predictor adds by mistake (a key) reaches clients.
      defense: {
        name: info.defense.name,
        keyed: info.defense.keyed === true,
        ...(info.defense.params ? { params: info.defense.params } : {}),
        ...(info.defense.traits ? { traits: info.defense.traits } : {}),
      },
      limits: { maxBatch: limits.maxBatch, maxBodyBytes: limits.maxBodyBytes, inputRange: limits.inputRange },
      budgets: options.budgets
        ? { header: budgetHeader, limit: options.budgets.limit ?? null, windowSeconds: options.budgets.windowSeconds ?? null }
        : null,
      inputFormats: [
        { inputs: `nested arrays, each of shape [${info.inputShape.join(", ")}]` },
        { data: "base64 of little-endian float32 values", shape: `[batch, ${info.inputShape.join(", ")}]`, dtype: "float32" },
      ],
    }),
  );

  app.get("/metrics", async (c) => {
    // The flagged-clients gauge is shared by replicas (Redis): read it now; a failure keeps the last value.
    await detection?.refresh().catch(() => {});
    return c.text(metrics.render(), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
  });
  // Built on first use: converting the schemas costs a few milliseconds the start need not wait for.
  let openapi: Record<string, unknown> | undefined;
  app.get("/openapi.json", (c) =>
    c.json(
      (openapi ??= openApiDocument({
        info,
        limits,
        apiKeyHeader: keyConfig ? budgetHeader : undefined,
        budgets: options.budgets ? { windowSeconds: options.budgets.windowSeconds } : undefined,
        detection: detection ? { onDetect: detection.onDetect } : undefined,
        kserve: options.kserve,
      })),
    ),
  );
  for (const path of ["/healthz", "/v1/model", "/metrics", "/openapi.json"]) app.all(path, methodNotAllowed(path, "GET"));

  /** Registers a query route at `path`: keys, budgets, the queue, detection and metrics, whatever its format. */
  function queryRoute(path: string, route: QueryRoute): void {
    const { render } = route;
    // A 503 before the body is read may also close the connection (closeRefusedUploads): otherwise the host still
    // reads and discards the refused upload (under a flood, most of the bytes that arrive) to reach the next request.
    const refuseUnread = (c: Context, error: ServiceError) => {
      if (options.closeRefusedUploads) c.header("connection", "close");
      return fail(c, error, Date.now(), undefined, undefined, render);
    };
    app.post(
      path,
      // Refuse before reading a body the service cannot take now (draining, a dependency down, a full queue):
      // under a flood, a 503 costs no parsing.
      async (c, next) => {
        const host = hostStatus();
        const refused = route.check?.(c);
        if (refused) return fail(c, refused, Date.now(), undefined, undefined, render);
        if (host.status === "draining") {
          return refuseUnread(c, new ServiceError("unavailable", "the server is shutting down (draining); retry on another replica", undefined, "draining", 1));
        }
        if (host.status !== "ok") {
          return refuseUnread(c, new ServiceError("unavailable", `the service cannot answer now: ${host.reason ?? "not ready"}`, undefined, undefined, 1));
        }
        if (predictor.saturated?.()) return refuseUnread(c, overloaded());
        await next();
      },
      bodyLimit({
        maxSize: limits.maxBodyBytes,
        onError: (c) =>
          fail(c, new ServiceError("too_large", `body: over the limit of ${limits.maxBodyBytes} bytes`, "body"), Date.now(), undefined, undefined, render),
      }),
      async (c) => {
        const started = Date.now();
        let rows: number | undefined;
        let key: string | undefined;
        let spent = 0;
        let blocked = false;
        let decision: BudgetDecision | undefined;
        let reservation: Reservation | undefined;
        const length = Number(c.req.header("content-length"));
        try {
          if (keyConfig) {
            key = c.req.header(budgetHeader) ?? undefined;
            if (!key) throw new ServiceError("unauthorized", `${budgetHeader}: missing API key header`, budgetHeader);
            // Every distinct key holds a counter: bound what one request can make the store remember.
            if (key.length > maxKeyLength) throw new ServiceError("unauthorized", `${budgetHeader}: API key longer than ${maxKeyLength} characters`, budgetHeader);
            if (keyConfig.keys && !keyConfig.keys.has(key)) {
              throw new ServiceError("unauthorized", `${budgetHeader}: unknown API key`, budgetHeader);
            }
            if (detection && (await detection.isBlocked(key))) {
              blocked = true;
              throw new ServiceError(
                "blocked",
                `${budgetHeader}: this API key is blocked: the ${detection.name.toUpperCase()} detector flagged its queries as a model-stealing attack`,
                budgetHeader,
                detection.name,
              );
            }
          }
          if (predictor.reserve) {
            // Hold room in the queue before reading the body (its rows estimated from its length), so that under a
            // flood the requests that cannot be answered soon are refused before they cost a parse.
            const estimate = Number.isFinite(length) && length > 0 ? Math.min(limits.maxBatch, Math.max(1, Math.round(length / bytesPerRow))) : 1;
            reservation = predictor.reserve(estimate) ?? undefined;
            if (!reservation) return refuseUnread(c, overloaded());
          }
          let body: unknown;
          try {
            body = await c.req.json();
          } catch (e) {
            if (e instanceof ServiceError) throw e;
            if (clientClosed(c, e)) throw closedError();
            throw new ServiceError("bad_json", "body: not valid JSON", "body");
          }
          const bodyMs = Date.now() - started;
          const batch = route.decode(body);
          rows = batch.batchSize;
          if (Number.isFinite(length) && length > 0) bytesPerRow = 0.8 * bytesPerRow + 0.2 * (length / rows);
          if (options.budgets && key) {
            decision = await options.budgets.store.consume(key, rows);
            c.header("x-budget-limit", String(decision.limit));
            c.header("x-budget-remaining", String(decision.remaining));
            if (!decision.allowed) {
              if (decision.resetSeconds !== undefined) c.header("retry-after", String(decision.resetSeconds));
              throw new ServiceError(
                "budget_exhausted",
                `${budgetHeader}: query budget spent (${decision.remaining} of ${decision.limit} inputs left, this request has ${rows})`,
                budgetHeader,
              );
            }
            spent = rows;
          }
          // The worker pool takes the batch's buffer: keep the inputs the detector needs.
          const inputs = detection && key ? batch.data.slice() : undefined;
          const answer = await predictor.predict(batch, { clientId: key, reservation });
          const verdict = detection && key && inputs ? await detection.observe(key, inputs, perInput, answer.labels) : undefined;
          const seconds = (Date.now() - started) / 1000;
          metrics.recordSuccess(rows, answer.l1, seconds);
          log({
            method: "POST",
            path: c.req.path,
            status: 200,
            ms: Date.now() - started,
            // Of ms, the time the client took to send the body (under a flood, the upload competes with the others).
            bodyMs,
            rows,
            ...(verdict ? { verdict: verdict.verdict, ...(verdict.w !== null ? { w: Number(verdict.w.toFixed(4)) } : {}) } : {}),
          });
          return route.respond(c, { probs: answer.probs, labels: answer.labels, rows }, body);
        } catch (e) {
          if (spent && key) {
            await options.budgets?.store.refund(key, spent).catch(() => {});
            // The refunded inputs are not spent: do not report them so.
            if (decision) c.header("x-budget-remaining", String(Math.min(decision.limit, decision.remaining + spent)));
          }
          if (e instanceof ServiceError) return fail(c, e, started, rows, blocked ? "blocked" : undefined, render);
          if (clientClosed(c, e)) return fail(c, closedError(), started, rows, undefined, render);
          const err = new ServiceError("internal", "internal error while answering the query");
          metrics.recordError(err.kind);
          const detail = e instanceof Error ? `${e.name}: ${redactNumbers(e.message)}` : "non-error thrown";
          log({ method: "POST", path: c.req.path, status: 500, ms: Date.now() - started, rows, error: err.kind, detail });
          return render(c, err);
        } finally {
          reservation?.release();
        }
      },
    );
  }

  queryRoute("/v1/predict", {
    decode,
    render: renderJson,
    respond: (c, answer) => {
      const K = info.numClasses;
      const probabilities: number[][] = new Array(answer.rows);
      for (let b = 0; b < answer.rows; b++) probabilities[b] = Array.from(answer.probs.subarray(b * K, (b + 1) * K));
      return c.json({ probabilities, labels: Array.from(answer.labels) });
    },
  });

  app.all("/v1/predict", methodNotAllowed("/v1/predict", "POST"));

  const kserve = options.kserve;
  if (kserve) {
    const unknownModel = (c: Context) =>
      c.req.param("name") === kserve.modelName ? undefined : new ServiceError("not_found", `no model named ${JSON.stringify(c.req.param("name"))} (this server has ${JSON.stringify(kserve.modelName)})`, "path");
    const ready = () => hostStatus().status === "ok";
    app.get("/v2/health/live", (c) => c.json({ live: true }));
    app.get("/v2/health/ready", (c) => c.json({ ready: ready() }, ready() ? 200 : 503));
    app.get("/v2", (c) => c.json({ name: "prediction-poisoning", version: "0.1.0", extensions: [] }));
    app.get("/v2/models/:name", (c) => {
      const missing = unknownModel(c);
      return missing ? fail(c, missing, Date.now(), undefined, undefined, renderKserve) : c.json(kserveMetadata(kserve, info));
    });
    app.get("/v2/models/:name/ready", (c) => {
      const missing = unknownModel(c);
      return missing ? fail(c, missing, Date.now(), undefined, undefined, renderKserve) : c.json({ name: kserve.modelName, ready: ready() }, ready() ? 200 : 503);
    });
    queryRoute("/v2/models/:name/infer", {
      decode: createKserveDecoder(info.inputShape, limits),
      render: renderKserve,
      check: unknownModel,
      respond: (c, answer, body) => c.json(kserveResponse(kserve, answer.probs, answer.rows, info.numClasses, body)),
    });
    app.all("/v2/models/:name/infer", methodNotAllowed("/v2/models/{name}/infer", "POST", renderKserve));
  }

  options.extraRoutes?.(app);

  app.notFound((c) => fail(c, new ServiceError("not_found", `no route ${c.req.method} ${c.req.path}`, "path"), Date.now()));

  app.onError((e, c) => {
    if (e instanceof ServiceError) return fail(c, e, Date.now());
    // An upload the client aborted (bodyLimit reads chunked bodies itself) is not an internal error.
    if (clientClosed(c, e)) return fail(c, closedError(), Date.now());
    metrics.recordError("internal");
    log({ method: c.req.method, path: c.req.path, status: 500, ms: 0, error: "internal", detail: `${e.name}: ${redactNumbers(e.message)}` });
    return c.json(new ServiceError("internal", "internal error").toJSON(), 500);
  });

  return app;
}
