// Request validation for POST /v1/predict (valibot), and decoding of a valid body into an InputBatch.
// Two body forms: {"inputs": [nested arrays of the input shape]} and
// {"data": "<base64 little-endian float32>", "shape": [B, ...inputShape], "dtype"?: "float32"}.
// Every rejection names the field (e.g. "inputs[1][27][3][0]"), never echoes more than one value.
import * as v from "valibot";
import type { InputBatch } from "../models/types.js";
import { ServiceError } from "./errors.js";

export interface InputLimits {
  /** Most inputs in one request; more gets a 413. */
  readonly maxBatch: number;
  /** Inclusive range every input value must lie in, e.g. [0, 1] for pixels; null accepts any finite value. */
  readonly inputRange: readonly [number, number] | null;
}

/** Turns a parsed JSON body into an InputBatch, or throws a ServiceError naming the offending field. */
export type BodyDecoder = (body: unknown) => InputBatch;

function pathOf(issue: v.BaseIssue<unknown>, root = ""): string {
  let out = root;
  for (const item of issue.path ?? []) {
    const key = (item as { key: unknown }).key;
    out += typeof key === "number" ? `[${key}]` : out ? `.${String(key)}` : String(key);
  }
  return out || "body";
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value === null) return "null";
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return "a string";
  return typeof value === "object" ? "an object" : typeof value;
}

export const FLOAT32_MAX = 3.4028234663852886e38;

/** Nested-array schema of one input: shape [28, 28, 1] -> array(28) of array(28) of array(1) of finite numbers in the input range. */
function nestedSchema(shape: readonly number[], range: readonly [number, number] | null): v.GenericSchema<unknown> {
  const outside = (i: { input: unknown }) => `${describe(i.input)} is outside the input range [${range![0]}, ${range![1]}]`;
  const value = v.pipe(
    v.number((i) => `expected a number, got ${describe(i.input)}`),
    v.finite((i) => `expected a finite number, got ${describe(i.input)}`),
    // Inputs are float32: a finite double beyond its range (1e39) would become Infinity in the model.
    v.check((x) => Number.isFinite(Math.fround(x)), (i) => `${describe(i.input)} is beyond the float32 range (±${FLOAT32_MAX.toExponential(4)})`),
  );
  // The range is part of the schema, so the OpenAPI description (./openapi.ts) states it as minimum and maximum.
  let inner: v.GenericSchema<unknown> = range ? v.pipe(value, v.minValue(range[0], outside), v.maxValue(range[1], outside)) : value;
  for (let d = shape.length - 1; d >= 0; d--) {
    const n = shape[d];
    inner = v.pipe(
      v.array(inner, (i) => `expected an array of ${n}, got ${describe(i.input)}`),
      v.length(n, (i) => `expected ${n} elements (input shape [${shape.join(", ")}]), got ${(i.input as unknown[]).length}`),
    );
  }
  return inner;
}

/** The two request body forms as valibot schemas: what the decoder validates with, and what ./openapi.ts describes. */
export function bodySchemas(inputShape: readonly number[], limits: InputLimits) {
  const shapeText = `[${inputShape.join(", ")}]`;
  const nested = v.strictObject(
    {
      inputs: v.pipe(
        v.array(nestedSchema(inputShape, limits.inputRange), (i) => `expected an array of inputs, got ${describe(i.input)}`),
        v.minLength(1, "empty batch: send at least one input"),
        v.maxLength(limits.maxBatch, (i) => `batch of ${(i.input as unknown[]).length} inputs is over the limit of ${limits.maxBatch}`),
        v.description(`The inputs, each nested arrays of the input shape ${shapeText}.`),
      ),
    },
    (i) => (i.expected === "never" ? `unknown field` : `expected a JSON object, got ${describe(i.input)}`),
  );
  const base64 = v.strictObject(
    {
      data: v.pipe(
        v.string((i) => `expected a base64 string, got ${describe(i.input)}`),
        v.description(`Base64 of the batch's float32 values, little-endian, row-major: shape[0] x ${inputShape.reduce((a, b) => a * b, 1)} values (4 bytes each), every one finite${limits.inputRange ? ` and in [${limits.inputRange[0]}, ${limits.inputRange[1]}]` : ""}.`),
      ),
      shape: v.pipe(
        v.array(
          v.pipe(
            v.number((i) => `expected an integer, got ${describe(i.input)}`),
            v.integer((i) => `expected an integer, got ${describe(i.input)}`),
            v.minValue(1, (i) => `expected a positive size, got ${describe(i.input)}`),
          ),
          (i) => `expected an array of sizes, got ${describe(i.input)}`,
        ),
        v.length(inputShape.length + 1, (i) => `expected [batch, ...${shapeText}] (${inputShape.length + 1} sizes), got ${(i.input as unknown[]).length} sizes`),
        v.description(`[batch, ${inputShape.join(", ")}]: the batch size (at most ${limits.maxBatch}), then the input shape.`),
      ),
      dtype: v.optional(v.literal("float32", (i) => `only "float32" is supported, got ${JSON.stringify(i.input)}`)),
    },
    (i) => (i.expected === "never" ? `unknown field` : `expected a JSON object, got ${describe(i.input)}`),
  );
  return { nested, base64 };
}

