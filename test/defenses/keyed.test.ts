// Keyed MAD (src/defenses/keyed.ts): same input same answer across instances sharing the key, other
// answers under another key; within ε, on the simplex, top-1 kept; the key never reported; what the
// defense-aware thief recovers without the key; that the keyed answers still poison; the Jacobian
// source is explicit (no silent G = I).
import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { loadCore } from "../../src/core/index.js";
import { createDefense, DefenseConfigError, DefenseInputError, describeDefense, publicParameters, type Defense } from "../../src/defenses/index.js";
import { stepWithin } from "../../src/defenses/keyed.js";
import { invertAnswers } from "../../src/thieves/invert.js";
import { simulateDefense } from "../../src/thieves/simulate.js";
import { simplexPoint, uniformDouble } from "../properties/arbitraries.js";
import { argmax, batchOf, l1, lcg, randomRows } from "./helpers.js";

const core = await loadCore();
const KEY = "6b65796564206d616420746573742031";
const OTHER_KEY = "6b65796564206d616420746573742032";
const SEED = 20240601;
const TOLERANCE = 1e-4;

const l2 = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, v, k) => s + (v - b[k]) ** 2, 0));
const kl = (y: ArrayLike<number>, t: ArrayLike<number>) => Array.from(y).reduce((s, v, k) => (v > 0 ? s + v * Math.log(v / Math.max(t[k], 1e-30)) : s), 0);
const distanceOf = { l1, l2, kl };

const settingArbitrary = fc.integer({ min: 2, max: 10 }).chain((K) =>
  fc.record({
    K: fc.constant(K),
    rows: fc.array(fc.record({ y: simplexPoint(K), p: simplexPoint(K) }), { minLength: 1, maxLength: 6 }),
    name: fc.constantFrom("mad", "mad-argmax"),
    distance: fc.constantFrom("l1", "l2", "kl") as fc.Arbitrary<"l1" | "l2" | "kl">,
    oracle: fc.constantFrom("extreme", "argmax"),
    epsilon: uniformDouble(0, 2),
    keyMix: fc.oneof(uniformDouble(0, 1), fc.constantFrom(0, 1)),
    keyJitter: fc.oneof(uniformDouble(0, 1), fc.constant(0)),
    keyCell: fc.constantFrom(0.01, 0.1, 0.5, 1),
  }),
);

type Setting = typeof settingArbitrary extends fc.Arbitrary<infer T> ? T : never;

function paramsOf(s: Setting, key = KEY): Record<string, unknown> {
  const keyed = { epsilon: s.epsilon, keyMix: s.keyMix, keyJitter: s.keyJitter, keyCell: s.keyCell, key };
  return s.name === "mad" ? { ...keyed, distance: s.distance, oracle: s.oracle } : keyed;
}

async function answer(defense: Defense, s: Setting): Promise<{ y: Float32Array; probs: Float32Array }> {
  const y = Float32Array.from(s.rows.flatMap((r) => r.y));
  const proxyProbs = Float32Array.from(s.rows.flatMap((r) => r.p));
  return { y, probs: (await defense.apply(batchOf(y, s.K, { proxyProbs }))).probs };
}

test("within ε in the defense's distance, on the simplex, top-1 kept where promised (fast-check)", async () => {
  await fc.assert(
    fc.asyncProperty(settingArbitrary, async (s) => {
      const defense = createDefense(s.name, paramsOf(s), { core });
      const { y, probs } = await answer(defense, s);
      const distance = s.name === "mad-argmax" ? "l1" : s.distance;
      for (let i = 0; i < s.rows.length; i++) {
        const yRow = y.subarray(i * s.K, (i + 1) * s.K);
        const row = probs.subarray(i * s.K, (i + 1) * s.K);
        assert.ok(row.every((v) => Number.isFinite(v) && v >= 0), `row ${i}: ${row}`);
        assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) <= 1e-5, `row ${i} sums to ${row.reduce((a, b) => a + b, 0)}`);
        assert.ok(distanceOf[distance](yRow, row) <= s.epsilon + TOLERANCE, `row ${i}: ${distance} ${distanceOf[distance](yRow, row)} > ε ${s.epsilon}`);
        if (defense.traits.keepsTop1) assert.is(argmax(row), argmax(yRow), `row ${i}: top-1 changed`);
      }
    }),
    { numRuns: 300, seed: SEED },
  );
});

