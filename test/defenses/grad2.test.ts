// GRAD² (grad2.ts): its optimisation step against two independent oracles (exhaustive enumeration of a
// grid that holds the optimum, and the test-only LP solver), its parameters, its use of the surrogate,
// and a run on a real scratch LeNet surrogate.
import * as tf from "@tensorflow/tfjs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createDefense, DefenseConfigError, DefenseInputError, grad2Row, type DefenseProxy } from "../../src/defenses/index.js";
import { initBackend } from "../../src/models/backend.js";
import { Proxy } from "../../src/models/proxy.js";
import type { InputBatch } from "../../src/models/types.js";
import { solveLinearProgram, type Relation } from "../reference/lp.js";
import { createRng, randomSimplexPoint } from "../reference/random.js";
import { argmax, batchOf, l1, randomRows, rowOf } from "./helpers.js";

const dot = (c: ArrayLike<number>, x: ArrayLike<number>) => {
  let s = 0;
  for (let k = 0; k < c.length; k++) s += c[k] * x[k];
  return s;
};

function assertFeasible(y: ArrayLike<number>, x: ArrayLike<number>, epsilon: number, what: string) {
  let sum = 0;
  for (let k = 0; k < x.length; k++) {
    assert.ok(x[k] >= 0, `${what}: entry ${k} is ${x[k]}`);
    sum += x[k];
  }
  assert.ok(Math.abs(sum - 1) < 1e-9, `${what}: sums to ${sum}`);
  assert.ok(l1(x, y) <= epsilon + 1e-9, `${what}: L1 ${l1(x, y)} > ${epsilon}`);
}

/** min Σ c_k n_k/N over integer n >= 0, Σ n = N, Σ |n − N·y| <= E (y = m/N on the grid, ε = E/N): exhaustive. */
function gridMinimum(m: number[], c: number[], N: number, E: number): number {
  const K = m.length;
  let best = Infinity;
  const n = new Array<number>(K).fill(0);
  const visit = (k: number, left: number, cost: number) => {
    if (cost > E) return;
    if (k === K - 1) {
      n[k] = left;
      if (cost + Math.abs(left - m[k]) <= E) best = Math.min(best, dot(c, n) / N);
      return;
    }
    for (let v = 0; v <= left; v++) {
      n[k] = v;
      visit(k + 1, left - v, cost + Math.abs(v - m[k]));
    }
  };
  visit(0, N, 0);
  return best;
}

test("the step is the exact optimum: exhaustive search over a grid that contains it", () => {
  const rng = createRng(21);
  let cases = 0;
  for (const [K, N] of [[2, 40], [3, 40], [4, 20], [5, 12]] as const) {
    for (let trial = 0; trial < 60; trial++) {
      // y on the 1/N grid, ε a multiple of 2/N: δ and every take are multiples of 1/N, so the optimum is a grid point.
      const m = new Array<number>(K).fill(0);
      for (let u = 0; u < N; u++) m[rng.integer(0, trial % 3 === 0 ? 0 : K - 1)]++;
      const y = m.map((v) => v / N);
      // Every third case has ties in c (small integers), the rest continuous values.
      const c = Array.from({ length: K }, () => (trial % 3 === 1 ? rng.integer(-2, 2) : rng.normal()));
      const E = 2 * rng.integer(0, N);
      const epsilon = E / N;
      const x = grad2Row(y, c, epsilon);
      assertFeasible(y, x, epsilon, `K ${K} trial ${trial}`);
      const exact = gridMinimum(m, c, N, E);
      assert.ok(Math.abs(dot(c, x) - exact) <= 1e-12 * (1 + Math.abs(exact)), `K ${K} trial ${trial}: ${dot(c, x)} vs grid ${exact}`);
      cases++;
    }
  }
  assert.is(cases, 240);
});

/** The same program as an LP over (x, u): maximise −c·x, x − u <= y, −x − u <= −y, Σ u <= ε, Σ x = 1. */
function lpMinimum(y: ArrayLike<number>, c: ArrayLike<number>, epsilon: number): number {
  const K = y.length;
  const row = (f: (j: number) => number) => Array.from({ length: 2 * K }, (_, j) => f(j));
  const constraints: { coefficients: number[]; relation: Relation; rhs: number }[] = [];
  for (let k = 0; k < K; k++) {
    constraints.push({ coefficients: row((j) => (j === k ? 1 : j === K + k ? -1 : 0)), relation: "<=", rhs: y[k] });
    constraints.push({ coefficients: row((j) => (j === k ? -1 : j === K + k ? -1 : 0)), relation: "<=", rhs: -y[k] });
  }
  constraints.push({ coefficients: row((j) => (j >= K ? 1 : 0)), relation: "<=", rhs: epsilon });
  constraints.push({ coefficients: row((j) => (j < K ? 1 : 0)), relation: "=", rhs: 1 });
  const result = solveLinearProgram({ objective: row((j) => (j < K ? -c[j] : 0)), constraints });
  if (result.status !== "optimal") throw new Error(`LP ${result.status}`);
  return -result.value;
}

