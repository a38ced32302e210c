// The defense as a sidecar in front of an existing model server (`serve --upstream URL`): the victim is a
// KServe v2 (KServe, Triton, TorchServe's v2 API), TF Serving or plain JSON endpoint, asked over HTTP for
// each batch. Its answers are validated (shape, number of classes, finite, on the simplex) before the defense
// sees them; any failure is a 502 or 504 ServiceError naming what was wrong, never the raw answer. Edge-safe:
// the global fetch with an AbortSignal timeout, no `node:` imports.
import { PredictionPoisoningError } from "../core/errors.js";
import { DefendedModel } from "../defenses/defended-model.js";
import type { VictimFunction } from "../defenses/defended-model.js";
import type { Defense } from "../defenses/defense.js";
import type { InputBatch } from "../models/types.js";
import { defendedPredictor } from "./defended.js";
import { ServiceError } from "./errors.js";
import type { Predictor, UpstreamInfo } from "./predictor.js";

export const upstreamProtocols = ["kserve-v2", "tfserving", "json"] as const;
export type UpstreamProtocol = (typeof upstreamProtocols)[number];

export interface UpstreamOptions {
  /** kserve-v2 and tfserving: the server's base URL (`http://triton:8000`); json: the endpoint itself. May carry
   * `user:password@` (sent as HTTP Basic auth, never shown) and a query (kept on every request, never shown). */
  readonly url: string;
  readonly protocol: UpstreamProtocol;
  /** The model's name in the upstream's routes (kserve-v2, tfserving). */
  readonly model?: string;
  /** kserve-v2: the name of the input tensor the sidecar sends. Default "input". */
  readonly inputName?: string;
  /** kserve-v2: the output tensor to read (and to ask for). Default: the first one the upstream answers. */
  readonly outputName?: string;
  /** What the upstream answers (kserve-v2, tfserving): logits (a softmax is applied) or probabilities. A json
   * upstream says which by its answer's key, "logits" or "probabilities". */
  readonly outputs: "logits" | "probabilities";
  /** Per-input shape the upstream takes, e.g. [28, 28, 1]. */
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  /** A call that has not answered (body included) after this long fails with 504. Default 10 s. */
  readonly timeoutMs?: number;
  /** Largest answer read from the upstream (502 above). Default 16 MiB. */
  readonly maxResponseBytes?: number;
}

export const defaultUpstreamTimeoutMs = 10_000;
const defaultMaxResponseBytes = 16 * 1024 * 1024;
/** How far a row of upstream probabilities may sum from 1 (float32 rounding of a softmax over many classes). */
const upstreamSimplexTolerance = 1e-3;

/** The URL without userinfo, query or fragment: what /v1/model and the logs show. */
export function redactUpstreamUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "<unparsable URL>";
  }
}

