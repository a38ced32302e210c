// perturbSweep: one oracle call per row for a list of budgets. Every block must equal, bit for bit,
// what `perturb` returns with that ε (fresh perturbers on both sides, so the random oracle's row
// counter agrees), and bad budget lists fail with a CoreInputError naming the entry.
import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import {
  CoreInputError, loadCore, type Distance, type Jacobian, type Objective, type Oracle, type PerturbOptions, type Step,
} from "../../src/core/index.js";
import { createRng, randomGram, randomRows } from "./helpers.js";

const core = await loadCore();
const rng = createRng(4242);

const sweepFor: Record<Distance, number[]> = {
  l1: [0.25, 0.5, 0.9, 0.01, 2],
  l2: [0.25, 0.5, 0.9, 1e-3, Math.SQRT2],
  kl: [0.25, 0.5, 0.9, 1e-4, 5],
};

function jacobianFor(kind: Jacobian["kind"], B: number, K: number, f32: boolean): Jacobian {
  if (kind === "probs") {
    const proxy = randomRows(rng, B, K, 1);
    return { kind, proxyProbs: f32 ? Float32Array.from(proxy) : proxy };
  }
  if (kind === "gram") {
    const gram = new Float64Array(B * K * K);
    for (let r = 0; r < B; r++) gram.set(randomGram(rng, K), r * K * K);
    return { kind, gram };
  }
  return { kind };
}

/** Same bits: Object.is tells 0 from −0 and NaN from numbers, === on each entry does the rest. */
function assertSameBits(a: Float32Array | Float64Array, b: Float32Array | Float64Array, label: string): void {
  assert.is(a.length, b.length, `${label}: length`);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) assert.unreachable(`${label}: entry ${i} is ${a[i]}, perturb gave ${b[i]}`);
}

function checkSweep(options: Omit<PerturbOptions, "epsilon">, K: number, B: number, jacobianKind: Jacobian["kind"], f32: boolean, epsilons: number[]): void {
  const rows64 = randomRows(rng, B, K, 1 + rng.uniform() * 3);
  const probs = f32 ? Float32Array.from(rows64) : rows64;
  const jacobian = jacobianFor(jacobianKind, B, K, f32);
  const swept = core.createPerturber({ ...options, epsilon: 0.123 }).perturbSweep(probs, K, epsilons, jacobian);
  assert.is(swept.length, epsilons.length);
  epsilons.forEach((epsilon, e) => {
    const single = core.createPerturber({ ...options, epsilon }).perturb(probs, K, jacobian);
    assert.ok(swept[e] instanceof (f32 ? Float32Array : Float64Array));
    assertSameBits(swept[e], single, `${JSON.stringify(options)} K=${K} ${jacobianKind} f32=${f32} ε=${epsilon}`);
  });
}

const sizes: Array<[number, number]> = [[3, 200], [10, 200], [100, 40]];

test("argmax and extreme, line search: each block equals perturb bit for bit (L1, L2, KL; K = 3, 10, 100)", () => {
  const oracles: Oracle[] = ["argmax", "extreme"];
  const objectives: Objective[] = ["angular", "surrogate"];
  for (const oracle of oracles)
    for (const distance of ["l1", "l2", "kl"] as Distance[])
      for (const [K, B] of sizes)
        for (const objective of objectives)
          for (const f32 of [false, true])
            checkSweep({ oracle, objective, distance }, K, B, "probs", f32, sweepFor[distance]);
});

test("every oracle and Jacobian kind, projections too; the random oracle's counter advances once per row", () => {
  const oracles: Oracle[] = ["extreme", "argmax", "random", "argmin"];
  for (const oracle of oracles)
    for (const jacobianKind of ["identity", "probs", "gram"] as Jacobian["kind"][])
      for (const step of ["linesearch", "projections"] as Step[])
        for (const distance of (step === "projections" ? ["l1", "l2"] : ["l1", "kl"]) as Distance[])
          checkSweep({ oracle, objective: "angular", distance, step, seed: 7 }, 6, 30, jacobianKind, false, sweepFor[distance]);
  // Two sweeps on one perturber match two perturb calls on one perturber (the counter counts rows once per call).
  const K = 5;
  const a = randomRows(rng, 7, K);
  const b = randomRows(rng, 9, K);
  const sweeper = core.createPerturber({ oracle: "random", objective: "angular", distance: "l1", epsilon: 1, seed: 3 });
  const single = core.createPerturber({ oracle: "random", objective: "angular", distance: "l1", epsilon: 0.5, seed: 3 });
  sweeper.perturbSweep(a, K, [0.5, 1]);
  single.perturb(a, K);
  assertSameBits(sweeper.perturbSweep(b, K, [0.5, 1])[0], single.perturb(b, K), "second call");
});

