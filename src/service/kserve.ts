// The KServe v2 (Open Inference Protocol) face of the service (`serve --protocol kserve-v2`): clients that
// spoke to a KServe, Triton or TorchServe model keep their requests and get the defended probabilities in
// the same format. POST /v2/models/{name}/infer takes {"inputs": [{"name", "shape", "datatype", "data"}]} and
// answers {"model_name", "outputs": [{"name", "shape", "datatype": "FP32", "data"}]}; errors are
// {"error": "<message>"} as the protocol has them. Edge-safe: no `node:` imports.
import * as v from "valibot";
import type { InputBatch } from "../models/types.js";
import { ServiceError } from "./errors.js";
import type { ServedModelInfo } from "./predictor.js";

export interface KserveOptions {
  /** The model's name in the routes: /v2/models/{name}. */
  readonly modelName: string;
  /** The name of the one output tensor answered. Default "probabilities". */
  readonly outputName?: string;
}

export const servedProtocols = ["kserve-v2"] as const;
export type ServedProtocol = (typeof servedProtocols)[number];

const FLOAT32_MAX = 3.4028234663852886e38;

function describe(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value === null) return "null";
  if (typeof value === "number") return String(value);
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

const invalid = (field: string, message: string) => new ServiceError("validation", `${field}: ${message}`, field);

/** Decodes an inference request of one FP32 input tensor of shape [B, ...inputShape] (data flat or nested). */
export function createKserveDecoder(
  inputShape: readonly number[],
  limits: { readonly maxBatch: number; readonly inputRange: readonly [number, number] | null },
): (body: unknown) => InputBatch {
  const perInput = inputShape.reduce((a, b) => a * b, 1);
  const shapeText = `[B, ${inputShape.join(", ")}]`;
  return (body: unknown): InputBatch => {
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw invalid("body", `expected a JSON object, got ${describe(body)}`);
    const inputs = (body as { inputs?: unknown }).inputs;
    if (!Array.isArray(inputs)) throw invalid("inputs", `expected an array of one input tensor, got ${inputs === undefined ? "nothing" : describe(inputs)}`);
    if (inputs.length !== 1) throw invalid("inputs", `expected one input tensor, got ${inputs.length}`);
    const tensor = inputs[0] as Record<string, unknown> | null;
    if (typeof tensor !== "object" || tensor === null || Array.isArray(tensor)) throw invalid("inputs[0]", `expected a tensor object, got ${describe(tensor)}`);
    if (typeof tensor.name !== "string") throw invalid("inputs[0].name", `expected a string, got ${describe(tensor.name)}`);
    if (tensor.datatype !== "FP32" && tensor.datatype !== "FP64") throw invalid("inputs[0].datatype", `expected "FP32", got ${JSON.stringify(tensor.datatype ?? null)}`);
    const shape = tensor.shape;
    if (!Array.isArray(shape) || shape.length !== inputShape.length + 1 || shape.some((d) => !Number.isInteger(d) || (d as number) < 1)) {
      throw invalid("inputs[0].shape", `expected ${shapeText} (positive integers), got ${Array.isArray(shape) ? `[${shape.map(describe).join(", ")}]` : describe(shape)}`);
    }
    for (let d = 0; d < inputShape.length; d++) {
      if (shape[d + 1] !== inputShape[d]) throw invalid(`inputs[0].shape[${d + 1}]`, `expected ${inputShape[d]} (input shape ${shapeText}), got ${shape[d + 1]}`);
    }
    const batchSize = shape[0] as number;
    if (batchSize > limits.maxBatch) throw new ServiceError("too_large", `inputs[0].shape[0]: batch of ${batchSize} inputs is over the limit of ${limits.maxBatch}`, "inputs[0].shape[0]");
    if (!Array.isArray(tensor.data)) throw invalid("inputs[0].data", `expected an array of ${batchSize * perInput} numbers, got ${describe(tensor.data)}`);
    const values = tensor.data.some(Array.isArray) ? (tensor.data.flat(inputShape.length + 1) as unknown[]) : tensor.data;
    if (values.length !== batchSize * perInput) {
      throw invalid("inputs[0].data", `expected ${batchSize * perInput} values (${batchSize} x ${perInput}), got ${values.length}`);
    }
    const data = new Float32Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const x = values[i];
      const field = `inputs[0].data[${i}]`;
      if (typeof x !== "number" || !Number.isFinite(x)) throw invalid(field, `expected a finite number, got ${describe(x)}`);
      if (!Number.isFinite(Math.fround(x))) throw invalid(field, `${x} is beyond the float32 range (±${FLOAT32_MAX.toExponential(4)})`);
      if (limits.inputRange && !(x >= limits.inputRange[0] && x <= limits.inputRange[1])) {
        throw invalid(field, `${x} is outside the input range [${limits.inputRange[0]}, ${limits.inputRange[1]}]`);
      }
      data[i] = x;
    }
    return { data, batchSize, inputShape };
  };
}

