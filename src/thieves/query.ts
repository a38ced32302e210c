// Batched, budgeted access to a black box: every thief queries through this, so the budget is enforced
// in one place and the black box receives batches (not one request per image).
import type { BlackBox, StealProgress } from "./thief.js";
import { ThiefInputError } from "./thief.js";

export class BudgetedQuerier {
  private used = 0;
  private readonly rowSize: number;

  constructor(
    private readonly thief: string,
    private readonly blackBox: BlackBox,
    readonly budget: number,
    private readonly batchSize: number,
    private readonly onProgress?: (event: StealProgress) => void,
  ) {
    this.rowSize = blackBox.inputShape.reduce((a, b) => a * b, 1);
  }

  get queriesUsed(): number {
    return this.used;
  }

  get remaining(): number {
    return this.budget - this.used;
  }

  /** Answers `count` images (row-major), sent in batches of at most `batchSize`; never exceeds the budget. */
  async query(images: Float32Array, count: number, round?: number): Promise<Float32Array> {
    if (count > this.remaining) {
      throw new ThiefInputError(`thief "${this.thief}": ${count} queries would exceed the budget (${this.remaining} left of ${this.budget})`);
    }
    const K = this.blackBox.numClasses;
    const answers = new Float32Array(count * K);
    for (let start = 0; start < count; start += this.batchSize) {
      const size = Math.min(this.batchSize, count - start);
      const data = images.subarray(start * this.rowSize, (start + size) * this.rowSize);
      const probs = await this.blackBox.predict({ data, batchSize: size, inputShape: this.blackBox.inputShape });
      if (probs.length !== size * K) {
        throw new ThiefInputError(`thief "${this.thief}": the black box answered ${probs.length} values for ${size} queries of ${K} classes`);
      }
      for (let i = 0; i < probs.length; i++) {
        if (!Number.isFinite(probs[i])) {
          throw new ThiefInputError(`thief "${this.thief}": the black box answered a non-finite value (row ${start + Math.floor(i / K)})`);
        }
      }
      answers.set(probs, start * K);
      this.used += size;
      this.onProgress?.({ phase: "query", queriesUsed: this.used, budget: this.budget, round });
    }
    return answers;
  }
}