test("same input, same answer: repeated, and from another instance with the same key; another key answers otherwise (fast-check)", async () => {
  await fc.assert(
    fc.asyncProperty(settingArbitrary, async (s) => {
      const first = createDefense(s.name, paramsOf(s), { core });
      const a = await answer(first, s);
      const again = await answer(first, s);
      const twin = await answer(createDefense(s.name, paramsOf(s), { core }), s);
      assert.equal(Array.from(again.probs), Array.from(a.probs), "repeated query");
      assert.equal(Array.from(twin.probs), Array.from(a.probs), "another instance with the same key");
      // With room to move (ε and β well above 0, y off the vertices) each row's keyed point differs under another key.
      const other = await answer(createDefense(s.name, paramsOf(s, OTHER_KEY), { core }), s);
      // K = 2 leaves the keyed point one sign: two keys agree half the time.
      if (s.epsilon < 0.05 || s.keyMix < 0.05 || s.K === 2) return;
      for (let i = 0; i < s.rows.length; i++) {
        const yRow = a.y.subarray(i * s.K, (i + 1) * s.K);
        if (Math.max(...yRow) > 1 - 1e-3) continue;
        const mine = a.probs.subarray(i * s.K, (i + 1) * s.K);
        const theirs = other.probs.subarray(i * s.K, (i + 1) * s.K);
        assert.ok(l1(mine, theirs) > 1e-6, `row ${i}: the key changed nothing`);
      }
    }),
    { numRuns: 150, seed: SEED + 1 },
  );
});

test("a batch gets the answers of its rows one by one; keyMix 0 with a key is exactly unkeyed MAD", async () => {
  const K = 10;
  const y = randomRows(40, K, 31);
  const proxyProbs = randomRows(40, K, 32, 1);
  const keyed = createDefense("mad-argmax", { epsilon: 1, keyMix: 0.5, key: KEY }, { core });
  const whole = (await keyed.apply(batchOf(y, K, { proxyProbs }))).probs;
  for (let i = 0; i < 40; i++) {
    const one = await keyed.apply(batchOf(y.slice(i * K, (i + 1) * K), K, { proxyProbs: proxyProbs.slice(i * K, (i + 1) * K) }));
    assert.equal(Array.from(one.probs), Array.from(whole.subarray(i * K, (i + 1) * K)), `row ${i}`);
  }
  const zero = await createDefense("mad-argmax", { epsilon: 1, keyMix: 0, key: KEY }, { core }).apply(batchOf(y, K, { proxyProbs }));
  const plain = await createDefense("mad-argmax", { epsilon: 1 }, { core }).apply(batchOf(y, K, { proxyProbs }));
  assert.equal(Array.from(zero.probs), Array.from(plain.probs));
  assert.not.ok(createDefense("mad-argmax", { epsilon: 1, keyMix: 0, key: KEY }, { core }).traits.keyed);
});

test("the key step lands on the ball's boundary, or at r when r is inside", () => {
  const y = [0.7, 0.2, 0.1];
  const r = [0.1, 0.3, 0.6];
  for (const [distance, eps] of [["l1", 0.4], ["l2", 0.2], ["kl", 0.1]] as const) {
    const g = stepWithin(y, r, eps, distance);
    const z = y.map((v, k) => v + g * (r[k] - v));
    assert.ok(Math.abs(distanceOf[distance](y, z) - eps) < 1e-9, `${distance}: ${distanceOf[distance](y, z)}`);
    assert.is(stepWithin(y, r, 10, distance), 1);
  }
});

