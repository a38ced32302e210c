// Invariants of the batch API on seeded random inputs: a batch equals its rows one by one, answers
// stay on the simplex and in the ball, argmax keeps top-1 strictly, the KL step finds its root,
// `reachable` never scores below the paper's heuristic, and the random oracle is reproducible.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadCore, type Distance, type Jacobian, type Objective, type Oracle, type PerturbOptions, type Step } from "../../src/core/index.js";
import { argmaxOracle, extremeOracle, klDivergence, objectiveFor, type RowJacobian } from "../reference/mad.js";
import { assertValidAnswer, createRng, keepsTop1Strictly, randomJacobian, randomRows, row, rowJacobian } from "./helpers.js";

const core = await loadCore();
const rng = createRng(2020);
const oracles: Oracle[] = ["extreme", "argmax", "random", "argmin"];
const objectives: Objective[] = ["angular", "surrogate"];
const distances: Distance[] = ["l1", "l2", "kl"];
const steps: Step[] = ["linesearch", "projections", "reachable"];

function referenceJacobian(jacobian: Jacobian, r: number, K: number): RowJacobian {
  const one = rowJacobian(jacobian, r, K);
  return one.kind === "probs" ? { kind: "probs", proxyProbs: one.proxyProbs } : one.kind === "gram" ? { kind: "gram", gram: one.gram } : { kind: "identity" };
}

const epsilonFor = (distance: Distance) => (distance === "l1" ? [0.05, 0.5, 1.5] : distance === "l2" ? [0.03, 0.3, 1] : [0.01, 0.2, 2]);

test("a batch equals its rows one by one (every oracle, step, Jacobian kind; Float64 and Float32)", () => {
  for (const oracle of oracles)
    for (const step of steps)
      for (const kind of ["identity", "probs", "gram"] as const) {
        const distance: Distance = step === "projections" ? "l1" : "kl";
        const K = 3 + Math.floor(rng.uniform() * 10);
        const B = 7;
        const probs = randomRows(rng, B, K);
        const jacobian = randomJacobian(rng, kind, B, K);
        const options: PerturbOptions = { oracle, objective: "angular", distance, epsilon: 0.3, step, seed: 11 };
        const batch = core.createPerturber(options).perturb(probs, K, jacobian);
        const single = core.createPerturber(options);
        for (let r = 0; r < B; r++) {
          const one = single.perturb(probs.slice(r * K, (r + 1) * K), K, rowJacobian(jacobian, r, K));
          assert.equal(row(batch, r, K), Array.from(one), `${oracle}/${step}/${kind} row ${r}`);
        }
        const batch32 = core.createPerturber(options).perturb(Float32Array.from(probs), K, jacobian.kind === "probs" ? { kind: "probs", proxyProbs: Float32Array.from(jacobian.proxyProbs) } : jacobian);
        assert.instance(batch32, Float32Array);
        const single32 = core.createPerturber(options);
        for (let r = 0; r < B; r++) {
          const rj = rowJacobian(jacobian, r, K);
          const one = single32.perturb(Float32Array.from(probs.slice(r * K, (r + 1) * K)), K, rj.kind === "probs" ? { kind: "probs", proxyProbs: Float32Array.from(rj.proxyProbs) } : rj);
          assert.equal(row(batch32, r, K), Array.from(one), `f32 ${oracle}/${step}/${kind} row ${r}`);
        }
      }
});

test("answers are on the simplex and inside the ball; argmax keeps top-1 strictly (every configuration)", () => {
  for (const oracle of oracles)
    for (const objective of objectives)
      for (const distance of distances)
        for (const step of steps) {
          if (step === "projections" && distance === "kl") continue;
          for (const kind of ["identity", "probs", "gram"] as const) {
            const K = 2 + Math.floor(rng.uniform() * 14);
            const B = 6;
            const probs = randomRows(rng, B, K, 1 + 3 * rng.uniform());
            const jacobian = randomJacobian(rng, kind, B, K);
            for (const epsilon of epsilonFor(distance)) {
              const options = { oracle, objective, distance, step, epsilon };
              const out = core.createPerturber(options).perturb(probs, K, jacobian);
              const out32 = core.createPerturber(options).perturb(Float32Array.from(probs), K, jacobian);
              for (let r = 0; r < B; r++) {
                const y = row(probs, r, K);
                const label = `${JSON.stringify(options)} ${kind} K=${K} row ${r}`;
                assertValidAnswer(y, row(out, r, K), distance, epsilon, false, label);
                assertValidAnswer(row(Float32Array.from(probs), r, K), row(out32, r, K), distance, epsilon, true, label);
                if (oracle === "argmax") {
                  assert.ok(keepsTop1Strictly(y, row(out, r, K)), `${label}: top-1 lost`);
                  assert.ok(keepsTop1Strictly(row(Float32Array.from(probs), r, K), row(out32, r, K)), `${label} f32: top-1 lost`);
                }
              }
            }
          }
        }
});

