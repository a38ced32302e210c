// ModelGuard-W on the WASM core against a brute-force LP (test/reference/lp.ts) on small K: same optimal
// objective value (the vector may differ when several optima exist) and a feasible answer.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createModelGuardSolver, CoreInputError, loadCore } from "../../src/core/index.js";
import { modelguardLinearProgram, modelguardObjective, solveLinearProgram } from "../reference/lp.js";
import { lcg } from "./helpers.js";

const core = await loadCore();
const MARGIN = 1e-4;

/** Random rows of every kind the defense meets: flat, peaked, with zeros, with tied or near-tied leaders. */
function randomCase(rnd: () => number): { y: Float64Array; epsilon: number } {
  const K = 2 + Math.floor(rnd() * 7);
  const y = new Float64Array(K);
  const sharpness = [1, 3, 8][Math.floor(rnd() * 3)];
  for (let k = 0; k < K; k++) y[k] = rnd() < 0.1 ? 0 : Math.pow(rnd(), sharpness);
  if (rnd() < 0.15) y[0] = y[K - 1] = Math.max(y[0], y[K - 1], 0.01); // tied leaders
  if (rnd() < 0.1) y[1] = y[0] * (1 - 1e-4); // near tie
  let sum = y.reduce((a, b) => a + b, 0);
  if (sum === 0) {
    y[0] = 1;
    sum = 1;
  }
  for (let k = 0; k < K; k++) y[k] /= sum;
  const epsilon = [0, 1e-4, 0.05, 0.3, 0.7, 1, 1.5, 2][Math.floor(rnd() * 8)];
  return { y, epsilon };
}

function checkFeasible(y: Float64Array, x: Float64Array, epsilon: number, tolerance: number, where: string) {
  const K = y.length;
  let m = 0;
  for (let k = 1; k < K; k++) if (y[k] > y[m]) m = k;
  let sum = 0;
  let dist = 0;
  for (let k = 0; k < K; k++) {
    assert.ok(Number.isFinite(x[k]) && x[k] >= -tolerance, `${where}: entry ${k} = ${x[k]}`);
    sum += x[k];
    dist += Math.abs(x[k] - y[k]);
    if (k !== m) assert.ok(x[m] - x[k] >= MARGIN - tolerance, `${where}: class ${k} within the margin of the top class`);
  }
  assert.ok(Math.abs(sum - 1) <= tolerance, `${where}: sums to ${sum}`);
  assert.ok(dist <= epsilon + tolerance, `${where}: L1 ${dist} > ε ${epsilon}`);
}

test("matches the LP optimum on 600 random rows with K = 2..8 (float64)", () => {
  const rnd = lcg(2024);
  let infeasible = 0;
  let worst = 0;
  for (let t = 0; t < 600; t++) {
    const { y, epsilon } = randomCase(rnd);
    const K = y.length;
    const result = createModelGuardSolver(core, { epsilon }).solve(y, K);
    const lp = solveLinearProgram(modelguardLinearProgram(y, epsilon, MARGIN));
    const where = `case ${t} y=${JSON.stringify(Array.from(y))} ε=${epsilon}`;
    if (lp.status === "infeasible") {
      infeasible++;
      assert.is(result.infeasible[0], 1, `${where}: the LP is infeasible but the core claims an answer`);
      assert.equal(Array.from(result.probs), Array.from(y), `${where}: an infeasible row must come back as y`);
      continue;
    }
    assert.is(lp.status, "optimal", where);
    assert.is(result.infeasible[0], 0, `${where}: the LP is feasible but the core says infeasible`);
    checkFeasible(y, result.probs, epsilon, 1e-9, where);
    const gap = Math.abs((lp as { value: number }).value - modelguardObjective(y, result.probs));
    worst = Math.max(worst, gap);
    assert.ok(gap <= 1e-7, `${where}: objective ${modelguardObjective(y, result.probs)} vs LP ${(lp as { value: number }).value}`);
  }
  assert.ok(infeasible > 0 && infeasible < 100, `the cases should include a few infeasible ones (got ${infeasible})`);
  assert.ok(worst < 1e-7);
});