/** Checks the options (config errors naming the option; the CLI makes them exit code 2); returns them with defaults filled in. */
export function checkUpstreamOptions(options: UpstreamOptions): UpstreamOptions {
  let u: URL;
  try {
    u = new URL(options.url);
  } catch {
    throw new PredictionPoisoningError("config", `upstream URL "${redactUpstreamUrl(options.url)}" is not a URL (expected http://host:port/...)`, { field: "url" });
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new PredictionPoisoningError("config", `upstream URL: expected http:// or https://, got ${u.protocol}//`, { field: "url" });
  if (!(upstreamProtocols as readonly string[]).includes(options.protocol)) {
    throw new PredictionPoisoningError("config", `upstream protocol must be one of ${upstreamProtocols.join(", ")}, got ${String(options.protocol)}`, { field: "protocol" });
  }
  if (options.protocol !== "json" && !options.model) throw new PredictionPoisoningError("config", `the ${options.protocol} protocol addresses a model by name: give the upstream model's name`, { field: "model" });
  if (options.inputShape.length === 0 || options.inputShape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new PredictionPoisoningError("config", `input shape must be positive integers, got [${options.inputShape.join(", ")}]`, { field: "inputShape" });
  }
  if (!(Number.isInteger(options.numClasses) && options.numClasses >= 2)) throw new PredictionPoisoningError("config", `number of classes must be an integer >= 2, got ${options.numClasses}`, { field: "numClasses" });
  const timeoutMs = options.timeoutMs ?? defaultUpstreamTimeoutMs;
  if (!(Number.isInteger(timeoutMs) && timeoutMs >= 1)) throw new PredictionPoisoningError("config", `upstream timeout must be a positive number of milliseconds, got ${timeoutMs}`, { field: "timeoutMs" });
  return { ...options, timeoutMs, inputName: options.inputName ?? "input" };
}

/** What GET /v1/model says about the upstream: never its credentials or query. */
export function describeUpstream(options: UpstreamOptions): UpstreamInfo {
  return {
    protocol: options.protocol,
    url: redactUpstreamUrl(options.url),
    ...(options.model ? { model: options.model } : {}),
    outputs: options.protocol === "json" ? "as answered" : options.outputs,
    timeoutMs: options.timeoutMs ?? defaultUpstreamTimeoutMs,
  };
}

/** Latin-1 safe base64 of UTF-8 text (btoa alone refuses characters above U+00FF). */
function base64Utf8(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** The URL each call is posted to (userinfo removed: fetch refuses it) and the headers that carry it instead. */
export function upstreamEndpoint(options: UpstreamOptions): { url: string; headers: Record<string, string> } {
  const u = new URL(options.url);
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
  if (u.username || u.password) {
    headers.authorization = `Basic ${base64Utf8(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`)}`;
    u.username = "";
    u.password = "";
  }
  const base = u.pathname.replace(/\/+$/, "");
  const model = encodeURIComponent(options.model ?? "");
  if (options.protocol === "kserve-v2") u.pathname = `${base}/v2/models/${model}/infer`;
  else if (options.protocol === "tfserving") u.pathname = `${base}/v1/models/${model}:predict`;
  u.hash = "";
  return { url: u.toString(), headers };
}

/** Row-major values of `shape` from `offset` as nested arrays (the form TF Serving and JSON APIs take). */
function nest(data: Float32Array, offset: number, shape: readonly number[]): unknown[] {
  const [n, ...rest] = shape;
  if (rest.length === 0) return Array.from(data.subarray(offset, offset + n));
  const step = rest.reduce((a, b) => a * b, 1);
  return Array.from({ length: n }, (_, i) => nest(data, offset + i * step, rest));
}

/** The request body of one batch, in the upstream's protocol. */
export function upstreamRequestBody(options: UpstreamOptions, batch: InputBatch): string {
  const perInput = options.inputShape.reduce((a, b) => a * b, 1);
  const instances = () => Array.from({ length: batch.batchSize }, (_, b) => nest(batch.data, b * perInput, options.inputShape));
  switch (options.protocol) {
    case "kserve-v2":
      return JSON.stringify({
        inputs: [{ name: options.inputName ?? "input", shape: [batch.batchSize, ...options.inputShape], datatype: "FP32", data: Array.from(batch.data) }],
        ...(options.outputName ? { outputs: [{ name: options.outputName }] } : {}),
      });
    case "tfserving":
      return JSON.stringify({ instances: instances() });
    case "json":
      return JSON.stringify({ inputs: instances() });
  }
}

const malformed = (what: string) => new ServiceError("bad_upstream", `the upstream model server's answer is malformed: ${what}`, undefined, "malformed");

function describeValue(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value === null) return "null";
  if (typeof value === "number") return "a number";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/** B rows of K values each, from an array of rows. */
function rowsOf(rows: unknown, field: string, B: number, K: number): unknown[] {
  if (!Array.isArray(rows)) throw malformed(`${field} is ${describeValue(rows)}, expected an array of ${B} rows`);
  if (rows.length !== B) throw malformed(`${field} has ${rows.length} rows, expected ${B} (one per input)`);
  const out: unknown[] = [];
  rows.forEach((row, b) => {
    if (!Array.isArray(row)) throw malformed(`${field}[${b}] is ${describeValue(row)}, expected an array of ${K} values`);
    if (row.length !== K) throw malformed(`${field}[${b}] has ${row.length} values, expected ${K} (one per class)`);
    out.push(...row);
  });
  return out;
}

function flatten(value: unknown[]): unknown[] {
  return value.some(Array.isArray) ? (value.flat(Infinity) as unknown[]) : value;
}

/** The answer's B x K values (row-major, unchecked) and whether they are logits, per protocol. */
function extract(options: UpstreamOptions, body: unknown, B: number): { values: unknown[]; field: (i: number) => string; logits: boolean } {
  const K = options.numClasses;
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw malformed(`expected a JSON object, got ${describeValue(body)}`);
  const answer = body as Record<string, unknown>;
  const rowField = (name: string) => (i: number) => `${name}[${Math.floor(i / K)}][${i % K}]`;
  switch (options.protocol) {
    case "kserve-v2": {
      const outputs = answer.outputs;
      if (!Array.isArray(outputs) || outputs.length === 0) throw malformed(`outputs is ${describeValue(outputs)}, expected an array of output tensors`);
      const at = options.outputName ? outputs.findIndex((o) => (o as { name?: unknown } | null)?.name === options.outputName) : 0;
      if (at < 0) {
        const names = outputs.map((o) => JSON.stringify((o as { name?: unknown } | null)?.name ?? null)).join(", ");
        throw malformed(`no output named ${JSON.stringify(options.outputName)} (it answered ${names})`);
      }
      const tensor = outputs[at] as Record<string, unknown> | null;
      const name = `outputs[${at}]`;
      if (typeof tensor !== "object" || tensor === null) throw malformed(`${name} is ${describeValue(tensor)}, expected a tensor`);
      const shape = tensor.shape;
      const expected = `[${B}, ${K}] (${B} inputs, ${K} classes)`;
      if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d))) throw malformed(`${name}.shape is ${describeValue(shape)}, expected ${expected}`);
      if (shape.length !== 2 || shape[0] !== B || shape[1] !== K) throw malformed(`${name}.shape is [${shape.join(", ")}], expected ${expected}`);
      if (tensor.datatype !== undefined && !["FP16", "FP32", "FP64"].includes(tensor.datatype as string)) {
        throw malformed(`${name}.datatype is ${JSON.stringify(tensor.datatype)}, expected FP32 (or FP16, FP64)`);
      }
      if (!Array.isArray(tensor.data)) throw malformed(`${name}.data is ${describeValue(tensor.data)}, expected ${B * K} numbers`);
      const values = flatten(tensor.data);
      if (values.length !== B * K) throw malformed(`${name}.data has ${values.length} values, expected ${B * K} (${B} x ${K})`);
      return { values, field: (i) => `${name}.data[${i}]`, logits: options.outputs === "logits" };
    }
    case "tfserving": {
      if (!("predictions" in answer)) throw malformed(`no "predictions" field (TF Serving answers {"predictions": [...]})`);
      return { values: rowsOf(answer.predictions, "predictions", B, K), field: rowField("predictions"), logits: options.outputs === "logits" };
    }
    case "json": {
      const has = (k: string) => k in answer;
      if (has("probabilities") === has("logits")) {
        throw malformed(has("logits") ? `it has both "probabilities" and "logits"` : `expected {"probabilities": [[...]]} or {"logits": [[...]]}`);
      }
      const key = has("logits") ? "logits" : "probabilities";
      return { values: rowsOf(answer[key], key, B, K), field: rowField(key), logits: key === "logits" };
    }
  }
}