test("KL line search: the answer is within 1e-12 in alpha of the root of KL(y‖ỹ(α)) = ε", () => {
  let interior = 0;
  for (let trial = 0; trial < 300; trial++) {
    const K = 2 + Math.floor(rng.uniform() * 20);
    const y = randomRows(rng, 1, K, 2);
    const epsilon = [1e-4, 0.01, 0.1, 1][trial % 4];
    const { probs, targets } = core
      .createPerturber({ oracle: trial % 2 ? "extreme" : "argmax", objective: "angular", distance: "kl", epsilon })
      .perturbWithTargets(y, K, { kind: "probs", proxyProbs: randomRows(rng, 1, K, 1) });
    // Recover α from the coordinate that moved most.
    let j = 0;
    for (let i = 0; i < K; i++) if (Math.abs(targets[i] - y[i]) > Math.abs(targets[j] - y[j])) j = i;
    const alpha = (probs[j] - y[j]) / (targets[j] - y[j]);
    const at = (a: number) => Float64Array.from(y, (yi, i) => (1 - a) * yi + a * targets[i]);
    assert.ok(klDivergence(y, probs) <= epsilon * (1 + 1e-12), `KL ${klDivergence(y, probs)} > ${epsilon}`);
    if (alpha < 1 - 1e-9) {
      interior++;
      assert.ok(klDivergence(y, at(alpha + 2e-12)) > epsilon, `alpha ${alpha} is not within 1e-12 of the root`);
    }
  }
  assert.ok(interior > 100, `only ${interior} interior roots exercised`);
});

test("reachable: H at its answer >= H at the paper's heuristic answer, same epsilon (extreme and argmax)", () => {
  let strictlyBetter = 0;
  let compared = 0;
  for (let trial = 0; trial < 400; trial++) {
    const K = 3 + Math.floor(rng.uniform() * 10);
    const oracle: Oracle = trial % 2 ? "extreme" : "argmax";
    const distance = distances[trial % 3];
    const epsilon = epsilonFor(distance)[Math.floor(trial / 3) % 3];
    const kind = (["probs", "gram", "identity"] as const)[Math.floor(trial / 9) % 3];
    const y = randomRows(rng, 1, K, 2);
    const jacobian = randomJacobian(rng, kind, 1, K);
    const H = objectiveFor("angular", y, referenceJacobian(jacobian, 0, K));
    const heuristic = core.createPerturber({ oracle, objective: "angular", distance, epsilon }).perturb(y, K, jacobian);
    const reachable = core.createPerturber({ oracle, objective: "angular", distance, epsilon, step: "reachable" }).perturb(y, K, jacobian);
    const gain = H(reachable) - H(heuristic);
    assert.ok(gain >= -1e-9, `${oracle}/${distance}/${kind} eps ${epsilon}: reachable H ${H(reachable)} < heuristic ${H(heuristic)}`);
    compared++;
    if (gain > 1e-6) strictlyBetter++;
  }
  assert.ok(strictlyBetter > compared / 10, `reachable beat the heuristic in only ${strictlyBetter} of ${compared} cases`);
});

test("argmax beyond the exact limit (greedy, K = 21..300): valid answers that keep top-1 strictly", () => {
  for (const K of [21, 25, 64, 300])
    for (const kind of ["probs", "identity", "gram"] as const) {
      if (kind === "gram" && K > 64) continue;
      const B = 3;
      const probs = randomRows(rng, B, K, 3);
      const jacobian = randomJacobian(rng, kind, B, K);
      for (const objective of objectives)
        for (const distance of distances) {
          const epsilon = epsilonFor(distance)[1];
          const out = core.createPerturber({ oracle: "argmax", objective, distance, epsilon }).perturb(probs, K, jacobian);
          for (let r = 0; r < B; r++) {
            assertValidAnswer(row(probs, r, K), row(out, r, K), distance, epsilon, false, `K=${K} ${kind}`);
            assert.ok(keepsTop1Strictly(row(probs, r, K), row(out, r, K)), `K=${K} ${kind}: top-1 lost`);
          }
        }
    }
});

