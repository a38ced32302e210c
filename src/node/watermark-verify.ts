// Suspects for `verify`: a model behind this project's HTTP API, or a tfjs model directory. The test
// itself (null rate, p-value, verdict) is src/defenses/watermark-verify.ts.
import type { Suspect } from "../defenses/watermark-verify.js";
import { PredictionPoisoningError } from "../core/errors.js";
import { FileError } from "./errors.js";

export {
  DEFAULT_ALPHA, DEFAULT_MAX_QUERIES, distinctEntries, verifyWatermark, type Suspect, type SuspectAnswers, type VerifyOptions, type VerifyResult,
} from "../defenses/watermark-verify.js";

/** The suspect's probability rows, checked, as labels (argmax) and a row-major array. */
function probabilityAnswers(rows: number[][], K: number, what: string): { labels: Int32Array; probs: Float32Array } {
  const probs = new Float32Array(rows.length * K);
  rows.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== K) throw new PredictionPoisoningError("data", `${what}: probabilities row ${i} has ${Array.isArray(row) ? row.length : "no"} values, expected ${K}`);
    row.forEach((p, k) => {
      if (typeof p !== "number" || !Number.isFinite(p)) throw new PredictionPoisoningError("data", `${what}: probabilities row ${i} entry ${k} is ${JSON.stringify(p)}, expected a finite number`);
      probs[i * K + k] = p;
    });
  });
  return { labels: argmaxRows(probs, rows.length, K), probs };
}

import { argmaxRows } from "../models/argmax.js";

function nested(data: Float32Array, shape: readonly number[], offset = 0): unknown {
  if (shape.length === 0) return data[offset];
  const [d, ...rest] = shape;
  const step = rest.reduce((a, b) => a * b, 1);
  return Array.from({ length: d }, (_, i) => nested(data, rest, offset + i * step));
}

/** A suspect behind this project's HTTP API (POST /v1/predict, {"inputs": [...]} in). */
export function httpSuspect(url: string, numClasses: number, headers: Record<string, string> = {}): Suspect {
  const endpoint = /\/v1\/predict\/?$/.test(url) ? url : `${url.replace(/\/+$/, "")}/v1/predict`;
  return async (batch) => {
    const size = batch.inputShape.reduce((a, b) => a * b, 1);
    const inputs = Array.from({ length: batch.batchSize }, (_, i) => nested(batch.data, batch.inputShape, i * size));
    let res: Response;
    try {
      res = await fetch(endpoint, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ inputs }) });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new PredictionPoisoningError("unavailable", `suspect ${endpoint}: cannot reach it (${cause?.code ?? cause?.message ?? (e as Error).message})`, { field: endpoint });
    }
    const text = await res.text();
    if (!res.ok) throw new PredictionPoisoningError("data", `suspect ${endpoint}: HTTP ${res.status}: ${text.slice(0, 200)}`);
    let body: { probabilities?: number[][]; labels?: number[] };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new PredictionPoisoningError("data", `suspect ${endpoint}: the answer is not JSON`);
    }
    if (Array.isArray(body.probabilities)) {
      if (body.probabilities.length !== batch.batchSize) throw new PredictionPoisoningError("data", `suspect ${endpoint}: ${body.probabilities.length} answers for ${batch.batchSize} inputs`);
      return probabilityAnswers(body.probabilities, numClasses, `suspect ${endpoint}`);
    }
    if (Array.isArray(body.labels)) {
      if (body.labels.length !== batch.batchSize) throw new PredictionPoisoningError("data", `suspect ${endpoint}: ${body.labels.length} labels for ${batch.batchSize} inputs`);
      const labels = Int32Array.from(body.labels, (l, i) => {
        if (!Number.isInteger(l) || l < 0 || l >= numClasses) throw new PredictionPoisoningError("data", `suspect ${endpoint}: label ${i} is ${JSON.stringify(l)}, expected an integer in [0, ${numClasses})`);
        return l;
      });
      return { labels };
    }
    throw new PredictionPoisoningError("data", `suspect ${endpoint}: the answer has neither "probabilities" nor "labels"`);
  };
}

/** A suspect tfjs model directory, on the WASM backend. */
export async function modelDirSuspect(
  dir: string,
  inputShape: readonly number[],
  numClasses: number,
  outputs: "logits" | "probabilities" = "logits",
): Promise<{ suspect: Suspect; dispose: () => void }> {
  const { modelExists, loadModelFromDir } = await import("./model-files.js");
  if (!modelExists(dir)) throw new FileError(dir, `suspect ${dir}: no model.json there (give a tfjs model directory or an http(s) URL)`, "not-found");
  const { initBackend } = await import("../models/backend.js");
  const { TfjsClassifier } = await import("../models/tfjs-model.js");
  await initBackend();
  const model = new TfjsClassifier(await loadModelFromDir(dir), { outputs });
  if (model.inputShape.join("x") !== inputShape.join("x")) {
    model.dispose();
    throw new FileError(dir, `suspect ${dir}: takes inputs of shape [${model.inputShape}], the watermark log holds [${inputShape}]`);
  }
  if (model.numClasses !== numClasses) {
    model.dispose();
    throw new FileError(dir, `suspect ${dir}: has ${model.numClasses} classes, the watermark log ${numClasses}`);
  }
  return {
    suspect: async (batch) => {
      const probs = await model.predict(batch);
      return { labels: argmaxRows(probs, batch.batchSize, numClasses), probs };
    },
    dispose: () => model.dispose(),
  };
}
