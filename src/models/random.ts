// The project's one seeded random source (never Math.random: runs must be reproducible). It lives in
// src/models, the lowest layer above the WASM core, so models, defenses, thieves and eval all share it;
// the core's own counter-based per-row generator (assembly/) is separate and takes a seed from here.
//
//   stream(seed, role, ...ids)  the generator of one named role of a run ("queries", "augment", ...)
//   roleSeed(seed, role, ...ids) the same role as a bare 32-bit seed (tfjs initialisers, the WASM core,
//                                a model's training), so that no two roles ever start from one stream
//   deriveSeed(seed, index)      the index-th sub-seed of a seed (a model's layers, a training's epochs)
//   seeded(seed, engine)         a generator straight from a seed
//
// Three engines, because each is pinned by results already computed with it (cached victims and thief
// runs, golden answers, docs/results): "mulberry32" (the default: named streams, thieves, evaluation),
// "splitmix32" (models: splits, training shuffles, layer seeds, synthetic and outlier images) and
// "xoshiro128" (xoshiro128**, randomised defenses). test/models/random.test.ts pins their outputs.
import { ModelConfigError } from "./errors.js";

export type Engine = "mulberry32" | "splitmix32" | "xoshiro128";

const GOLDEN = 0x9e3779b9;
const TWO_32 = 4294967296;

/** A seeded generator; every draw advances it. Floats are 32-bit draws / 2^32. */
export class Random {
  constructor(private readonly next: () => number) {}

  /** A uniform 32-bit unsigned integer. */
  uint32(): number {
    return this.next();
  }

  /** Uniform in [0, 1); bound, so `r.uniform` can be passed where a `() => number` is wanted. */
  readonly uniform = (): number => this.next() / TWO_32;

  /** Uniform integer in [0, n): floor(uniform() * n), one draw. */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal by Box–Muller; always consumes exactly two uniforms, so draw counts stay predictable. */
  normal(): number {
    const u1 = 1 - this.uniform(); // (0, 1]: log stays finite
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Shuffles `array` in place (Fisher-Yates from the end, one draw per position) and returns it. */
  shuffle<A extends { length: number; [i: number]: unknown }>(array: A): A {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = array[i];
      array[i] = array[j];
      array[j] = t;
    }
    return array;
  }

  /** A uniformly random permutation of 0..n-1 (a shuffled identity). */
  permutation(n: number): Int32Array {
    if (!Number.isInteger(n) || n < 0) throw new ModelConfigError(`permutation size must be a non-negative integer, got ${n}`);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    return this.shuffle(out);
  }
}

/** A generator fully determined by `seed` (any finite number; truncated, then taken mod 2^32). */
export function seeded(seed: number, engine: Engine = "mulberry32"): Random {
  if (!Number.isFinite(seed)) throw new ModelConfigError(`random seed must be a finite number, got ${seed}`);
  const s = Math.trunc(seed);
  switch (engine) {
    case "mulberry32":
      return new Random(mulberry32(s >>> 0));
    case "splitmix32":
      return new Random(splitmix32((s ^ GOLDEN) >>> 0));
    case "xoshiro128":
      return new Random(xoshiro128(s >>> 0));
  }
}

/** The generator of one named role of a run: seeded(roleSeed(seed, role, ...ids)). */
export function stream(seed: number, role: string, ...ids: number[]): Random {
  return seeded(roleSeed(seed, role, ...ids));
}

/**
 * The seed of one named random role (e.g. "victim-init", "thief-queries") of a run, with optional
 * integer ids (a round, a copy): distinct roles get unrelated 32-bit seeds for every run seed, so that
 * no two roles ever start from the same stream. The role name and ids are hashed with FNV-1a, mixed
 * with the run seed by the murmur3 finaliser.
 */
export function roleSeed(seed: number, role: string, ...ids: number[]): number {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new ModelConfigError(`run seed must be an integer in [0, 2^32 - 1], got ${seed}`);
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
    if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new ModelConfigError(`seed id must be an integer in [0, 2^32 - 1], got ${id}`);
    mixIn(0x2f); // a separator, so ("a", 12) and ("a1", 2) differ
    for (let s = 0; s < 32; s += 8) mixIn(id >>> s);
  }
  return fmix32(h);
}

/** The `index`-th sub-seed of `seed`, in [0, 2^31 - 1): one splitmix32 draw (the formula victims were trained with). */
export function deriveSeed(seed: number, index: number): number {
  if (!Number.isInteger(index) || index < 0) throw new ModelConfigError(`seed index must be a non-negative integer, got ${index}`);
  if (!Number.isFinite(seed)) throw new ModelConfigError(`random seed must be a finite number, got ${seed}`);
  return seeded(Math.trunc(seed) * 1000003 + index, "splitmix32").int(2147483647);
}

/** murmur3's 32-bit finaliser. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** SplitMix32-style: a Weyl sequence through fmix32 (tiny state, fine for permutations). */
function splitmix32(state: number): () => number {
  return () => {
    state = (state + GOLDEN) >>> 0;
    return fmix32(state);
  };
}

/** mulberry32: a small, fast 32-bit generator. */
function mulberry32(state: number): () => number {
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** xoshiro128** (Blackman & Vigna), its 128-bit state filled by splitmix32 from the bare seed. */
function xoshiro128(seed: number): () => number {
  const fill = splitmix32(seed);
  let s0 = fill();
  let s1 = fill();
  let s2 = fill();
  let s3 = fill();
  return () => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
