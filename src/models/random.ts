// Seeded randomness for shuffles and splits (never Math.random: runs must be reproducible).
// SplitMix32-style generator: tiny state, good enough statistics for permutations.

/** A generator of uniform floats in [0, 1), fully determined by `seed` (any finite number). */
export function createRandom(seed: number): () => number {
  if (!Number.isFinite(seed)) throw new Error(`random seed must be a finite number, got ${seed}`);
  let state = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 4294967296;
  };
}

/** A seeded uniformly random permutation of 0..n-1 (Fisher-Yates). */
export function permutation(n: number, seed: number): Int32Array {
  if (!Number.isInteger(n) || n < 0) throw new Error(`permutation size must be a non-negative integer, got ${n}`);
  const random = createRandom(seed);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}

/** A distinct, reproducible seed for the `stream`-th consumer derived from one base seed. */
export function deriveSeed(seed: number, stream: number): number {
  const random = createRandom(Math.trunc(seed) * 1000003 + stream);
  return Math.floor(random() * 2147483647);
}