test("reachable: the oracle runs per ε (its target depends on ε) and still matches perturb", () => {
  for (const oracle of ["extreme", "argmax"] as Oracle[])
    for (const distance of ["l1", "l2", "kl"] as Distance[])
      for (const K of [3, 10, 24]) checkSweep({ oracle, objective: "angular", distance, step: "reachable" }, K, 20, "probs", false, sweepFor[distance]);
  // The premise: with reachable the target itself moves with ε (so one oracle call could not serve all).
  const K = 10;
  const probs = randomRows(rng, 50, K, 3);
  const jacobian = jacobianFor("probs", 50, K, false);
  const options = { oracle: "argmax", objective: "angular", distance: "l1", step: "reachable" } as const;
  const small = core.createPerturber({ ...options, epsilon: 0.1 }).perturbWithTargets(probs, K, jacobian).targets;
  const large = core.createPerturber({ ...options, epsilon: 1.5 }).perturbWithTargets(probs, K, jacobian).targets;
  assert.ok(small.some((v, i) => v !== large[i]), "reachable targets did not depend on ε");
});

test("property: any budget list (repeats, any order, up to the diameter) matches perturb per budget", () => {
  const setting = fc.record({
    oracle: fc.constantFrom<Oracle>("argmax", "extreme"),
    distance: fc.constantFrom<Distance>("l1", "l2", "kl"),
    objective: fc.constantFrom<Objective>("angular", "surrogate"),
    K: fc.constantFrom(3, 10, 100),
    f32: fc.boolean(),
    fractions: fc.array(fc.double({ min: 1e-6, max: 1, noNaN: true }), { minLength: 1, maxLength: 6 }),
  });
  fc.assert(
    fc.property(setting, ({ oracle, distance, objective, K, f32, fractions }) => {
      const top = distance === "l1" ? 2 : distance === "l2" ? Math.SQRT2 : 3;
      checkSweep({ oracle, objective, distance }, K, K === 100 ? 8 : 40, "probs", f32, fractions.map((f) => f * top));
    }),
    { numRuns: 60, seed: 99 },
  );
});

test("a batch larger than one chunk (rows go through in several WASM calls)", () => {
  // Per row: 1000 x 8 bytes of staged proxy + 2 more answer blocks of 1000 x 4: an 8 MB chunk holds 524 rows.
  checkSweep({ oracle: "extreme", objective: "angular", distance: "l1" }, 1000, 1200, "probs", true, [0.25, 0.5, 0.9]);
});

test("an empty batch gives one empty block per ε", () => {
  const out = core.createPerturber({ oracle: "argmax", objective: "angular", distance: "l1", epsilon: 0.5 }).perturbSweep(new Float32Array(0), 4, [0.1, 0.2]);
  assert.is(out.length, 2);
  assert.ok(out.every((block) => block instanceof Float32Array && block.length === 0));
});

test("bad budget lists: CoreInputError on field epsilons, naming the entry", () => {
  const K = 3;
  const probs = new Float64Array([0.7, 0.2, 0.1]);
  const expectError = (distance: Distance, epsilons: unknown, pattern: RegExp) => {
    const perturber = core.createPerturber({ oracle: "argmax", objective: "angular", distance, epsilon: 0.5 });
    try {
      perturber.perturbSweep(probs, K, epsilons as number[]);
    } catch (error) {
      assert.instance(error, CoreInputError);
      const e = error as CoreInputError;
      assert.is(e.field, "epsilons");
      assert.is(e.row, null);
      assert.match(e.message, pattern);
      return;
    }
    assert.unreachable(`no error for ${JSON.stringify(epsilons)}`);
  };
  expectError("l1", [], /non-empty/);
  expectError("l1", "0.5", /non-empty array/);
  expectError("l1", [0.5, NaN], /entry 1 is NaN/);
  expectError("l1", [0.5, 0.2, Infinity], /entry 2 is Infinity/);
  expectError("l1", [0], /entry 0 is 0 .*> 0/);
  expectError("l2", [0.1, -0.1], /entry 1 is -0.1/);
  expectError("l1", [0.1, "0.2"], /entry 1 is 0.2 \(must be a finite number/);
  expectError("l1", [2.0001], /entry 0 is 2.0001, beyond the l1 diameter of the simplex \(2\)/);
  expectError("l2", [0.1, 1.5], /entry 1 is 1.5, beyond the l2 diameter of the simplex \(√2\)/);
  // KL has no diameter: any finite budget is allowed.
  const out = core.createPerturber({ oracle: "argmax", objective: "angular", distance: "kl", epsilon: 0.5 }).perturbSweep(probs, K, [100]);
  assert.is(out.length, 1);
  // Row errors still name the row, as perturb does.
  try {
    core.createPerturber({ oracle: "argmax", objective: "angular", distance: "l1", epsilon: 0.5 }).perturbSweep(new Float64Array([0.5, 0.5, 0, 0.5, NaN, 0.5]), K, [0.1]);
    assert.unreachable("no error for a NaN row");
  } catch (error) {
    assert.instance(error, CoreInputError);
    assert.is((error as CoreInputError).row, 1);
  }
});

test.run();
