// Seeded query streams for the detection tests of the service: a JBDA-shaped synthetic thief (a few digits,
// then rounds in which every point so far yields x + λ·s, s a seeded ±1 pattern, clipped to [0, 1]) and an
// honest client (distinct digits in a seeded random order). Both are rows x 784 Float32Arrays.
import type { LabeledImages } from "../../src/models/datasets.js";

const DIM = 784;

export function digitStreams(
  digits: LabeledImages,
  permutation: (n: number, seed: number) => Int32Array | Uint32Array | number[],
  options: { rows?: number; seeds?: number; lambda?: number; seed?: number } = {},
): { thief: Float32Array; honest: Float32Array } {
  const rows = options.rows ?? 400;
  const seeds = options.seeds ?? 30;
  const lambda = options.lambda ?? 0.1;
  let s = (options.seed ?? 1) >>> 0;
  const random = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const order = permutation(digits.count, options.seed ?? 1);
  const honest = new Float32Array(rows * DIM);
  for (let i = 0; i < rows; i++) honest.set(digits.images.subarray(order[i] * DIM, (order[i] + 1) * DIM), i * DIM);
  const thief = new Float32Array(rows * DIM);
  const other = permutation(digits.count, (options.seed ?? 1) + 1000);
  for (let i = 0; i < seeds; i++) thief.set(digits.images.subarray(other[i] * DIM, (other[i] + 1) * DIM), i * DIM);
  let count = seeds;
  while (count < rows) {
    const parents = count;
    for (let p = 0; p < parents && count < rows; p++, count++) {
      for (let i = 0; i < DIM; i++) {
        const v = thief[p * DIM + i] + (random() < 0.5 ? -lambda : lambda);
        thief[count * DIM + i] = Math.min(1, Math.max(0, v));
      }
    }
  }
  return { thief, honest };
}
