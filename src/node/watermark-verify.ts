// Ownership verification for DAWN watermarks: query a suspect model on the logged watermarked inputs and
// test whether it returns the watermark labels more often than a model independent of our answers could.
//
// The null rate. Under H0 the suspect does not depend on the watermarked answers (it was not trained on
// them), so its label o for a logged input is independent of the key. The watermark label w of that input
// is the key's HMAC choice, uniform over the K − 1 classes other than the victim's top-1 c, so
//   P[o = w] = [o ≠ c] / (K − 1) ≤ 1 / (K − 1)
// whatever the suspect is, however accurate or however correlated its mistakes are with the victim's. Across
// distinct inputs the HMAC outputs are independent, so the number of matches is stochastically at most
// Binomial(n, 1/(K − 1)): the p-value P[Binomial(n, 1/(K − 1)) ≥ matches] is valid without any model of the
// suspect. (Repeated inputs are counted once.) It is conservative: an accurate independent model matches
// far less often (it mostly answers c), so a real theft shows p-values much smaller than needed.
import type { InputBatch } from "../models/types.js";
import { logBinomialTail } from "../defenses/binomial.js";
import type { WatermarkEntry } from "../service/node/watermark-log.js";

/** Labels of the suspect for a batch of inputs. */
export type SuspectLabels = (batch: InputBatch) => Promise<Int32Array>;

export interface VerifyOptions {
  readonly maxQueries?: number;
  /** Verdict "stolen" when the p-value is at most this. Default 1e-6. */
  readonly alpha?: number;
  readonly batchSize?: number;
}

export interface VerifyResult {
  readonly queries: number;
  readonly matches: number;
  readonly pValue: number;
  readonly log10PValue: number;
  /** The per-query null rate used: 1 / (K − 1). */
  readonly nullRate: number;
  readonly alpha: number;
  readonly verdict: "stolen" | "no evidence";
  /** How often the suspect answered the victim's own top-1 (a diagnostic: a good model does either way). */
  readonly victimAgreement?: number;
  readonly duplicates: number;
}

export const DEFAULT_MAX_QUERIES = 200;
export const DEFAULT_ALPHA = 1e-6;

/** Distinct entries (by input bytes), in log order; all of one shape and class count. */
export function distinctEntries(entries: readonly WatermarkEntry[]): { entries: WatermarkEntry[]; duplicates: number } {
  if (entries.length === 0) throw new Error("the watermark log has no entries");
  const first = entries[0];
  const seen = new Set<string>();
  const out: WatermarkEntry[] = [];
  for (const [i, e] of entries.entries()) {
    if (e.inputShape.join("x") !== first.inputShape.join("x") || e.numClasses !== first.numClasses) {
      throw new Error(`watermark log entry ${i}: shape [${e.inputShape}] with ${e.numClasses} classes, the first is [${first.inputShape}] with ${first.numClasses}`);
    }
    const id = Buffer.from(e.input.buffer, e.input.byteOffset, e.input.byteLength).toString("base64");
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(e);
  }
  return { entries: out, duplicates: entries.length - out.length };
}

export async function verifyWatermark(logEntries: readonly WatermarkEntry[], suspect: SuspectLabels, options: VerifyOptions = {}): Promise<VerifyResult> {
  const { entries: all, duplicates } = distinctEntries(logEntries);
  const maxQueries = options.maxQueries ?? DEFAULT_MAX_QUERIES;
  const alpha = options.alpha ?? DEFAULT_ALPHA;
  const batchSize = options.batchSize ?? 64;
  const entries = all.slice(0, maxQueries);
  const K = entries[0].numClasses;
  if (K < 2) throw new Error(`the watermark log says ${K} classes`);
  const inputShape = entries[0].inputShape;
  const size = inputShape.reduce((a, b) => a * b, 1);
  let matches = 0;
  let agree = 0;
  let withVictim = 0;
  for (let from = 0; from < entries.length; from += batchSize) {
    const part = entries.slice(from, from + batchSize);
    const data = new Float32Array(part.length * size);
    part.forEach((e, i) => data.set(e.input, i * size));
    const labels = await suspect({ data, batchSize: part.length, inputShape });
    if (labels.length !== part.length) throw new Error(`the suspect answered ${labels.length} labels for ${part.length} inputs`);
    part.forEach((e, i) => {
      if (labels[i] === e.label) matches++;
      if (e.victimLabel !== undefined) {
        withVictim++;
        if (labels[i] === e.victimLabel) agree++;
      }
    });
  }
  const nullRate = 1 / (K - 1);
  const logP = logBinomialTail(matches, entries.length, nullRate);
  return {
    queries: entries.length,
    matches,
    pValue: Math.exp(logP),
    log10PValue: logP / Math.LN10,
    nullRate,
    alpha,
    verdict: logP <= Math.log(alpha) ? "stolen" : "no evidence",
    victimAgreement: withVictim ? agree / withVictim : undefined,
    duplicates,
  };
}