test("the step matches an LP solver on random rows off the grid (K = 2..8, ε in [0, 2])", () => {
  const rng = createRng(5);
  for (let trial = 0; trial < 300; trial++) {
    const K = 2 + (trial % 7);
    const y = randomSimplexPoint(rng, K, trial % 2 ? 3 : 0.7);
    const c = Array.from({ length: K }, () => rng.normal());
    const epsilon = trial % 10 === 0 ? 0 : 2 * rng.uniform();
    const x = grad2Row(y, c, epsilon);
    assertFeasible(y, x, epsilon, `trial ${trial}`);
    const lp = lpMinimum(y, c, epsilon);
    assert.ok(Math.abs(dot(c, x) - lp) <= 1e-9, `trial ${trial}: ${dot(c, x)} vs LP ${lp}`);
  }
});

test("the step by hand: δ = min(ε/2, 1 − y_j*) into argmin c, taken from the highest c first", () => {
  // c: class 2 lowest, class 0 highest then class 3 then class 1.
  const y = [0.5, 0.2, 0.1, 0.2];
  const c = [3, 1, -1, 2];
  assert.equal(Array.from(grad2Row(y, c, 0.6)), [0.2, 0.2, 0.4, 0.2]);
  assert.equal(Array.from(grad2Row(y, c, 1.4)).map((v) => +v.toFixed(12)), [0, 0.2, 0.8, 0]);
  assert.equal(Array.from(grad2Row(y, c, 2)).map((v) => +v.toFixed(12)), [0, 0, 1, 0]);
  assert.equal(Array.from(grad2Row(y, c, 0)), y);
  // Donors tied with the minimum give nothing (no gain): only class 0 moves.
  assert.equal(Array.from(grad2Row([0.3, 0.3, 0.4], [1, 0, 0], 2)), [0, 0.6, 0.4]);
});

test("parameters: defaults, ranges and choices", () => {
  const proxy = { directionalLogProbDerivative: async () => new Float32Array(0) } as unknown as DefenseProxy;
  assert.equal(createDefense("grad2", {}, { proxy }).params, { epsilon: 1, direction: "ones", fdStep: 1e-4 });
  const fails = (params: Record<string, unknown>, parameter: string, pattern: RegExp) => {
    try {
      createDefense("grad2", params, { proxy });
      assert.unreachable(JSON.stringify(params));
    } catch (e) {
      assert.instance(e, DefenseConfigError);
      assert.is((e as DefenseConfigError).parameter, parameter);
      assert.match(String(e), pattern);
    }
  };
  fails({ epsilon: -0.1 }, "epsilon", />= 0/);
  fails({ epsilon: 2.5 }, "epsilon", /<= 2/);
  fails({ direction: "zeros" }, "direction", /"ones", "minus-theta"/);
  fails({ fdStep: 0 }, "fdStep", /> 0/);
  fails({ fdStep: 0.5 }, "fdStep", /<= 0.1/);
  fails({ h: 1e-3 }, "h", /unknown parameter/);
});

test("without a surrogate proxy it refuses to build; without the inputs it refuses to answer", async () => {
  for (const deps of [{}, { proxy: { probs: async () => new Float32Array(0), jacobian: async () => ({ kind: "identity" as const }) } }]) {
    try {
      createDefense("grad2", {}, deps);
      assert.unreachable("built");
    } catch (e) {
      assert.instance(e, DefenseConfigError);
      assert.match(String(e), /needs a surrogate proxy/);
    }
  }
  const d = createDefense("grad2", {}, { proxy: { directionalLogProbDerivative: async () => new Float32Array(3) } as unknown as DefenseProxy });
  try {
    await d.apply(batchOf(new Float32Array([0.2, 0.3, 0.5]), 3));
    assert.unreachable("answered");
  } catch (e) {
    assert.instance(e, DefenseInputError);
    assert.match(String(e), /inputs/);
  }
});

