// The contract every model-facing layer shares: a model is a callable that maps a batch of
// inputs to a batch of probability rows. Tensors stay inside src/models; everything above
// exchanges flat row-major Float32Arrays so the WASM core can read them without copies.

/** A batch of inputs: `batchSize` examples of `inputShape`, flattened row-major. */
export interface InputBatch {
  readonly data: Float32Array;
  readonly batchSize: number;
  /** Per-example shape, e.g. [28, 28, 1]. */
  readonly inputShape: readonly number[];
}

/** Anything that answers a batch of inputs with a batch of probability rows (B x K, row-major). */
export interface ProbabilityModel {
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  predict(batch: InputBatch): Promise<Float32Array>;
  dispose?(): void;
}