test("argmax exact enumeration (Gray-code walk) reaches the best subset found by brute force", () => {
  for (let trial = 0; trial < 30; trial++) {
    const K = 4 + (trial % 10);
    const kind = (["probs", "gram", "identity"] as const)[trial % 3];
    const objective = objectives[Math.floor(trial / 3) % 2];
    const y = randomRows(rng, 1, K, 2);
    const jacobian = randomJacobian(rng, kind, 1, K);
    const ref = referenceJacobian(jacobian, 0, K);
    const brute = argmaxOracle(y, objective, ref, 64); // exhaustive in plain loops
    const { targets } = core.createPerturber({ oracle: "argmax", objective, distance: "l1", epsilon: 0.1 }).perturbWithTargets(y, K, jacobian);
    const score = objectiveFor(objective, y, ref)(targets);
    assert.ok(score >= brute.best - 1e-9 * Math.max(1, Math.abs(brute.best)), `${kind}/${objective} K=${K}: ${score} < ${brute.best}`);
  }
  // K = 20, the largest exact case (2^19 subsets), is exact too.
  const K = 20;
  const y = randomRows(rng, 1, K, 2);
  const p = randomRows(rng, 1, K, 1);
  const { targets } = core.createPerturber({ oracle: "argmax", objective: "angular", distance: "l1", epsilon: 0.1 }).perturbWithTargets(y, K, { kind: "probs", proxyProbs: p });
  const brute = argmaxOracle(y, "angular", { kind: "probs", proxyProbs: p }, 20);
  assert.ok(objectiveFor("angular", y, { kind: "probs", proxyProbs: p })(targets) >= brute.best - 1e-9);
});

test("extreme with the proxy's probabilities picks the reference's vertex: K odd and even, the top class in every place", () => {
  // The core keys two classes per step and splits the top class off; the reference scores each vertex.
  const indexOfOne = (v: ArrayLike<number>, from: number, K: number) => {
    for (let i = 0; i < K; i++) if (v[from + i] === 1) return i;
    return -1;
  };
  let rowsChecked = 0;
  for (const objective of objectives)
    for (const K of [2, 3, 4, 5, 8, 17, 64, 101]) {
      const B = 12;
      const probs = randomRows(rng, B, K, 2);
      const proxy = randomRows(rng, B, K, 1);
      // Move each row's top class to place r mod K (first, last, odd and even places).
      for (let r = 0; r < B; r++) {
        const rowOf = probs.subarray(r * K, (r + 1) * K);
        const top = rowOf.indexOf(Math.max(...rowOf));
        const place = r === B - 1 ? K - 1 : r % K;
        [rowOf[top], rowOf[place]] = [rowOf[place], rowOf[top]];
      }
      const perturber = core.createPerturber({ oracle: "extreme", objective, distance: "l1", epsilon: 0.3 });
      const { targets } = perturber.perturbWithTargets(probs, K, { kind: "probs", proxyProbs: proxy });
      for (let r = 0; r < B; r++) {
        const y = probs.subarray(r * K, (r + 1) * K);
        const reference = extremeOracle(y, objective, { kind: "probs", proxyProbs: proxy.subarray(r * K, (r + 1) * K) });
        assert.is(indexOfOne(targets, r * K, K), indexOfOne(reference.target, 0, K), `${objective} K=${K} row ${r}`);
        rowsChecked++;
      }
    }
  assert.is(rowsChecked, 2 * 8 * 12);
});

test("random oracle: reproducible per seed, different across seeds, counter continues across calls", () => {
  const K = 10;
  const probs = randomRows(rng, 200, K);
  const options: PerturbOptions = { oracle: "random", objective: "angular", distance: "l1", epsilon: 2.5, seed: 42 };
  const a = core.createPerturber(options).perturbWithTargets(probs, K).targets;
  const b = core.createPerturber(options).perturbWithTargets(probs, K).targets;
  const c = core.createPerturber({ ...options, seed: 43 }).perturbWithTargets(probs, K).targets;
  assert.equal(Array.from(a), Array.from(b));
  assert.not.equal(Array.from(a), Array.from(c));
  const counts = new Array(K).fill(0);
  for (let r = 0; r < 200; r++) counts[row(a, r, K).indexOf(1)]++;
  assert.ok(counts.every((n) => n > 5), `uneven draws ${counts}`);
  // Two calls of 100 rows on one perturber equal one call of 200.
  const split = core.createPerturber(options);
  const first = split.perturbWithTargets(probs.slice(0, 100 * K), K).targets;
  const second = split.perturbWithTargets(probs.slice(100 * K), K).targets;
  assert.equal([...first, ...second], Array.from(a));
});

test("a batch larger than one WASM chunk equals the same rows in small batches", () => {
  const K = 1000;
  const B = 1500; // 12 MB of f64: two chunks
  const probs = randomRows(rng, B, K, 3);
  const options: PerturbOptions = { oracle: "random", objective: "angular", distance: "l2", epsilon: 0.2, seed: 5 };
  const whole = core.createPerturber(options).perturb(probs, K);
  const piecewise = core.createPerturber(options);
  for (let start = 0; start < B; start += 500) {
    const part = piecewise.perturb(probs.slice(start * K, (start + 500) * K), K);
    assert.equal(Array.from(whole.subarray(start * K, (start + 500) * K)), Array.from(part));
  }
});

test("empty batches return empty arrays of the input's type", () => {
  const p = core.createPerturber({ oracle: "extreme", objective: "angular", distance: "l1", epsilon: 0.1 });
  assert.instance(p.perturb(new Float32Array(0), 5), Float32Array);
  assert.is(p.perturb(new Float64Array(0), 5).length, 0);
});

test.run();
