// The OpenAPI 3.1 description of the HTTP API, served by the app at GET /openapi.json. Request bodies are
// converted (@valibot/to-json-schema) from the valibot schemas that validate them (./schema.ts); answers and
// errors are written as valibot schemas here and converted the same way. It describes the routes of this one
// app as configured (keys, budgets, detection, KServe v2): test/service/openapi.test.ts compares its paths with
// the app's routes. It carries no secret and nothing of a sidecar's upstream (its URL is in `info.model`, which
// is left out): only the input shape, the classes, the limits, the defense's name and the API key header's name.
// Edge-safe: no `node:` imports.
import * as v from "valibot";
import { toJsonSchema } from "@valibot/to-json-schema";
import type { ConversionConfig, JsonSchema } from "@valibot/to-json-schema";
import { errorKinds, errorStatus } from "./errors.js";
import type { ErrorKind } from "./errors.js";
import { kserveRequestSchema } from "./kserve.js";
import type { KserveOptions } from "./kserve.js";
import type { ServedModelInfo } from "./predictor.js";
import { FLOAT32_MAX, bodySchemas } from "./schema.js";
import type { InputLimits } from "./schema.js";

export interface OpenApiOptions {
  readonly info: ServedModelInfo;
  readonly limits: InputLimits & { readonly maxBodyBytes: number };
  /** The header carrying the API key, when keys are required. */
  readonly apiKeyHeader?: string;
  /** With budgets: answers carry x-budget-* headers, and a spent budget is a 429. */
  readonly budgets?: { readonly windowSeconds?: number };
  /** With --detect: "block" refuses a flagged key's queries with 403. */
  readonly detection?: { readonly onDetect: "flag" | "block" };
  readonly kserve?: KserveOptions;
}

type Schema = Record<string, unknown>;

// The float32 range check is the one `check` action in the request schemas; JSON numbers are always finite.
const conversion: ConversionConfig = {
  target: "draft-2020-12",
  overrideAction: ({ valibotAction, jsonSchema }) => {
    if (valibotAction.type === "finite") return jsonSchema;
    if (valibotAction.type === "check") return { ...jsonSchema, minimum: -FLOAT32_MAX, maximum: FLOAT32_MAX };
    return undefined;
  },
};

function jsonSchema(schema: v.GenericSchema<unknown>): Schema {
  const { $schema: _, ...rest } = toJsonSchema(schema, conversion) as JsonSchema & { $schema?: string };
  return rest as Schema;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema) => ({ "application/json": { schema } });

function answerSchemas(info: ServedModelInfo) {
  const K = info.numClasses;
  const classes = info.classes ?? Array.from({ length: K }, (_, i) => String(i));
  const label = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(K - 1));
  const size = v.pipe(v.number(), v.integer());
  return {
    PredictAnswer: v.object({
      probabilities: v.pipe(
        v.array(v.pipe(v.array(v.pipe(v.number(), v.minValue(0), v.maxValue(1))), v.length(K))),
        v.description(`The defended probabilities: one row of ${K} per input (classes ${classes.join(", ")}), each row summing to 1.`),
      ),
      labels: v.pipe(v.array(label), v.description("The top-1 class of each row.")),
    }),
    Error: v.object({
      error: v.object({
        kind: v.picklist(errorKinds.filter((k) => k !== "client_closed")),
        message: v.pipe(v.string(), v.description("What is wrong, naming the field; never echoes more than one value.")),
        field: v.optional(v.pipe(v.string(), v.description('The request field the error is about, e.g. "inputs[0][3][1][0]" or the API key header.'))),
        reason: v.optional(v.pipe(v.string(), v.description('Why a policy refused ("prada": the detector blocked the key; "draining"), or what failed upstream.'))),
      }),
    }),
    Health: v.object({
      status: v.picklist(["ok", "draining", "unavailable"]),
      reason: v.optional(v.pipe(v.string(), v.description("Why not ok, e.g. the budget store (Redis) is unreachable."))),
    }),
    ModelInfo: v.object({
      model: v.nullable(v.string()),
      upstream: v.optional(
        v.pipe(
          v.object({ protocol: v.string(), url: v.string(), model: v.nullable(v.string()), outputs: v.string(), timeoutMs: v.number() }),
          v.description("A sidecar's upstream model server, without credentials or query string."),
        ),
      ),
      inputShape: v.array(size),
      numClasses: size,
      classes: v.array(v.string()),
      defense: v.object({
        name: v.string(),
        keyed: v.boolean(),
        params: v.optional(v.pipe(v.record(v.string(), v.unknown()), v.description("The public parameters, when the operator publishes them."))),
        traits: v.optional(v.record(v.string(), v.boolean())),
      }),
      limits: v.object({ maxBatch: size, maxBodyBytes: size, inputRange: v.nullable(v.tuple([v.number(), v.number()])) }),
      budgets: v.nullable(v.object({ header: v.string(), limit: v.nullable(size), windowSeconds: v.nullable(size) })),
      inputFormats: v.array(v.record(v.string(), v.string())),
    }),
  };
}