/** Checks the values and turns them into B x K probabilities (a softmax of logits; probabilities renormalised). */
export function upstreamProbabilities(options: UpstreamOptions, body: unknown, B: number): Float32Array {
  const K = options.numClasses;
  const { values, field, logits } = extract(options, body, B);
  const row = new Float64Array(K);
  const out = new Float32Array(B * K);
  for (let b = 0; b < B; b++) {
    let max = -Infinity;
    let sum = 0;
    for (let k = 0; k < K; k++) {
      const x = values[b * K + k];
      // The message says what is wrong, never the value itself (no part of the undefended answer leaves).
      if (typeof x !== "number") throw malformed(`${field(b * K + k)} is ${describeValue(x)}, not a number`);
      if (!Number.isFinite(x)) throw malformed(`${field(b * K + k)} is not a finite number`);
      if (!logits && x < 0) throw malformed(`${field(b * K + k)} is a negative probability`);
      row[k] = x;
      max = Math.max(max, x);
      sum += x;
    }
    if (logits) {
      sum = 0;
      for (let k = 0; k < K; k++) sum += row[k] = Math.exp(row[k] - max);
    } else if (!(Math.abs(sum - 1) <= upstreamSimplexTolerance)) {
      throw malformed(`row ${b} of probabilities does not sum to 1 (are they logits? then the upstream's outputs are logits, not probabilities)`);
    }
    for (let k = 0; k < K; k++) out[b * K + k] = row[k] / sum;
  }
  return out;
}

const networkCauses: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  UND_ERR_SOCKET: "the connection closed before the answer",
  UND_ERR_CONNECT_TIMEOUT: "connect timeout",
};

function isTimeout(e: unknown, signal: AbortSignal): boolean {
  const name = (e as { name?: unknown } | null)?.name;
  return name === "TimeoutError" || (signal.aborted && (signal.reason as { name?: unknown } | undefined)?.name === "TimeoutError");
}

