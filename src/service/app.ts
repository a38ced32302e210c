// The HTTP prediction API as one Hono app. It imports nothing from `node:`, so the same app runs under
// the Node adapter (src/service/node/server.ts) and in edge runtimes (export `app.fetch`).
import { Hono } from "hono";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { BudgetStore } from "./budgets.js";
import type { ClientDetection, VerdictName } from "./detection.js";
import { ServiceError } from "./errors.js";
import type { ErrorKind } from "./errors.js";
import { ServiceMetrics } from "./metrics.js";
import type { Predictor } from "./predictor.js";
import { createBodyDecoder } from "./schema.js";

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
  readonly rows?: number;
  readonly error?: ErrorKind;
  readonly detail?: string;
  /** Per-client detection's verdict on this key after the request (never the inputs). */
  readonly verdict?: VerdictName;
  /** The detector's latest Shapiro–Wilk W for this key (PRADA). */
  readonly w?: number;
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
  /** Mounts more routes (e.g. the browser demo) after the API's routes and before the 404 handler. */
  readonly extraRoutes?: (app: Hono) => void;
}

const maxKeyLength = 256;

export const defaultLimits = { maxBatch: 256, maxBodyBytes: 8 * 1024 * 1024, inputRange: [0, 1] as const };

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

  const app = new Hono();

  function fail(c: Context, err: ServiceError, started: number, rows?: number, verdict?: VerdictName): Response {
    metrics.recordError(err.kind);
    log({ method: c.req.method, path: c.req.path, status: err.status, ms: Date.now() - started, rows, error: err.kind, ...(verdict ? { verdict } : {}) });
    return c.json(err.toJSON(), err.status);
  }

  app.get("/healthz", (c) => {
    const ready = options.isReady ? options.isReady() : true;
    return c.json({ status: ready ? "ok" : "unavailable" }, ready ? 200 : 503);
  });

  app.get("/v1/model", (c) =>
    c.json({
      model: info.model ?? null,
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

  app.post(
    "/v1/predict",
    bodyLimit({
      maxSize: limits.maxBodyBytes,
      onError: (c) =>
        fail(c, new ServiceError("too_large", `body: over the limit of ${limits.maxBodyBytes} bytes`, "body"), Date.now()),
    }),
    async (c) => {
      const started = Date.now();
      let rows: number | undefined;
      let key: string | undefined;
      let spent = 0;
      let blocked = false;
      try {
        if (options.isReady && !options.isReady()) throw new ServiceError("unavailable", "the model is not ready (starting or shutting down)");
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
        let body: unknown;
        try {
          body = await c.req.json();
        } catch (e) {
          if (e instanceof ServiceError) throw e;
          throw new ServiceError("bad_json", "body: not valid JSON", "body");
        }
        const batch = decode(body);
        rows = batch.batchSize;
        if (options.budgets && key) {
          const decision = await options.budgets.store.consume(key, rows);
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
        const answer = await predictor.predict(batch, { clientId: key });
        const verdict = detection && key && inputs ? await detection.observe(key, inputs, perInput, answer.labels) : undefined;
        const K = info.numClasses;
        const probabilities: number[][] = new Array(rows);
        for (let b = 0; b < rows; b++) probabilities[b] = Array.from(answer.probs.subarray(b * K, (b + 1) * K));
        const seconds = (Date.now() - started) / 1000;
        metrics.recordSuccess(rows, answer.l1, seconds);
        log({
          method: "POST",
          path: c.req.path,
          status: 200,
          ms: Date.now() - started,
          rows,
          ...(verdict ? { verdict: verdict.verdict, ...(verdict.w !== null ? { w: Number(verdict.w.toFixed(4)) } : {}) } : {}),
        });
        return c.json({ probabilities, labels: Array.from(answer.labels) });
      } catch (e) {
        if (spent && key) await options.budgets?.store.refund(key, spent).catch(() => {});
        if (e instanceof ServiceError) return fail(c, e, started, rows, blocked ? "blocked" : undefined);
        const err = new ServiceError("internal", "internal error while answering the query");
        metrics.recordError(err.kind);
        const detail = e instanceof Error ? `${e.name}: ${redactNumbers(e.message)}` : "non-error thrown";
        log({ method: "POST", path: c.req.path, status: err.status, ms: Date.now() - started, rows, error: err.kind, detail });
        return c.json(err.toJSON(), err.status);
      }
    },
  );

  app.all("/v1/predict", (c) =>
    c.json(new ServiceError("not_found", `${c.req.method} /v1/predict: use POST`, "method").toJSON(), 405),
  );

  options.extraRoutes?.(app);

  app.notFound((c) => fail(c, new ServiceError("not_found", `no route ${c.req.method} ${c.req.path}`, "path"), Date.now()));

  app.onError((e, c) => {
    if (e instanceof ServiceError) return fail(c, e, Date.now());
    metrics.recordError("internal");
    log({ method: c.req.method, path: c.req.path, status: 500, ms: 0, error: "internal", detail: `${e.name}: ${redactNumbers(e.message)}` });
    return c.json(new ServiceError("internal", "internal error").toJSON(), 500);
  });

  return app;
}
