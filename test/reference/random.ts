// Seeded random inputs for the reference's own tests (explicit-G cross-checks): reproducible runs.
import { seededUniform } from "./mad.js";

export interface Rng {
  uniform(): number;
  normal(): number;
  integer(lo: number, hi: number): number; // inclusive
}

export function createRng(seed: number): Rng {
  const uniform = seededUniform(seed);
  return {
    uniform,
    normal() {
      // Box-Muller; 1 − u keeps the logarithm finite.
      return Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
    },
    integer(lo, hi) {
      return lo + Math.floor(uniform() * (hi - lo + 1));
    },
  };
}

/** A point on the simplex; `sharpness` > 1 concentrates mass (softmax of scaled normals). */
export function randomSimplexPoint(rng: Rng, K: number, sharpness = 1): Float64Array {
  const z = Float64Array.from({ length: K }, () => sharpness * rng.normal());
  let max = -Infinity;
  for (const v of z) max = Math.max(max, v);
  let total = 0;
  for (let i = 0; i < K; i++) total += z[i] = Math.exp(z[i] - max);
  for (let i = 0; i < K; i++) z[i] /= total;
  return z;
}

export function randomMatrix(rng: Rng, rows: number, cols: number, scale = 1): Float64Array {
  return Float64Array.from({ length: rows * cols }, () => scale * rng.normal());
}
