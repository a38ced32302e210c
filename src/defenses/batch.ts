// Checks and small helpers shared by every defense: a defense validates its batch before reading it,
// so a NaN or a wrong shape is reported with its row instead of turning into a wrong answer.
import { rowArgmax } from "../models/argmax.js";
import type { DefenseBatch } from "./defense.js";
import { DefenseInputError } from "./errors.js";

// The defenses' top-class helpers are the models layer's (one implementation).
export { argmaxRows, rowArgmax } from "../models/argmax.js";

/** How far a row's sum may drift from 1 (float32 softmax is exact to ~1e-6; be lenient with victims). */
export const SIMPLEX_TOLERANCE = 1e-3;

export function validateDefenseBatch(batch: DefenseBatch): void {
  const { probs, batchSize: B, numClasses: K } = batch;
  if (!(probs instanceof Float32Array)) throw new DefenseInputError("probs", undefined, "must be a Float32Array");
  if (!Number.isInteger(B) || B < 0) throw new DefenseInputError("batchSize", undefined, `must be an integer >= 0, got ${B}`);
  if (!Number.isInteger(K) || K < 2) throw new DefenseInputError("numClasses", undefined, `must be an integer >= 2, got ${K}`);
  if (probs.length !== B * K) {
    throw new DefenseInputError("probs", undefined, `length ${probs.length} does not match batchSize ${B} x numClasses ${K}`);
  }
  checkProbabilityRows("probs", probs, B, K);
  if (batch.proxyProbs !== undefined) {
    if (!(batch.proxyProbs instanceof Float32Array) || batch.proxyProbs.length !== B * K) {
      throw new DefenseInputError("proxyProbs", undefined, `must be a Float32Array of batchSize x numClasses = ${B * K} entries`);
    }
    checkProbabilityRows("proxyProbs", batch.proxyProbs, B, K);
  }
  if (batch.inputs !== undefined && batch.inputs.batchSize !== B) {
    throw new DefenseInputError("inputs", undefined, `batchSize ${batch.inputs.batchSize} does not match probs batchSize ${B}`);
  }
}

export function checkProbabilityRows(field: string, probs: Float32Array, B: number, K: number): void {
  for (let i = 0; i < B; i++) {
    let sum = 0;
    for (let k = 0; k < K; k++) {
      const p = probs[i * K + k];
      if (!Number.isFinite(p)) throw new DefenseInputError(field, i, `class ${k} is ${p}`);
      if (p < 0) throw new DefenseInputError(field, i, `class ${k} is negative (${p})`);
      sum += p;
    }
    if (Math.abs(sum - 1) > SIMPLEX_TOLERANCE) {
      throw new DefenseInputError(field, i, `sums to ${sum}, not 1 (probabilities expected, not logits)`);
    }
  }
}

/**
 * Rescales row i of `out` to sum to 1. A row left with no mass falls back to the one-hot of
 * `fallbackArgmax` (the victim's top-1), so renormalising never divides by zero.
 */
export function renormalizeRow(out: Float32Array, i: number, K: number, fallbackArgmax: number): void {
  let sum = 0;
  for (let k = 0; k < K; k++) sum += out[i * K + k];
  if (sum > 0 && Number.isFinite(sum)) {
    for (let k = 0; k < K; k++) out[i * K + k] = out[i * K + k] / sum;
  } else {
    for (let k = 0; k < K; k++) out[i * K + k] = k === fallbackArgmax ? 1 : 0;
  }
}

/**
 * The answer of a defense that keeps some entries of each row and zeroes the rest: `select(i, keep)`
 * sets keep[k] = 1 for each entry of row i to keep (keep arrives zeroed). With `renormalize` the
 * kept entries are rescaled to sum to 1 (see renormalizeRow).
 */
export function keepSelectedEntries(
  probs: Float32Array,
  B: number,
  K: number,
  renormalize: boolean,
  select: (i: number, keep: Uint8Array) => void,
): Float32Array {
  const out = new Float32Array(B * K);
  const keep = new Uint8Array(K);
  for (let i = 0; i < B; i++) {
    keep.fill(0);
    select(i, keep);
    for (let k = 0; k < K; k++) if (keep[k]) out[i * K + k] = probs[i * K + k];
    if (renormalize) renormalizeRow(out, i, K, rowArgmax(probs, i, K));
  }
  return out;
}
