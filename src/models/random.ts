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

/**
 * The seed of one named random role (e.g. "victim-init", "thief-queries") of a run, with optional
 * integer ids (a round, a copy): distinct roles get unrelated 32-bit seeds for every run seed, so that
 * no two roles ever start from the same stream. The role name and ids are hashed with FNV-1a, mixed
 * with the run seed by the murmur3 finaliser.
 */
export function roleSeed(seed: number, role: string, ...ids: number[]): number {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`run seed must be an integer in [0, 2^32 - 1], got ${seed}`);
  let h = 0x811c9dc5;
  const mixIn = (byte: number) => {
    h = Math.imul(h ^ (byte & 0xff), 0x01000193) >>> 0;
  };
  for (let i = 0; i < role.length; i++) {
    const c = role.charCodeAt(i);
    mixIn(c);
    mixIn(c >>> 8);
  }
  for (const id of [seed, ...ids]) {
    if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new RangeError(`seed id must be an integer in [0, 2^32 - 1], got ${id}`);
    mixIn(0x2f); // a separator, so ("a", 12) and ("a1", 2) differ
    for (let s = 0; s < 32; s += 8) mixIn(id >>> s);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}