test("the surrogate's derivative D gives c = −D; the direction, the step and dispose reach it", async () => {
  const calls: [string, number][] = [];
  let released = 0;
  const D = new Float32Array([0.5, -2, 1, 3, 0, -1]);
  const proxy: DefenseProxy = {
    probs: async () => new Float32Array(0),
    jacobian: async () => ({ kind: "identity" }),
    directionalLogProbDerivative: async (_batch, direction, h) => {
      calls.push([direction, h]);
      return D;
    },
    releaseDirectionalCopies: () => void released++,
  };
  const y = new Float32Array([0.6, 0.3, 0.1, 0.2, 0.7, 0.1]);
  const inputs: InputBatch = { data: new Float32Array(2), batchSize: 2, inputShape: [1] };
  const d = createDefense("grad2", { epsilon: 0.4, direction: "minus-theta", fdStep: 1e-3 }, { proxy });
  assert.equal(d.traits, { keepsTop1: false, needsInput: true, stateful: false, randomized: false, onSimplex: true });
  const { probs } = await d.apply(batchOf(y, 3, { inputs }));
  assert.equal(calls, [["theta", 1e-3]]);
  for (let i = 0; i < 2; i++) {
    const c = Array.from(rowOf(D, i, 3), (v) => -v);
    assert.equal(Array.from(rowOf(probs, i, 3)), Array.from(Float32Array.from(grad2Row(rowOf(y, i, 3), c, 0.4))), `row ${i}`);
  }
  // Row 0: c = (−0.5, 2, −1): class 2 gains 0.2, taken from class 1 (highest c).
  assert.ok(Math.abs(probs[2] - 0.3) < 1e-6 && Math.abs(probs[1] - 0.1) < 1e-6);
  await createDefense("grad2", {}, { proxy }).apply(batchOf(y, 3, { inputs }));
  assert.equal(calls[1], ["ones", 1e-4]);
  d.dispose?.();
  assert.is(released, 1);
  // A surrogate with another number of classes is named.
  const wrong = createDefense("grad2", {}, { proxy: { ...proxy, directionalLogProbDerivative: async () => new Float32Array(4) } });
  try {
    await wrong.apply(batchOf(y, 3, { inputs }));
    assert.unreachable("answered");
  } catch (e) {
    assert.match(String(e), /surrogate answered 2 classes per query, the victim 3/);
  }
});

test("top-1 is not kept: a confident row can lose its class", async () => {
  const proxy = { directionalLogProbDerivative: async () => new Float32Array([1, 0, -1]) } as unknown as DefenseProxy;
  const d = createDefense("grad2", { epsilon: 1 }, { proxy });
  const { probs } = await d.apply(batchOf(new Float32Array([0.6, 0.3, 0.1]), 3, { inputs: { data: new Float32Array(1), batchSize: 1, inputShape: [1] } }));
  // c = −D = (−1, 0, 1): δ = 0.4 goes into class 0, which keeps its lead. With D negated, c = (1, 0, −1):
  // δ = 0.5 goes into class 2, taken from class 0 (highest c), which loses the top.
  assert.is(argmax(probs), 0);
  const flipped = createDefense("grad2", { epsilon: 1 }, { proxy: { directionalLogProbDerivative: async () => new Float32Array([-1, 0, 1]) } as unknown as DefenseProxy });
  const answer = await flipped.apply(batchOf(new Float32Array([0.6, 0.3, 0.1]), 3, { inputs: { data: new Float32Array(1), batchSize: 1, inputShape: [1] } }));
  assert.equal(Array.from(answer.probs).map((v) => +v.toFixed(6)), [0.1, 0.3, 0.6]);
  assert.is(argmax(answer.probs), 2);
});

test("on a real scratch LeNet surrogate: valid answers, mass into argmin c, a batch like its rows, copies freed by dispose", async () => {
  await initBackend();
  const surrogate = Proxy.scratch({ arch: "lenet", numClasses: 10, inputShape: [28, 28, 1], seed: 3 });
  const B = 4;
  const rng = createRng(8);
  const inputs: InputBatch = { data: Float32Array.from({ length: B * 784 }, () => rng.uniform()), batchSize: B, inputShape: [28, 28, 1] };
  const y = randomRows(B, 10, 4);
  const D = await surrogate.directionalLogProbDerivative(inputs, "ones", 1e-4);
  const before = tf.memory().numTensors;
  const d = createDefense("grad2", { epsilon: 0.8 }, { proxy: surrogate });
  const { probs } = await d.apply(batchOf(y, 10, { inputs }));
  for (let i = 0; i < B; i++) {
    const row = rowOf(probs, i, 10);
    assert.ok(Math.abs(row.reduce((s, v) => s + v, 0) - 1) < 1e-5, `row ${i} sum`);
    assert.ok(l1(row, rowOf(y, i, 10)) <= 0.8 + 1e-5, `row ${i} budget`);
    let jStar = 0;
    for (let k = 1; k < 10; k++) if (-D[i * 10 + k] < -D[i * 10 + jStar]) jStar = k;
    assert.ok(row[jStar] > y[i * 10 + jStar], `row ${i}: class ${jStar} (least c) gains`);
    const single = await d.apply(batchOf(rowOf(y, i, 10), 10, { inputs: { data: inputs.data.slice(i * 784, (i + 1) * 784), batchSize: 1, inputShape: [28, 28, 1] } }));
    assert.equal(Array.from(single.probs), Array.from(row), `row ${i} alone`);
  }
  d.dispose?.();
  await new Promise((r) => setTimeout(r, 0));
  assert.ok(tf.memory().numTensors < before, "the weight-shifted copies are freed");
  surrogate.dispose();
});

test.run();
