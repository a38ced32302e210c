// Shapiro–Wilk (AS R94) against reference values.
//  - Published: Shapiro & Wilk (1965), "An analysis of variance test for normality (complete samples)",
//    Biometrika 52(3/4): the worked example, weights of 11 men in pounds, W = 0.79 (p < 0.01).
//  - Independent oracle: scipy.stats.shapiro of SciPy 1.17.1 (its swilk port of Royston's AS R94, the
//    algorithm R's shapiro.test documents), run once on the samples below (each defined by a formula, so
//    both sides compute the same values); W and p are pasted here to 16 digits.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { normalQuantile, normalUpperTail, shapiroWilk, shapiroWilkCoefficients } from "../../src/defenses/shapiro-wilk.js";

const seq = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, k) => f(k + 1));

const cases: { name: string; sample: number[]; w: number; p: number }[] = [
  { name: "Shapiro & Wilk 1965: weights of 11 men", sample: [148, 154, 158, 160, 161, 162, 166, 170, 182, 195, 236], w: 0.7888146948631716, p: 0.006703814061898823 },
  { name: "n = 3 (exact p)", sample: [1, 2, 4], w: 0.9642857142857142, p: 0.6368868450289689 },
  { name: "n = 5", sample: [2.1, 3.3, 1.7, 5.9, 4.4], w: 0.9484940702934832, p: 0.7264262438654729 },
  { name: "n = 20: 10 sin(1.3 i) + i/3", sample: seq(20, (i) => Math.sin(i * 1.3) * 10 + i / 3), w: 0.9235925655642414, p: 0.11620294199307274 },
  { name: "n = 100: exp(sin i), skewed", sample: seq(100, (i) => Math.exp(Math.sin(i))), w: 0.8636446972303061, p: 3.918012229490935e-8 },
  { name: "n = 300: bimodal", sample: seq(300, (i) => (i % 2 ? 0 : 5) + Math.sin(i * 0.7)), w: 0.845650459266385, p: 1.209681198130081e-16 },
  { name: "n = 1000: sin i + sin 0.37i + sin 2.11i", sample: seq(1000, (i) => Math.sin(i) + Math.sin(i * 0.37) + Math.sin(i * 2.11)), w: 0.9938534608116566, p: 0.00039622702227173293 },
  { name: "n = 5000: golden-ratio fractions (uniform)", sample: seq(5000, (i) => (i * 0.6180339887498949) % 1), w: 0.9548989166284827, p: 9.363454684741487e-37 },
];

for (const c of cases) {
  test(`W and p match the reference: ${c.name}`, () => {
    const r = shapiroWilk(c.sample);
    assert.is(r.n, c.sample.length);
    assert.ok(Math.abs(r.w - c.w) < 1e-8, `W ${r.w} vs ${c.w}`);
    assert.ok(Math.abs(r.p - c.p) <= 1e-6 * c.p + 1e-12, `p ${r.p} vs ${c.p}`);
  });
}

test("the 1965 paper's example: W = 0.79, significant at 1%", () => {
  const r = shapiroWilk([148, 154, 158, 160, 161, 162, 166, 170, 182, 195, 236]);
  assert.is(Number(r.w.toFixed(2)), 0.79);
  assert.ok(r.p < 0.01);
});

test("W does not depend on order, location or scale", () => {
  const x = seq(57, (i) => Math.cos(i * 0.9) + i / 40);
  const base = shapiroWilk(x);
  const moved = shapiroWilk(x.map((v) => 3 - 2.5 * v).reverse());
  assert.ok(Math.abs(base.w - moved.w) < 1e-12);
  assert.ok(Math.abs(base.p - moved.p) < 1e-12);
});

test("coefficients are normalised (sum of squares over both halves is 1)", () => {
  for (const n of [3, 4, 5, 6, 11, 12, 50, 777, 5000]) {
    const a = shapiroWilkCoefficients(n);
    const ss = 2 * a.reduce((s, v) => s + v * v, 0);
    assert.ok(Math.abs(ss - 1) < 1e-12, `n = ${n}: ${ss}`);
    for (let i = 1; i < a.length; i++) assert.ok(a[i] <= a[i - 1], `n = ${n}: a decreasing`);
  }
});

test("normal quantile and tail against SciPy's ndtri / ndtr", () => {
  const q: [number, number][] = [
    [1e-10, -6.361340902404056], [0.001, -3.090232306167813], [0.02, -2.053748910631823], [0.3, -0.5244005127080409],
    [0.5, 0], [0.77, 0.7388468491852137], [0.99, 2.3263478740408408], [1 - 1e-9, 5.997807019601637],
  ];
  for (const [p, x] of q) assert.ok(Math.abs(normalQuantile(p) - x) < 1e-9 * Math.max(1, Math.abs(x)), `Φ⁻¹(${p})`);
  const tails: [number, number][] = [
    [-3, 0.9986501019683699], [-1, 0.8413447460685429], [0, 0.5], [0.5, 0.3085375387259869], [2.2, 0.013903447513498595],
    [6, 9.865876450376946e-10], [7.5, 3.1908916729108844e-14], [12, 1.776482112077653e-33],
  ];
  for (const [x, p] of tails) assert.ok(Math.abs(normalUpperTail(x) - p) < 1e-8 * p, `Q(${x})`);
});

test("too few, too many, constant or non-finite samples are refused", () => {
  assert.throws(() => shapiroWilk([1, 2]), /at least 3/);
  assert.throws(() => shapiroWilk(new Array(5001).fill(0).map((_, i) => i)), /at most 5000/);
  assert.throws(() => shapiroWilk([2, 2, 2, 2]), /the same/);
  assert.throws(() => shapiroWilk([1, NaN, 3]), /NaN/);
});

test.run();