function unreachable(e: unknown): ServiceError {
  const cause = (e as { cause?: { code?: unknown; name?: unknown } } | null)?.cause;
  const code = typeof cause?.code === "string" ? cause.code : undefined;
  const why = (code && networkCauses[code]) ?? code ?? (typeof cause?.name === "string" ? cause.name : (e as Error)?.name ?? "network error");
  return new ServiceError("bad_upstream", `the upstream model server cannot be reached (${why})`, undefined, "unreachable");
}

/** Reads at most `limit` bytes of the answer as text, or fails with 502. */
async function readBounded(response: Response, limit: number): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (bytes > limit) {
      await reader.cancel().catch(() => {});
      throw new ServiceError("bad_upstream", `the upstream model server's answer is over ${limit} bytes`, undefined, "malformed");
    }
    text += decoder.decode(value, { stream: true });
  }
  return text + decoder.decode();
}

/**
 * The upstream as the defended model's victim: a batch in, B x K checked probabilities out. Throws a
 * ServiceError: `upstream_timeout` (504) past the timeout, `bad_upstream` (502) otherwise (unreachable, an
 * HTTP error, not JSON, malformed). `fetchImpl` is for tests.
 */
export function upstreamVictim(options: UpstreamOptions, fetchImpl: typeof fetch = (input, init) => fetch(input, init)): VictimFunction {
  const checked = checkUpstreamOptions(options);
  const { url, headers } = upstreamEndpoint(checked);
  const timeoutMs = checked.timeoutMs!;
  const limit = checked.maxResponseBytes ?? defaultMaxResponseBytes;
  const timedOut = () => new ServiceError("upstream_timeout", `the upstream model server did not answer within ${timeoutMs} ms`);
  return async (batch: InputBatch): Promise<Float32Array> => {
    const signal = AbortSignal.timeout(timeoutMs);
    let text: string;
    try {
      // A redirect is not followed: it could send the queries somewhere else.
      const response = await fetchImpl(url, { method: "POST", headers, body: upstreamRequestBody(checked, batch), signal, redirect: "manual" });
      if (response.status < 200 || response.status > 299) {
        await response.body?.cancel().catch(() => {});
        const refused = response.status >= 400 && response.status < 500 ? " (it refused the query the sidecar forwarded: the sidecar's model name, input name or input shape may not match the model server's)" : "";
        throw new ServiceError("bad_upstream", `the upstream model server answered HTTP ${response.status}${refused}`, undefined, "status");
      }
      text = await readBounded(response, limit);
    } catch (e) {
      if (e instanceof ServiceError) throw e;
      if (isTimeout(e, signal)) throw timedOut();
      throw unreachable(e);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      // Python's json module writes NaN and Infinity, which JSON does not have: say so.
      const hint = /\b(NaN|-?Infinity)\b/.test(text) ? " (it contains NaN or Infinity, which JSON does not allow)" : "";
      throw new ServiceError("bad_upstream", `the upstream model server's answer is not JSON${hint}`, undefined, "not_json");
    }
    return upstreamProbabilities(checked, body, batch.batchSize);
  };
}

export interface UpstreamPredictorOptions {
  readonly upstream: UpstreamOptions;
  /** The defense, built with its proxy of the thief's model (a local model of the upstream's input shape) when it uses one. */
  readonly defense: Defense;
  /** Shown by GET /v1/model; default "upstream <protocol> model <name>". */
  readonly model?: string;
  readonly classes?: readonly string[];
  readonly publishParams?: boolean;
  readonly dispose?: () => void;
  readonly fetch?: typeof fetch;
}

export function upstreamModelName(options: UpstreamOptions): string {
  return `upstream ${options.protocol}${options.model ? ` model ${options.model}` : ""} at ${redactUpstreamUrl(options.url)}`;
}

/** The defense in front of an upstream model server, in process (an edge runtime, or one worker thread of serve). */
export function upstreamPredictor(options: UpstreamPredictorOptions): Predictor {
  const upstream = checkUpstreamOptions(options.upstream);
  const victim = upstreamVictim(upstream, options.fetch);
  const defended = new DefendedModel(victim, options.defense, { numClasses: upstream.numClasses, inputShape: upstream.inputShape });
  return defendedPredictor(defended, {
    model: options.model ?? upstreamModelName(upstream),
    classes: options.classes,
    publishParams: options.publishParams,
    upstream: describeUpstream(upstream),
    dispose: options.dispose,
  });
}
