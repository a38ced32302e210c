// Checks an InputBatch before it becomes a tensor: shapes must agree and values be finite.
import type { InputBatch } from "./types.js";
import { ModelDataError, ModelInputError } from "./errors.js";

export function validateBatch(batch: InputBatch, inputShape: readonly number[], who: string): void {
  if (!batch || !(batch.data instanceof Float32Array)) throw new ModelInputError(`${who}: batch.data must be a Float32Array`);
  if (!Number.isInteger(batch.batchSize) || batch.batchSize < 1) throw new ModelInputError(`${who}: batchSize must be a positive integer, got ${batch.batchSize}`);
  if (batch.inputShape.join() !== inputShape.join()) throw new ModelInputError(`${who}: inputs of shape [${batch.inputShape}] given, the model takes [${inputShape}]`);
  const size = inputShape.reduce((a, b) => a * b, 1);
  if (batch.data.length !== batch.batchSize * size) {
    throw new ModelInputError(`${who}: batch.data has ${batch.data.length} values, expected ${batch.batchSize} x ${size} for inputs [${inputShape}]`);
  }
  for (let i = 0; i < batch.data.length; i++) {
    if (!Number.isFinite(batch.data[i])) throw new ModelInputError(`${who}: input value ${batch.data[i]} at index ${i} (inputs must be finite)`);
  }
}

/** Throws if a model produced a non-finite value (a broken model must not answer with NaN). */
export function assertFiniteOutput(values: Float32Array, who: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new ModelDataError(`${who}: the model produced ${values[i]} at output index ${i}`);
  }
}
