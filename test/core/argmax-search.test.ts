// MAD-argmax's search options: exactArgmaxLimit (exhaustive up to K = limit, greedy beyond) and
// argmaxRefine (swap passes after the greedy). The default (20, no refine) is the behaviour the golden
// tests pin down.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CoreInputError, loadCore, type Jacobian, type Objective, type PerturbOptions, type Step } from "../../src/core/index.js";
import { createDefense, DefenseConfigError, describeDefense } from "../../src/defenses/index.js";
import { argmaxOracle, greedyArgmaxOracle, isNearTie, objectiveFor, type RowJacobian } from "../reference/mad.js";
import { assertValidAnswer, createRng, keepsTop1Strictly, randomGram, randomRows, row } from "./helpers.js";

const core = await loadCore();
const rng = createRng(1220);
const base: PerturbOptions = { oracle: "argmax", objective: "angular", distance: "l1", epsilon: 0.5 };

function jacobianOf(kind: Jacobian["kind"], B: number, K: number): Jacobian {
  if (kind === "probs") return { kind, proxyProbs: randomRows(rng, B, K, 1) };
  if (kind === "gram") {
    const gram = new Float64Array(B * K * K);
    for (let r = 0; r < B; r++) gram.set(randomGram(rng, K), r * K * K);
    return { kind, gram };
  }
  return { kind: "identity" };
}

function rowJacobian(jacobian: Jacobian, r: number, K: number): RowJacobian {
  if (jacobian.kind === "probs") return { kind: "probs", proxyProbs: jacobian.proxyProbs.slice(r * K, (r + 1) * K) };
  if (jacobian.kind === "gram") return { kind: "gram", gram: jacobian.gram.slice(r * K * K, (r + 1) * K * K) };
  return { kind: "identity" };
}

test("exactArgmaxLimit: integers 1..24, default 20; argmaxRefine: a boolean", () => {
  assert.is(core.createPerturber(base).options.exactArgmaxLimit, 20);
  assert.is(core.createPerturber(base).options.argmaxRefine, false);
  for (const bad of [0, 25, 1.5, NaN, "20"]) {
    try {
      core.createPerturber({ ...base, exactArgmaxLimit: bad as number });
      assert.unreachable(`accepted ${String(bad)}`);
    } catch (error) {
      assert.instance(error, CoreInputError);
      assert.is((error as CoreInputError).field, "exactArgmaxLimit");
      assert.match((error as CoreInputError).message, /1\.\.24.*2\^\(K−1\)/);
    }
  }
  try {
    core.createPerturber({ ...base, argmaxRefine: 1 as never });
    assert.unreachable("accepted argmaxRefine 1");
  } catch (error) {
    assert.is((error as CoreInputError).field, "argmaxRefine");
  }
});

test("the default limit is 20: explicit 20 is bit-identical to the default, exact at 20 and greedy at 21", () => {
  for (const K of [10, 20, 21]) {
    const probs = randomRows(rng, 4, K, 3);
    const jacobian = jacobianOf("probs", 4, K);
    const a = core.createPerturber(base).perturbWithTargets(probs, K, jacobian);
    const b = core.createPerturber({ ...base, exactArgmaxLimit: 20, argmaxRefine: false }).perturbWithTargets(probs, K, jacobian);
    assert.equal(Array.from(a.probs), Array.from(b.probs));
    assert.equal(Array.from(a.targets), Array.from(b.targets));
  }
});

test("below the limit the search is exhaustive, above it greedy, as the reference with the same limit", () => {
  for (let trial = 0; trial < 24; trial++) {
    const K = 5 + (trial % 6);
    const kind = (["probs", "gram", "identity"] as const)[trial % 3];
    const objective: Objective = trial % 4 < 2 ? "angular" : "surrogate";
    const step: Step = trial % 2 ? "reachable" : "linesearch";
    const limit = trial % 5 === 0 ? 1 : K - 1; // greedy either way at this K
    const y = randomRows(rng, 1, K, 2);
    const jacobian = jacobianOf(kind, 1, K);
    const ref = rowJacobian(jacobian, 0, K);
    const options: PerturbOptions = { ...base, objective, step };
    const score = objectiveFor(objective, y, ref);
    // Greedy: the reference's greedy (linesearch; the reachable greedy is scored at ỹ, compared below).
    const greedy = core.createPerturber({ ...options, exactArgmaxLimit: limit }).perturbWithTargets(y, K, jacobian);
    const exact = core.createPerturber({ ...options, exactArgmaxLimit: K }).perturbWithTargets(y, K, jacobian);
    if (step === "linesearch") {
      const choice = greedyArgmaxOracle(y, Array.from(y).indexOf(Math.max(...y)), objective, ref);
      if (!isNearTie(choice)) assert.equal(Array.from(greedy.targets).map((v) => +v.toFixed(9)), Array.from(choice.target).map((v) => +v.toFixed(9)), `trial ${trial}`);
      const brute = argmaxOracle(y, objective, ref, 64);
      const got = score(exact.targets);
      assert.ok(got >= brute.best - 1e-9 * Math.max(1, Math.abs(brute.best)), `trial ${trial}: exact ${got} < ${brute.best}`);
      assert.ok(got >= score(greedy.targets) - 1e-9 * Math.max(1, Math.abs(got)), `trial ${trial}: exact below greedy`);
    } else {
      assert.ok(score(exact.probs) >= score(greedy.probs) - 1e-9 * Math.max(1, Math.abs(score(exact.probs))), `trial ${trial}: exact below greedy`);
    }
  }
});

