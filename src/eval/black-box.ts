// The black boxes a thief queries during the evaluation: the live defended victim (adaptive thieves),
// and a replay of answers already computed for a fixed query set (Knockoff-style thieves), so the
// victim and the defense answer each fixed query once for every thief that asks it.
import type { InputBatch } from "../models/types.js";
import type { BlackBox } from "../thieves/thief.js";
import { hashBytes } from "./hash.js";

/** Answers exactly the images it was built with (looked up by content); anything else is an error. */
export class AnswerTable implements BlackBox {
  private readonly rows = new Map<string, number>();
  private readonly rowSize: number;
  /** Rows answered so far (a thief's queries). */
  answered = 0;

  constructor(
    images: Float32Array,
    private readonly answers: Float32Array,
    readonly inputShape: readonly number[],
    readonly numClasses: number,
  ) {
    this.rowSize = inputShape.reduce((a, b) => a * b, 1);
    const count = images.length / this.rowSize;
    if (!Number.isInteger(count) || answers.length !== count * numClasses) {
      throw new RangeError(`AnswerTable: ${images.length / this.rowSize} images vs ${answers.length / numClasses} answer rows`);
    }
    for (let r = 0; r < count; r++) {
      const key = hashBytes(images.subarray(r * this.rowSize, (r + 1) * this.rowSize));
      if (!this.rows.has(key)) this.rows.set(key, r);
    }
  }

  async predict(batch: InputBatch): Promise<Float32Array> {
    const K = this.numClasses;
    const out = new Float32Array(batch.batchSize * K);
    for (let i = 0; i < batch.batchSize; i++) {
      const row = this.rows.get(hashBytes(batch.data.subarray(i * this.rowSize, (i + 1) * this.rowSize)));
      if (row === undefined) throw new Error(`AnswerTable: query ${this.answered + i} is not in the precomputed query set`);
      out.set(this.answers.subarray(row * K, (row + 1) * K), i * K);
    }
    this.answered += batch.batchSize;
    return out;
  }
}

/** Runs `count` images (row-major) through `model` in batches; returns the B x K rows. */
export async function predictAll(
  model: Pick<BlackBox, "predict" | "numClasses">,
  images: Float32Array,
  count: number,
  inputShape: readonly number[],
  batchSize = 256,
): Promise<Float32Array> {
  const rowSize = inputShape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(count * model.numClasses);
  for (let start = 0; start < count; start += batchSize) {
    const size = Math.min(batchSize, count - start);
    const probs = await model.predict({ data: images.subarray(start * rowSize, (start + size) * rowSize), batchSize: size, inputShape });
    if (probs.length !== size * model.numClasses) throw new Error(`model answered ${probs.length} values for ${size} rows`);
    out.set(probs, start * model.numClasses);
  }
  return out;
}
