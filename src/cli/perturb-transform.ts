// What `perturb` hands a batch of JSON lines to, and what answers it: MAD (src/cli/perturb.ts) or any
// registered defense (src/cli/perturb-defense.ts). Its own module, so those two need not import each other.

/** One batch of input lines, as the transform sees it. */
export interface LineBatch {
  /** B x K victim probabilities. */
  probs: Float64Array;
  /** B x K proxy softmax, or null when the lines carry none (identity Jacobian). */
  proxyProbs: Float64Array | null;
  numClasses: number;
  rows: number;
}

/**
 * What turns a batch of lines into answers (B x K). MAD by default; `--defense` (defenses layer,
 * src/cli/perturb-defense.ts) can swap in another function. Throw CoreInputError with `row` set to blame a line.
 */
export type BatchTransform = (batch: LineBatch) => Float64Array | Promise<Float64Array>;