/**
 * The inference request as a valibot schema, for the OpenAPI description (./openapi.ts): the decoder above checks
 * the same rules by hand (its messages name KServe's fields); test/service/openapi.test.ts holds the two to agreeing.
 * Beyond it, the decoder checks that `data` holds shape[0] x the input size values.
 */
export function kserveRequestSchema(inputShape: readonly number[], limits: { readonly maxBatch: number; readonly inputRange: readonly [number, number] | null }) {
  const finite = v.pipe(v.number(), v.finite(), v.check((x) => Number.isFinite(Math.fround(x)), "beyond the float32 range"));
  const value = limits.inputRange ? v.pipe(finite, v.minValue(limits.inputRange[0]), v.maxValue(limits.inputRange[1])) : finite;
  const tensor = v.looseObject({
    name: v.string(),
    // FP64 values are taken too (and answered as FP32).
    datatype: v.picklist(["FP32", "FP64"]),
    shape: v.pipe(
      v.strictTuple([v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(limits.maxBatch)), ...inputShape.map((d) => v.literal(d))]),
      v.description(`[batch, ${inputShape.join(", ")}]: the batch size (at most ${limits.maxBatch}), then the input shape.`),
    ),
    data: v.pipe(
      v.array(v.union([value, v.array(v.unknown())])),
      v.description(`shape[0] x ${inputShape.reduce((a, b) => a * b, 1)} values, row-major: flat, or nested as the shape (every value a finite number${limits.inputRange ? ` in [${limits.inputRange[0]}, ${limits.inputRange[1]}]` : ""}).`),
    ),
  });
  return v.looseObject({
    id: v.optional(v.pipe(v.string(), v.description("Echoed in the answer."))),
    inputs: v.pipe(v.array(tensor), v.length(1), v.description("One input tensor.")),
  });
}

/** The inference response: one FP32 output of the defended probabilities, B x K (and the request's id, echoed). */
export function kserveResponse(options: KserveOptions, probs: Float32Array, batchSize: number, numClasses: number, requestBody: unknown): Record<string, unknown> {
  const id = (requestBody as { id?: unknown } | null)?.id;
  return {
    model_name: options.modelName,
    ...(typeof id === "string" ? { id } : {}),
    outputs: [{ name: options.outputName ?? "probabilities", shape: [batchSize, numClasses], datatype: "FP32", data: Array.from(probs) }],
  };
}

/** GET /v2/models/{name}: the model's metadata. */
export function kserveMetadata(options: KserveOptions, info: ServedModelInfo): Record<string, unknown> {
  return {
    name: options.modelName,
    versions: [],
    platform: "prediction-poisoning",
    inputs: [{ name: "input", datatype: "FP32", shape: [-1, ...info.inputShape] }],
    outputs: [{ name: options.outputName ?? "probabilities", datatype: "FP32", shape: [-1, info.numClasses] }],
  };
}

/** KServe's error body. */
export const kserveError = (err: ServiceError): { error: string } => ({ error: err.message });