function kserveSchemas(info: ServedModelInfo, kserve: KserveOptions) {
  const K = info.numClasses;
  const tensorMeta = v.object({ name: v.string(), datatype: v.string(), shape: v.array(v.pipe(v.number(), v.integer())) });
  return {
    KserveInferResponse: v.object({
      model_name: v.literal(kserve.modelName),
      id: v.optional(v.string()),
      outputs: v.pipe(
        v.array(
          v.object({
            name: v.literal(kserve.outputName ?? "probabilities"),
            shape: v.strictTuple([v.pipe(v.number(), v.integer(), v.minValue(1)), v.literal(K)]),
            datatype: v.literal("FP32"),
            data: v.pipe(v.array(v.pipe(v.number(), v.minValue(0), v.maxValue(1))), v.description(`The defended probabilities, shape[0] x ${K}, row-major.`)),
          }),
        ),
        v.length(1),
      ),
    }),
    KserveError: v.object({ error: v.string() }),
    KserveMetadata: v.object({ name: v.literal(kserve.modelName), versions: v.array(v.string()), platform: v.string(), inputs: v.array(tensorMeta), outputs: v.array(tensorMeta) }),
    KserveServer: v.object({ name: v.string(), version: v.string(), extensions: v.array(v.string()) }),
    KserveLive: v.object({ live: v.boolean() }),
    KserveReady: v.object({ name: v.optional(v.string()), ready: v.boolean() }),
  };
}

