// Shared inputs of the defense tests: seeded random probability rows and the edge cases every defense must survive.
import type { DefenseBatch } from "../../src/defenses/index.js";

/** A small seeded generator (tests only). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** B random rows of K probabilities; `sharpness` > 1 gives peaked rows like a trained classifier. */
export function randomRows(B: number, K: number, seed: number, sharpness = 3): Float32Array {
  const rnd = lcg(seed);
  const out = new Float32Array(B * K);
  for (let i = 0; i < B; i++) {
    let sum = 0;
    const row = new Float64Array(K);
    for (let k = 0; k < K; k++) {
      row[k] = Math.pow(rnd(), sharpness) + 1e-6;
      sum += row[k];
    }
    for (let k = 0; k < K; k++) out[i * K + k] = row[k] / sum;
  }
  return out;
}

/** The edge rows: one-hot, uniform, K = 2, probabilities of 1e-30, a near-tie. Each is [name, K, row]. */
export function edgeRows(): [string, number, Float32Array][] {
  const tiny = new Float32Array(10).fill(1e-30);
  tiny[3] = 1 - 9e-30;
  const oneHot = new Float32Array(10);
  oneHot[7] = 1;
  return [
    ["one-hot", 10, oneHot],
    ["uniform", 10, new Float32Array(10).fill(0.1)],
    ["K = 2", 2, new Float32Array([0.3, 0.7])],
    ["K = 2 uniform", 2, new Float32Array([0.5, 0.5])],
    ["1e-30 entries", 10, tiny],
    ["near tie", 4, new Float32Array([0.4, 0.39995, 0.15, 0.05005])],
  ];
}

export function batchOf(probs: Float32Array, K: number, extra: Partial<DefenseBatch> = {}): DefenseBatch {
  return { probs, batchSize: probs.length / K, numClasses: K, ...extra };
}

export function rowOf(probs: Float32Array, i: number, K: number): Float32Array {
  return probs.slice(i * K, (i + 1) * K);
}

export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let k = 1; k < row.length; k++) if (row[k] > row[best]) best = k;
  return best;
}

export function l1(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += Math.abs(a[k] - b[k]);
  return s;
}