test("the key is secret: never in params, publicParameters, the parameter defaults or an error message", async () => {
  const params = { epsilon: 1, keyMix: 0.5, key: KEY };
  const defense = createDefense("mad-argmax", params, { core });
  assert.ok(defense.traits.keyed);
  assert.not.ok(JSON.stringify(defense.params).includes(KEY), "defense.params");
  assert.not.ok(JSON.stringify(defense).includes(KEY), "the defense object");
  assert.not.ok("key" in publicParameters("mad-argmax", params));
  assert.equal(publicParameters("mad-argmax", params), { epsilon: 1, step: "linesearch", exactLimit: 20, jacobian: "last-layer", keyMix: 0.5, keyJitter: 0, keyCell: 0.1 });
  for (const name of ["mad", "mad-argmax"]) {
    const spec = describeDefense(name).parameters.find((p) => p.name === "key")!;
    assert.ok(spec.secret, `${name}: key is declared secret`);
    assert.is(spec.default, undefined, `${name}: no default key`);
  }
  const almost = KEY.slice(0, -1) + "g";
  try {
    createDefense("mad-argmax", { epsilon: 1, keyMix: 0.5, key: almost }, { core });
    assert.unreachable("a malformed key was accepted");
  } catch (e) {
    assert.instance(e, DefenseConfigError);
    assert.match(String(e), /parameter "key": must be hex of at least 16 bytes/);
    assert.not.ok(String(e).includes(almost.slice(0, 8)), "the error repeats the key");
  }
  assert.throws(() => createDefense("mad-argmax", { epsilon: 1, keyMix: 0.5, key: "abcd" }, { core }), /at least 16 bytes/);
});

test("keyMix or keyJitter without a key is an error naming the key", () => {
  for (const params of [{ keyMix: 0.5 }, { keyJitter: 0.2 }]) {
    try {
      createDefense("mad", params, { core });
      assert.unreachable(JSON.stringify(params));
    } catch (e) {
      assert.instance(e, DefenseConfigError);
      assert.is((e as DefenseConfigError).parameter, "key");
    }
  }
});

test("without a proxy, last-layer MAD is an error that says how to pass one (keyed or not)", async () => {
  const y = randomRows(3, 4, 5);
  for (const params of [{}, { keyMix: 0.5, key: KEY }]) {
    try {
      await createDefense("mad-argmax", params, { core }).apply(batchOf(y, 4));
      assert.unreachable("silent G = I");
    } catch (e) {
      assert.instance(e, DefenseInputError);
      assert.match(String(e), /deps\.proxy, e\.g\. Proxy\.scratch/);
      assert.match(String(e), /jacobian "identity"/);
    }
  }
  const explicit = await createDefense("mad-argmax", { jacobian: "identity", keyMix: 0.5, key: KEY }, { core }).apply(batchOf(y, 4));
  assert.is(explicit.probs.length, 12);
});

// --- What a thief who knows every public parameter recovers (the `invert` thief's inversion). ---

const K = 10;
const ROWS = 500;
/**
 * Peaked rows like a trained classifier's: a top class in [0.7, 0.97), the rest spread unevenly. Above 0.975
 * the one-hot top-1 is itself within L1 0.05 of y, which no label-preserving defense can hide: left out.
 */
function peakedRows(rows: number, seed: number): Float32Array {
  const random = lcg(seed);
  const out = new Float32Array(rows * K);
  for (let i = 0; i < rows; i++) {
    const top = 0.7 + 0.27 * random();
    const m = Math.floor(random() * K);
    const weights = Array.from({ length: K }, (_, k) => (k === m ? 0 : random() ** 3 + 1e-6));
    const sum = weights.reduce((a, b) => a + b, 0);
    weights.forEach((w, k) => (out[i * K + k] = k === m ? top : ((1 - top) * w) / sum));
  }
  return out;
}

