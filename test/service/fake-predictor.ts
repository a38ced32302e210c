// A tiny stand-in for the defended model in HTTP tests: inputs of shape [2, 2, 1], K = 3.
// Its true probabilities y carry distinctive digits (7123456...) so tests can prove they never leave.
import type { InputBatch } from "../../src/models/types.js";
import type { Prediction, Predictor, ServedModelInfo } from "../../src/service/predictor.js";

export const TRUE_ROW = [0.7123456, 0.2123456, 0.0753088];
export const TRUE_DIGITS = ["7123456", "2123456", "0753088"];

export class FakePredictor implements Predictor {
  readonly info: ServedModelInfo = {
    inputShape: [2, 2, 1],
    numClasses: 3,
    classes: ["cat", "dog", "eel"],
    model: "fake",
    defense: { name: "fake-shift", params: { epsilon: 0.5 } },
  };
  calls: { batchSize: number; data: number[]; clientId?: string }[] = [];
  failWith?: Error;

  async predict(batch: InputBatch, context?: { clientId?: string }): Promise<Prediction> {
    this.calls.push({ batchSize: batch.batchSize, data: Array.from(batch.data), clientId: context?.clientId });
    if (this.failWith) throw this.failWith;
    const K = 3;
    const probs = new Float32Array(batch.batchSize * K);
    const l1 = new Float32Array(batch.batchSize);
    const labels = new Int32Array(batch.batchSize);
    for (let b = 0; b < batch.batchSize; b++) {
      // ỹ depends on the input so tests can tell rows apart: the first pixel decides the winner.
      const winner = batch.data[b * 4] > 0.5 ? 1 : 0;
      const row = winner === 1 ? [0.25, 0.5, 0.25] : [0.5, 0.25, 0.25];
      probs.set(row, b * K);
      labels[b] = winner;
      l1[b] = row.reduce((s, p, k) => s + Math.abs(p - TRUE_ROW[k]), 0);
    }
    return { probs, labels, l1 };
  }
}

/** A 2x2x1 input as nested arrays. */
export const input = (a: number, b = 0, c = 0, d = 0) => [[[a], [b]], [[c], [d]]];