/** The OpenAPI 3.1 document of an app configured with these options. */
export function openApiDocument(options: OpenApiOptions): Schema {
  const { info, limits, kserve } = options;
  const bodies = bodySchemas(info.inputShape, limits);
  const schemas: Record<string, Schema> = {
    PredictInputs: jsonSchema(bodies.nested),
    PredictBase64: jsonSchema(bodies.base64),
  };
  for (const [name, schema] of Object.entries(answerSchemas(info))) schemas[name] = jsonSchema(schema);
  if (kserve) {
    schemas.KserveInferRequest = jsonSchema(kserveRequestSchema(info.inputShape, limits));
    for (const [name, schema] of Object.entries(kserveSchemas(info, kserve))) schemas[name] = jsonSchema(schema);
  }

  const keyed = options.apiKeyHeader !== undefined;
  const security = keyed ? { security: [{ apiKey: [] }] } : {};
  // The kinds a query can fail with under this configuration (client_closed never reaches a client).
  const queryKinds: ErrorKind[] = [
    "bad_json", "validation", "too_large",
    ...(keyed ? (["unauthorized"] as const) : []),
    ...(options.detection?.onDetect === "block" ? (["blocked"] as const) : []),
    ...(options.budgets ? (["budget_exhausted"] as const) : []),
    "worker_crash", "internal", "timeout", "unavailable", "overloaded",
    ...(info.upstream ? (["bad_upstream", "upstream_timeout"] as const) : []),
  ];
  const retryAfter = { "retry-after": { description: "Seconds after which a retry may succeed.", schema: { type: "integer" } } };
  const errorResponses = (kinds: readonly ErrorKind[], body: Schema) => {
    const byStatus = new Map<number, ErrorKind[]>();
    for (const kind of kinds) byStatus.set(errorStatus[kind], [...(byStatus.get(errorStatus[kind]) ?? []), kind]);
    return Object.fromEntries(
      [...byStatus].sort(([a], [b]) => a - b).map(([status, ks]) => [
        String(status),
        {
          description: `error kind ${ks.join(", ")}`,
          ...(status === 503 || status === 429 ? { headers: retryAfter } : {}),
          content: json(body),
        },
      ]),
    );
  };
  const budgetHeaders = options.budgets
    ? {
        headers: {
          "x-budget-limit": { description: "Inputs the key may query (per window).", schema: { type: "integer" } },
          "x-budget-remaining": {
            description: `Inputs the key has left${options.budgets.windowSeconds ? ` in this window (budgets reset every ${options.budgets.windowSeconds} s)` : " (a lifetime budget)"}.`,
            schema: { type: "integer" },
          },
        },
      }
    : {};
  const shapeText = `[${info.inputShape.join(", ")}]`;

  const paths: Record<string, Schema> = {
    "/v1/predict": {
      post: {
        operationId: "predict",
        summary: "Defended predictions for a batch of inputs",
        description: `Up to ${limits.maxBatch} inputs of shape ${shapeText} per request, as nested arrays or base64 float32; bodies of at most ${limits.maxBodyBytes} bytes.`,
        ...security,
        requestBody: { required: true, content: json({ oneOf: [ref("PredictInputs"), ref("PredictBase64")] }) },
        responses: {
          "200": { description: "The defended probabilities and their top-1 labels.", ...budgetHeaders, content: json(ref("PredictAnswer")) },
          ...errorResponses(queryKinds, ref("Error")),
        },
      },
    },
    "/v1/model": {
      get: { operationId: "model", summary: "The served model's input shape, classes, defense, limits and budget settings", responses: { "200": { description: "The model's facts.", content: json(ref("ModelInfo")) } } },
    },
    "/healthz": {
      get: {
        operationId: "health",
        summary: "Whether queries can be answered now",
        responses: {
          "200": { description: "ok", content: json(ref("Health")) },
          "503": { description: "unavailable (no model worker, a Redis store unreachable) or draining (shutting down)", content: json(ref("Health")) },
        },
      },
    },
    "/metrics": {
      get: {
        operationId: "metrics",
        summary: "Prometheus metrics (keep on an internal network)",
        responses: { "200": { description: "The Prometheus text exposition format 0.0.4.", content: { "text/plain": { schema: { type: "string" } } } } },
      },
    },
    "/openapi.json": {
      get: { operationId: "openapi", summary: "This description", responses: { "200": { description: "The OpenAPI 3.1 document.", content: json({ type: "object" }) } } },
    },
  };

  if (kserve) {
    const name = { name: "name", in: "path", required: true, description: "The model's name.", schema: { type: "string", enum: [kserve.modelName] } };
    const notFound = { "404": { description: "error kind not_found: no model of that name", content: json(ref("KserveError")) } };
    const ready = { "200": { description: "ready", content: json(ref("KserveReady")) }, "503": { description: "not ready (as /healthz)", content: json(ref("KserveReady")) } };
    Object.assign(paths, {
      "/v2/health/live": { get: { operationId: "kserveLive", summary: "KServe v2: the server is live", responses: { "200": { description: "live", content: json(ref("KserveLive")) } } } },
      "/v2/health/ready": { get: { operationId: "kserveReady", summary: "KServe v2: the server is ready", responses: ready } },
      "/v2": { get: { operationId: "kserveServer", summary: "KServe v2: server metadata", responses: { "200": { description: "The server's metadata.", content: json(ref("KserveServer")) } } } },
      "/v2/models/{name}": {
        get: { operationId: "kserveModel", summary: "KServe v2: model metadata", parameters: [name], responses: { "200": { description: "The model's metadata.", content: json(ref("KserveMetadata")) }, ...notFound } },
      },
      "/v2/models/{name}/ready": { get: { operationId: "kserveModelReady", summary: "KServe v2: the model is ready", parameters: [name], responses: { ...ready, ...notFound } } },
      "/v2/models/{name}/infer": {
        post: {
          operationId: "kserveInfer",
          summary: "KServe v2 inference: the defended probabilities",
          description: `One FP32 input tensor of shape [B, ${info.inputShape.join(", ")}], B at most ${limits.maxBatch}; through the same keys, budgets and detection as /v1/predict.`,
          ...security,
          parameters: [name],
          requestBody: { required: true, content: json(ref("KserveInferRequest")) },
          responses: {
            "200": { description: "The defended probabilities as one output tensor.", ...budgetHeaders, content: json(ref("KserveInferResponse")) },
            ...errorResponses(["not_found", ...queryKinds], ref("KserveError")),
          },
        },
      },
    });
  }

  return {
    openapi: "3.1.0",
    info: {
      title: "prediction-poisoning prediction API",
      version: "0.1.0",
      description: `Predictions defended by ${info.defense.name} against model stealing: ${info.numClasses} classes, inputs of shape ${shapeText}.`,
    },
    paths,
    components: {
      schemas,
      ...(keyed ? { securitySchemes: { apiKey: { type: "apiKey", in: "header", name: options.apiKeyHeader } } } : {}),
    },
  };
}
