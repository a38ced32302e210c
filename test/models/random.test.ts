// The one random module (src/models/random.ts) draws exactly what the three it replaced drew, for every
// kind of call site they had: the pinned table (test/models/random-pins.ts) was computed with the old
// functions before they were removed. A change here changes cached victims, thief runs and docs/results.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runSeeds } from "../../src/eval/seeds.js";
import { deriveSeed, roleSeed, seeded, stream, type Engine, type Random } from "../../src/models/random.js";
import { PINS } from "./random-pins.js";

const PERM_SIZES = [0, 1, 2, 10, 1000, 60000];
const draws = (r: Random, n = 6) => Array.from({ length: n }, () => r.uniform() * 4294967296);
/** FNV-1a over the 32-bit words: the fingerprint the table keeps of a long permutation. */
function fingerprint(a: ArrayLike<number>): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < a.length; i++) for (let s = 0; s < 32; s += 8) h = Math.imul(h ^ ((a[i] >>> s) & 0xff), 0x01000193) >>> 0;
  return h;
}
const perms = (seed: number, engine: Engine) => PERM_SIZES.map((n) => (n <= 10 ? Array.from(seeded(seed, engine).permutation(n)) : fingerprint(seeded(seed, engine).permutation(n))));

test("role seeds and run seeds are the old roleSeed/runSeeds values", () => {
  assert.ok(PINS.roleSeeds.length > 150);
  for (const [seed, role, ids, value] of PINS.roleSeeds) assert.is(roleSeed(seed, role, ...ids), value, `roleSeed(${seed}, ${role}, ${ids})`);
  for (const [seed, seeds] of PINS.run) assert.equal(runSeeds(seed), seeds);
});

test("deriveSeed is the old models deriveSeed (layer and epoch seeds of trained models)", () => {
  for (const [seed, values] of PINS.derive) assert.equal([0, 1, 2, 3, 7, 40].map((k) => deriveSeed(seed, k)), values, `deriveSeed(${seed}, k)`);
  assert.throws(() => deriveSeed(1, -1), /index/);
  assert.throws(() => deriveSeed(NaN, 0), /finite/);
});

test("splitmix32 is the old models createRandom/permutation, any finite seed", () => {
  for (const [seed, values] of PINS.splitmix) assert.equal(draws(seeded(seed, "splitmix32")), values, `splitmix32(${seed})`);
  for (const [seed, values] of PINS.splitmixPerms) assert.equal(perms(seed, "splitmix32"), values, `splitmix32 permutations(${seed})`);
  assert.throws(() => seeded(Infinity, "splitmix32"), /finite/);
  assert.throws(() => seeded(0, "splitmix32").permutation(-1), /non-negative/);
});

test("mulberry32 (the default) is the old thieves createRandom/permutation", () => {
  for (const [seed, values] of PINS.mulberry) {
    assert.equal(draws(seeded(seed, "mulberry32")), values, `mulberry32(${seed})`);
    assert.equal(draws(seeded(seed)), values);
  }
  for (const [seed, values] of PINS.mulberryPerms) assert.equal(perms(seed, "mulberry32"), values, `mulberry32 permutations(${seed})`);
  // smooth.ts's Box–Muller over a thief stream, now Random.normal()
  for (const [seed, values] of PINS.gauss) {
    const r = seeded(seed);
    assert.equal([r.normal(), r.normal(), r.normal()], values);
  }
});

test("xoshiro128 is the old defenses RandomStream (uint32, uniform, gaussian; a reseed starts over)", () => {
  for (const [seed, values, afterReseed] of PINS.xoshiro) {
    const r = seeded(seed, "xoshiro128");
    assert.equal([r.uint32(), r.uint32(), r.uniform() * 4294967296, r.normal(), r.normal()], values, `xoshiro128(${seed})`);
    assert.is(seeded(seed, "xoshiro128").uint32(), afterReseed);
  }
});

test("named streams are the thieves' createRandom/permutation of a role seed; chooseRows' sub-permutations too", () => {
  for (const [seed, role, ids, values, perm] of PINS.streams) {
    assert.equal(draws(stream(seed, role, ...ids)), values, `stream(${seed}, ${role}, ${ids})`);
    assert.is(fingerprint(stream(seed, role, ...ids).permutation(1000)), perm);
  }
  const r = stream(5, "augment");
  assert.equal([0, 1, 2].map(() => fingerprint(seeded(r.uint32()).permutation(500).slice(0, 50))), PINS.choose);
});

test("the generator object: ranges, shuffle in place, distinct streams", () => {
  const r = stream(3, "check");
  for (let i = 0; i < 1000; i++) {
    const u = r.uniform();
    assert.ok(u >= 0 && u < 1);
    const k = r.int(7);
    assert.ok(Number.isInteger(k) && k >= 0 && k < 7);
    const x = r.uint32();
    assert.ok(Number.isInteger(x) && x >= 0 && x <= 0xffffffff);
  }
  const a = [10, 20, 30, 40, 50];
  assert.is(seeded(1).shuffle(a), a);
  assert.equal([...a].sort(), [10, 20, 30, 40, 50]);
  assert.equal(Array.from(seeded(9).shuffle(Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7]))), Array.from(seeded(9).permutation(8)));
  assert.is.not(stream(3, "a").uint32(), stream(3, "b").uint32());
  assert.equal(draws(stream(3, "a", 1)), draws(stream(3, "a", 1)));
});

test.run();