test("a batch gives its rows' answers; float32 rows are answered within float32 rounding", () => {
  const rnd = lcg(7);
  const K = 6;
  const rows = 40;
  const y = new Float64Array(rows * K);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += y[i * K + k] = Math.pow(rnd(), 3) + 1e-4;
    for (let k = 0; k < K; k++) y[i * K + k] /= s;
  }
  const solver = createModelGuardSolver(core, { epsilon: 0.8 });
  const whole = solver.solve(y, K).probs;
  const as32 = solver.solve(Float32Array.from(y), K).probs;
  assert.instance(as32, Float32Array);
  for (let i = 0; i < rows; i++) {
    const single = solver.solve(y.slice(i * K, (i + 1) * K), K).probs;
    assert.equal(Array.from(single), Array.from(whole.slice(i * K, (i + 1) * K)));
    const lp = solveLinearProgram(modelguardLinearProgram(y.slice(i * K, (i + 1) * K), 0.8));
    const v32 = modelguardObjective(y.slice(i * K, (i + 1) * K), as32.slice(i * K, (i + 1) * K));
    assert.ok(Math.abs((lp as { value: number }).value - v32) < 1e-5, `row ${i}`);
    checkFeasible(y.slice(i * K, (i + 1) * K), Float64Array.from(as32.slice(i * K, (i + 1) * K)), 0.8, 2e-6, `f32 row ${i}`);
  }
});

test("ε = 0 returns y when it already has the margin; larger K stays exact against the LP", () => {
  const y = new Float64Array([0.5, 0.3, 0.2]);
  assert.equal(Array.from(createModelGuardSolver(core, { epsilon: 0 }).solve(y, 3).probs), [0.5, 0.3, 0.2]);
  const rnd = lcg(99);
  for (let t = 0; t < 10; t++) {
    const K = 12 + t;
    const row = new Float64Array(K);
    let s = 0;
    for (let k = 0; k < K; k++) s += row[k] = Math.pow(rnd(), 4);
    for (let k = 0; k < K; k++) row[k] /= s;
    const x = createModelGuardSolver(core, { epsilon: 1 }).solve(row, K).probs;
    const lp = solveLinearProgram(modelguardLinearProgram(row, 1));
    assert.ok(Math.abs((lp as { value: number }).value - modelguardObjective(row, x)) < 1e-7, `K = ${K}`);
  }
});

test("the answer moves mass toward the least likely classes (higher cross-entropy than y)", () => {
  const y = new Float64Array([0.9, 0.06, 0.03, 0.01]);
  const x = createModelGuardSolver(core, { epsilon: 0.5 }).solve(y, 4).probs;
  assert.ok(modelguardObjective(y, x) > modelguardObjective(y, y) + 0.5);
  assert.ok(x[3] > y[3] + 0.2, `the least likely class gains the most (${x[3]})`);
});

test("bad options and bad rows are reported with the field", () => {
  assert.throws(() => createModelGuardSolver(core, { epsilon: 3 }), (e: unknown) => e instanceof CoreInputError && e.field === "epsilon");
  assert.throws(() => createModelGuardSolver(core, { epsilon: -1 }), (e: unknown) => e instanceof CoreInputError && e.field === "epsilon");
  assert.throws(() => createModelGuardSolver(core, { epsilon: 1, margin: NaN }), (e: unknown) => e instanceof CoreInputError && e.field === "margin");
  const solver = createModelGuardSolver(core, { epsilon: 1 });
  assert.throws(() => solver.solve(new Float32Array([0.5, 0.5, 0.2, 0.9]), 2), (e: unknown) => e instanceof CoreInputError && e.row === 1);
  assert.throws(() => solver.solve(new Float32Array([0.5, 0.5, 0.2]), 2), (e: unknown) => e instanceof CoreInputError && e.field === "probs");
});

test.run();