function argmaxLabels(rows: number[][], K: number, what: string): Int32Array {
  return Int32Array.from(rows, (row, i) => {
    if (!Array.isArray(row) || row.length !== K) throw new Error(`${what}: probabilities row ${i} has ${Array.isArray(row) ? row.length : "no"} values, expected ${K}`);
    let best = 0;
    for (let k = 1; k < K; k++) if (row[k] > row[best]) best = k;
    return best;
  });
}

function nested(data: Float32Array, shape: readonly number[], offset = 0): unknown {
  if (shape.length === 0) return data[offset];
  const [d, ...rest] = shape;
  const step = rest.reduce((a, b) => a * b, 1);
  return Array.from({ length: d }, (_, i) => nested(data, rest, offset + i * step));
}

/** A suspect behind this project's HTTP API (POST /v1/predict, {"inputs": [...]} in). */
export function httpSuspect(url: string, numClasses: number, headers: Record<string, string> = {}): SuspectLabels {
  const endpoint = /\/v1\/predict\/?$/.test(url) ? url : `${url.replace(/\/+$/, "")}/v1/predict`;
  return async (batch) => {
    const size = batch.inputShape.reduce((a, b) => a * b, 1);
    const inputs = Array.from({ length: batch.batchSize }, (_, i) => nested(batch.data, batch.inputShape, i * size));
    let res: Response;
    try {
      res = await fetch(endpoint, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ inputs }) });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(`suspect ${endpoint}: cannot reach it (${cause?.code ?? cause?.message ?? (e as Error).message})`);
    }
    const text = await res.text();
    if (!res.ok) throw new Error(`suspect ${endpoint}: HTTP ${res.status}: ${text.slice(0, 200)}`);
    let body: { probabilities?: number[][]; labels?: number[] };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new Error(`suspect ${endpoint}: the answer is not JSON`);
    }
    if (Array.isArray(body.probabilities)) {
      if (body.probabilities.length !== batch.batchSize) throw new Error(`suspect ${endpoint}: ${body.probabilities.length} answers for ${batch.batchSize} inputs`);
      return argmaxLabels(body.probabilities, numClasses, `suspect ${endpoint}`);
    }
    if (Array.isArray(body.labels)) {
      if (body.labels.length !== batch.batchSize) throw new Error(`suspect ${endpoint}: ${body.labels.length} labels for ${batch.batchSize} inputs`);
      return Int32Array.from(body.labels, (l, i) => {
        if (!Number.isInteger(l) || l < 0 || l >= numClasses) throw new Error(`suspect ${endpoint}: label ${i} is ${JSON.stringify(l)}, expected an integer in [0, ${numClasses})`);
        return l;
      });
    }
    throw new Error(`suspect ${endpoint}: the answer has neither "probabilities" nor "labels"`);
  };
}

/** A suspect tfjs model directory, on the WASM backend. */
export async function modelDirSuspect(
  dir: string,
  inputShape: readonly number[],
  numClasses: number,
  outputs: "logits" | "probabilities" = "logits",
): Promise<{ labels: SuspectLabels; dispose: () => void }> {
  const { modelExists, loadModelFromDir } = await import("./model-files.js");
  if (!modelExists(dir)) throw new Error(`suspect ${dir}: no model.json there (give a tfjs model directory or an http(s) URL)`);
  const { initBackend } = await import("../models/backend.js");
  const { TfjsClassifier } = await import("../models/tfjs-model.js");
  await initBackend();
  const model = new TfjsClassifier(await loadModelFromDir(dir), { outputs });
  if (model.inputShape.join("x") !== inputShape.join("x")) {
    model.dispose();
    throw new Error(`suspect ${dir}: takes inputs of shape [${model.inputShape}], the watermark log holds [${inputShape}]`);
  }
  if (model.numClasses !== numClasses) {
    model.dispose();
    throw new Error(`suspect ${dir}: has ${model.numClasses} classes, the watermark log ${numClasses}`);
  }
  const { argmaxRows } = await import("../models/argmax.js");
  return {
    labels: async (batch) => argmaxRows(await model.predict(batch), batch.batchSize, numClasses),
    dispose: () => model.dispose(),
  };
}