test("argmaxRefine: never below the greedy, never above the exhaustive, valid answers that keep top-1", () => {
  let improved = 0;
  for (let trial = 0; trial < 36; trial++) {
    const K = 8 + (trial % 7);
    const kind = (["probs", "gram", "identity"] as const)[trial % 3];
    const objective: Objective = trial % 4 < 2 ? "angular" : "surrogate";
    const step: Step = trial % 2 ? "reachable" : "linesearch";
    const B = 6;
    const probs = randomRows(rng, B, K, 3);
    const jacobian = jacobianOf(kind, B, K);
    const options: PerturbOptions = { ...base, objective, step, epsilon: 1 };
    const run = (extra: Partial<PerturbOptions>) => core.createPerturber({ ...options, ...extra }).perturbWithTargets(probs, K, jacobian);
    const greedy = run({ exactArgmaxLimit: 1 });
    const refined = run({ exactArgmaxLimit: 1, argmaxRefine: true });
    const exact = run({ exactArgmaxLimit: 24 });
    for (let r = 0; r < B; r++) {
      const y = row(probs, r, K);
      const score = objectiveFor(objective, y, rowJacobian(jacobian, r, K));
      const at = (out: { probs: Float64Array; targets: Float64Array }) => score(row(step === "reachable" ? out.probs : out.targets, r, K));
      const [g, f, e] = [at(greedy), at(refined), at(exact)];
      const tol = 1e-9 * Math.max(1, Math.abs(e));
      assert.ok(f >= g - tol, `trial ${trial} row ${r}: refined ${f} < greedy ${g}`);
      assert.ok(f <= e + tol, `trial ${trial} row ${r}: refined ${f} > exhaustive ${e}`);
      if (f > g + tol) improved++;
      assertValidAnswer(y, row(refined.probs, r, K), "l1", 1, false, `trial ${trial}`);
      assert.ok(keepsTop1Strictly(y, row(refined.probs, r, K)), `trial ${trial}: top-1 lost`);
    }
  }
  assert.ok(improved > 0, "the swap passes never improved on the greedy");
  // Beyond the exact limit, on a big K, the refined answers are valid too.
  const K = 200;
  const probs = randomRows(rng, 3, K, 3);
  const out = core.createPerturber({ ...base, argmaxRefine: true }).perturb(probs, K, jacobianOf("probs", 3, K));
  for (let r = 0; r < 3; r++) assert.ok(keepsTop1Strictly(row(probs, r, K), row(out, r, K)));
});

test("mad-argmax and mad expose exactLimit (1..24, default 20) and pass it to the core", async () => {
  for (const name of ["mad-argmax", "mad"]) {
    const spec = describeDefense(name).parameters.find((p) => p.name === "exactLimit");
    assert.ok(spec, `${name}: exactLimit declared`);
    assert.is(spec!.default, 20);
    assert.is(spec!.min, 1);
    assert.is(spec!.max, 24);
    assert.throws(() => createDefense(name, { exactLimit: 25 }, { core }), (e: unknown) => e instanceof DefenseConfigError);
  }
  const K = 12;
  const B = 8;
  const probs = Float32Array.from(randomRows(rng, B, K, 3));
  const proxyProbs = Float32Array.from(randomRows(rng, B, K, 1));
  const batch = { probs, numClasses: K, batchSize: B, proxyProbs };
  const viaDefense = async (exactLimit?: number) =>
    Array.from((await createDefense("mad-argmax", { epsilon: 0.5, exactLimit }, { core }).apply(batch)).probs);
  const direct = (exactArgmaxLimit: number) =>
    Array.from(core.createPerturber({ ...base, exactArgmaxLimit }).perturb(probs, K, { kind: "probs", proxyProbs }));
  assert.equal(await viaDefense(), direct(20));
  assert.equal(await viaDefense(1), direct(1));
});

test.run();