const peaked = peakedRows(ROWS, 41);

/** Share of rows whose inverted target is within L1 0.05 of the true y. */
async function recoveredByInvert(name: string, params: Record<string, unknown>): Promise<number> {
  const answers = (await createDefense(name, params, { core }).apply(batchOf(peaked, K))).probs;
  const simulated = simulateDefense("invert", { name, params: publicParameters(name, params) }, { core, buildSubstitute: () => { throw new Error("unused"); } }, { seed: 7, proxy: "uniform" });
  try {
    const { targets } = await invertAnswers(simulated, answers, K, { searchIterations: 60, compassRounds: 30 });
    let close = 0;
    for (let r = 0; r < ROWS; r++) if (l1(targets.subarray(r * K, (r + 1) * K), peaked.subarray(r * K, (r + 1) * K)) < 0.05) close++;
    return close / ROWS;
  } finally {
    simulated.dispose();
  }
}

test("invert recovers unkeyed MAD and MAD-argmax, and at most 5 % of the keyed answers", async () => {
  // The public Jacobian (identity) is the thief's best case: it knows G exactly.
  for (const name of ["mad", "mad-argmax"]) {
    for (const epsilon of [0.5, 1]) {
      const base = { epsilon, jacobian: "identity" };
      const unkeyed = await recoveredByInvert(name, base);
      const keyed = await recoveredByInvert(name, { ...base, keyMix: 0.5, key: KEY });
      const jittered = await recoveredByInvert(name, { ...base, keyJitter: 0.3, key: KEY });
      // Measured: unkeyed 1 (mad), 0.57 / 0.99 (mad-argmax ε 0.5 / 1); keyed 0; keyJitter alone 0-0.014.
      assert.ok(unkeyed >= (name === "mad-argmax" && epsilon === 0.5 ? 0.5 : 0.9), `${name} ε ${epsilon}: unkeyed ${unkeyed}`);
      assert.ok(keyed <= 0.05, `${name} ε ${epsilon}: keyed ${keyed}`);
      assert.ok(jittered <= 0.05, `${name} ε ${epsilon}: keyJitter alone ${jittered}`);
    }
  }
});

/**
 * Mean angle (radians) between the cross-entropy gradients on the logits a uniform-softmax copy gets from
 * the answers and from the truth: p − ỹ against p − y with p uniform. 0: the answers teach what y does.
 */
function gradientAngle(y: Float32Array, answers: Float32Array): number {
  let total = 0;
  for (let r = 0; r < ROWS; r++) {
    let dot = 0;
    let ny = 0;
    let nt = 0;
    for (let k = 0; k < K; k++) {
      const u = y[r * K + k] - 1 / K;
      const v = answers[r * K + k] - 1 / K;
      dot += u * v;
      ny += u * u;
      nt += v * v;
    }
    total += Math.acos(Math.max(-1, Math.min(1, dot / Math.sqrt(ny * nt))));
  }
  return total / ROWS;
}

test("keyed MAD still poisons: its gradients turn further than the keyed point's alone, most of MAD's way", async () => {
  const angle = async (params: Record<string, unknown>) =>
    gradientAngle(peaked, (await createDefense("mad", { epsilon: 1, jacobian: "identity", ...params }, { core }).apply(batchOf(peaked, K))).probs);
  const mad = await angle({});
  const mixed = await angle({ keyMix: 0.5, key: KEY });
  const noise = await angle({ keyMix: 1, key: KEY });
  // Measured (radians): MAD 0.97, keyMix 0.5 0.70, the keyed point alone (keyMix 1) 0.58.
  assert.ok(mixed > noise + 0.1, `keyMix 0.5 ${mixed} vs keyed noise ${noise}`);
  assert.ok(mixed > 0.6 * mad, `keyMix 0.5 ${mixed} vs MAD ${mad}`);
});

test.run();
