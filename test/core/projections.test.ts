// The three Euclidean projections (simplex, L1 ball, L2 ball) against their optimality conditions
// and against brute force: no sampled feasible point may be closer to v than the answer.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadCore, CoreInputError } from "../../src/core/index.js";
import { createRng, randomSimplexPoint } from "./helpers.js";

const core = await loadCore();
const rng = createRng(7);

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
const sub = (a: ArrayLike<number>, b: ArrayLike<number>) => Float64Array.from({ length: a.length }, (_, i) => a[i] - b[i]);
const l1 = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + Math.abs(v), 0);
const l2 = (a: ArrayLike<number>) => Math.sqrt(dot(a, a));
const randomVector = (K: number, scale: number) => Float64Array.from({ length: K }, () => scale * rng.normal());

/** x is the projection of v onto a convex set C iff (v − x)·(z − x) <= 0 for every z in C. */
function assertVariationalInequality(v: Float64Array, x: Float64Array, samples: Float64Array[], label: string): void {
  const residual = sub(v, x);
  for (const z of samples) {
    const value = dot(residual, sub(z, x));
    assert.ok(value <= 1e-10 * (1 + l2(residual)), `${label}: (v − x)·(z − x) = ${value} > 0`);
  }
}

test("projectOntoSimplex: on the simplex, of the form max(v − θ, 0), closer than any sampled simplex point", () => {
  for (let trial = 0; trial < 300; trial++) {
    const K = 1 + Math.floor(rng.uniform() * 40);
    const v = randomVector(K, trial % 3 === 0 ? 5 : 0.5);
    const x = core.projectOntoSimplex(v);
    assert.is(x.length, K);
    let sum = 0;
    for (const xi of x) {
      assert.ok(xi >= 0);
      sum += xi;
    }
    assert.ok(Math.abs(sum - 1) < 1e-12, `sum ${sum}`);
    // KKT: a single threshold θ with x_i = v_i − θ where x_i > 0 and v_i <= θ where x_i = 0.
    const positive = x.findIndex((xi) => xi > 0);
    const theta = v[positive] - x[positive];
    for (let i = 0; i < K; i++) {
      if (x[i] > 0) assert.ok(Math.abs(v[i] - x[i] - theta) < 1e-12, `θ differs at ${i}`);
      else assert.ok(v[i] <= theta + 1e-12, `v_${i} = ${v[i]} above θ = ${theta} but clipped`);
    }
    const samples = Array.from({ length: 20 }, () => randomSimplexPoint(rng, K, 3));
    for (let k = 0; k < K; k++) samples.push(Float64Array.from({ length: K }, (_, i) => (i === k ? 1 : 0)));
    assertVariationalInequality(v, x, samples, `K=${K}`);
  }
});

test("projectOntoSimplex: brute force over a fine grid of the 2- and 3-simplex", () => {
  for (let trial = 0; trial < 40; trial++) {
    const K = trial % 2 === 0 ? 2 : 3;
    const v = randomVector(K, 1);
    const x = core.projectOntoSimplex(v);
    const best = l2(sub(v, x));
    const steps = 200;
    for (let a = 0; a <= steps; a++)
      for (let b = 0; b <= (K === 3 ? steps - a : 0); b++) {
        const z = K === 2 ? [a / steps, 1 - a / steps] : [a / steps, b / steps, 1 - (a + b) / steps];
        assert.ok(l2(sub(v, z)) >= best - 1e-12, `grid point ${z} beats the projection`);
      }
  }
});

test("projectOntoSimplex: a point already on the simplex is returned unchanged", () => {
  const y = randomSimplexPoint(rng, 12, 2);
  const x = core.projectOntoSimplex(y);
  for (let i = 0; i < y.length; i++) assert.ok(Math.abs(x[i] - y[i]) < 1e-15);
});

test("projectOntoL1Ball: inside the ball, unchanged when inside, on the boundary and optimal otherwise", () => {
  for (let trial = 0; trial < 300; trial++) {
    const K = 1 + Math.floor(rng.uniform() * 30);
    const c = randomVector(K, 1);
    const v = randomVector(K, 2);
    const r = rng.uniform() * 3;
    const x = core.projectOntoL1Ball(v, c, r);
    const dist = l1(sub(x, c));
    if (l1(sub(v, c)) <= r) {
      assert.equal(Array.from(x), Array.from(v));
      continue;
    }
    assert.ok(Math.abs(dist - r) <= 1e-12 * (1 + r), `on the boundary: ${dist} vs ${r}`);
    const samples: Float64Array[] = [];
    for (let s = 0; s < 30; s++) {
      const w = randomVector(K, 1);
      const scale = (r * rng.uniform()) / l1(w);
      samples.push(Float64Array.from(w, (wi, i) => c[i] + scale * wi));
    }
    for (let k = 0; k < K; k++)
      for (const sign of [-1, 1]) samples.push(Float64Array.from(c, (ci, i) => ci + (i === k ? sign * r : 0)));
    assertVariationalInequality(v, x, samples, `L1 K=${K}`);
  }
});

test("projectOntoL2Ball: radial shrink towards the centre", () => {
  for (let trial = 0; trial < 300; trial++) {
    const K = 1 + Math.floor(rng.uniform() * 30);
    const c = randomVector(K, 1);
    const v = randomVector(K, 2);
    const r = rng.uniform() * 3;
    const x = core.projectOntoL2Ball(v, c, r);
    const norm = l2(sub(v, c));
    const scale = norm <= r ? 1 : r / norm;
    for (let i = 0; i < K; i++) assert.ok(Math.abs(x[i] - (c[i] + scale * (v[i] - c[i]))) < 1e-12);
    assert.ok(l2(sub(x, c)) <= r * (1 + 1e-12) || norm <= r);
  }
});

test("radius 0 gives the centre; radius >= the distance gives v", () => {
  const v = Float64Array.of(0, 0);
  const c = Float64Array.of(1e-12, 0);
  assert.equal(Array.from(core.projectOntoL1Ball(v, c, 0)), [1e-12, 0]);
  assert.equal(Array.from(core.projectOntoL2Ball(v, c, 0)), [1e-12, 0]);
  assert.equal(Array.from(core.projectOntoL1Ball(v, c, 1)), [0, 0]);
  assert.equal(Array.from(core.projectOntoL2Ball(v, c, 1)), [0, 0]);
});

test("bad arguments raise CoreInputError naming the argument", () => {
  const expectError = (fn: () => unknown, field: string) => {
    try {
      fn();
    } catch (error) {
      assert.instance(error, CoreInputError);
      assert.is((error as CoreInputError).field, field);
      return;
    }
    assert.unreachable(`expected a CoreInputError for ${field}`);
  };
  expectError(() => core.projectOntoSimplex(Float64Array.of(0.5, NaN)), "v");
  expectError(() => core.projectOntoSimplex(new Float64Array(0)), "v");
  expectError(() => core.projectOntoL1Ball(Float64Array.of(1, 2), Float64Array.of(1), 1), "center");
  expectError(() => core.projectOntoL2Ball(Float64Array.of(1, 2), Float64Array.of(1, 2), -1), "radius");
  expectError(() => core.projectOntoL2Ball(Float64Array.of(1, Infinity), Float64Array.of(1, 2), 1), "v");
});

test.run();