/** Builds the decoder for a model's input shape and the configured limits. */
export function createBodyDecoder(inputShape: readonly number[], limits: InputLimits): BodyDecoder {
  const perInput = inputShape.reduce((a, b) => a * b, 1);
  const shapeText = `[${inputShape.join(", ")}]`;
  const { nested: nestedBody, base64: base64Body } = bodySchemas(inputShape, limits);

  function fail(issues: [v.BaseIssue<unknown>, ...v.BaseIssue<unknown>[]]): never {
    const issue = issues[0];
    const field = pathOf(issue);
    const kind = issue.type === "max_length" && field === "inputs" ? "too_large" : "validation";
    throw new ServiceError(kind, `${field}: ${issue.message}`, field);
  }

  function checkRange(data: Float32Array, fieldOf: (flat: number) => string): void {
    if (!limits.inputRange) return;
    const [lo, hi] = limits.inputRange;
    for (let i = 0; i < data.length; i++) {
      const x = data[i];
      if (!(x >= lo && x <= hi)) {
        const field = fieldOf(i);
        throw new ServiceError("validation", `${field}: ${x} is outside the input range [${lo}, ${hi}]`, field);
      }
    }
  }

  /**
   * The nested form in one pass over the values, accepting exactly what `nestedBody` accepts (the schema walk
   * costs ~1 µs per value: 50 ms for 64 digits). null when anything is off: the schema then names the fault.
   */
  function readNested(body: object): InputBatch | null {
    const keys = Object.keys(body);
    if (keys.length !== 1) return null;
    const inputs = (body as { inputs: unknown }).inputs;
    if (!Array.isArray(inputs) || inputs.length < 1 || inputs.length > limits.maxBatch) return null;
    const data = new Float32Array(inputs.length * perInput);
    const [lo, hi] = limits.inputRange ?? [-Infinity, Infinity];
    let k = 0;
    const walk = (node: unknown, depth: number): boolean => {
      if (!Array.isArray(node) || node.length !== inputShape[depth]) return false;
      if (depth === inputShape.length - 1) {
        for (let i = 0; i < node.length; i++) {
          const x = node[i];
          // typeof, then the float32 range (which also refuses NaN and ±Infinity), then the input range.
          if (typeof x !== "number" || !Number.isFinite(Math.fround(x)) || !(x >= lo && x <= hi)) return false;
          data[k++] = x;
        }
        return true;
      }
      for (let i = 0; i < node.length; i++) if (!walk(node[i], depth + 1)) return false;
      return true;
    };
    for (let b = 0; b < inputs.length; b++) if (!walk(inputs[b], 0)) return null;
    return { data, batchSize: inputs.length, inputShape };
  }

  function decodeBase64(body: { data: string; shape: number[] }): InputBatch {
    const [batchSize, ...rest] = body.shape;
    for (let d = 0; d < inputShape.length; d++) {
      if (rest[d] !== inputShape[d]) {
        throw new ServiceError("validation", `shape[${d + 1}]: expected ${inputShape[d]} (input shape ${shapeText}), got ${rest[d]}`, `shape[${d + 1}]`);
      }
    }
    if (batchSize > limits.maxBatch) {
      throw new ServiceError("too_large", `shape[0]: batch of ${batchSize} inputs is over the limit of ${limits.maxBatch}`, "shape[0]");
    }
    let binary: string;
    try {
      binary = atob(body.data);
    } catch {
      throw new ServiceError("validation", "data: not valid base64", "data");
    }
    const expected = batchSize * perInput * 4;
    if (binary.length !== expected) {
      throw new ServiceError(
        "validation",
        `data: expected ${expected} bytes (${batchSize} x ${perInput} float32), got ${binary.length}`,
        "data",
      );
    }
    const bytes = new Uint8Array(expected);
    for (let i = 0; i < expected; i++) bytes[i] = binary.charCodeAt(i);
    const data = littleEndian ? new Float32Array(bytes.buffer) : fromLittleEndian(bytes);
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) {
        const b = Math.floor(i / perInput);
        throw new ServiceError("validation", `data: element ${i} (input ${b}, offset ${i % perInput}) is ${data[i]}, not a finite number`, "data");
      }
    }
    checkRange(data, (flat) => `data[${flat}]`);
    return { data, batchSize, inputShape };
  }

  return (body: unknown): InputBatch => {
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new ServiceError("validation", `body: expected a JSON object, got ${describe(body)}`, "body");
    }
    if ("data" in body && !("inputs" in body)) {
      const parsed = v.safeParse(base64Body, body, { abortEarly: true });
      if (!parsed.success) fail(parsed.issues);
      return decodeBase64(parsed.output as { data: string; shape: number[] });
    }
    if (!("inputs" in body)) {
      throw new ServiceError(
        "validation",
        `inputs: missing; send {"inputs": [...]} (nested arrays of ${shapeText}) or {"data": "<base64 float32>", "shape": [B, ...${shapeText}]}`,
        "inputs",
      );
    }
    const inputs = (body as { inputs: unknown }).inputs;
    // Refuse an oversized batch before validating each of its inputs.
    if (Array.isArray(inputs) && inputs.length > limits.maxBatch) {
      throw new ServiceError("too_large", `inputs: batch of ${inputs.length} inputs is over the limit of ${limits.maxBatch}`, "inputs");
    }
    const batch = readNested(body);
    if (batch) return batch;
    // The pass refused it: the schema, which accepts exactly the same bodies (test/service/schema.test.ts), names the fault.
    const parsed = v.safeParse(nestedBody, body, { abortEarly: true });
    if (!parsed.success) fail(parsed.issues);
    throw new ServiceError("internal", "inputs: the one-pass check and the schema disagree on this body", "inputs");
  };
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function fromLittleEndian(bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer);
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** Encodes float32 values as the base64 body form expects (for clients and tests). */
export function encodeFloat32Base64(values: Float32Array): string {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}
