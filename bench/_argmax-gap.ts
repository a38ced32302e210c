// How far MAD-argmax's searches beyond exactArgmaxLimit (default K > 20) fall short of the exhaustive
// search, on K = 12..20 where both run. Same rows through two perturbers: exactArgmaxLimit 24
// (exhaustive) and 1 (the sorted search for `linesearch`, the greedy for `reachable`; with --refine
// also + swap passes); for `linesearch` also the former greedy (its float64 port,
// test/reference/argmax-search.ts). --large instead compares the core's sorted search with the former
// greedy at K = 100 and 1000, where no exhaustive search runs. Not a bench suite (leading underscore):
//   node --import tsx bench/_argmax-gap.ts [--rows N] [--refine] [--k 12-20]
//   node --import tsx bench/_argmax-gap.ts --large [--rows N]
// Objective: H (angular, `probs` Jacobian = a proxy softmax) of what the search maximises: the target
// y* itself for `linesearch` (the paper's heuristic), the answer ỹ for `reachable`. gap =
// (exhaustive − greedy)/|exhaustive|, >= 0 since the exhaustive is optimal. Rows: for each K, family and
// ε in {0.5, 1, 2}, N fresh rows (default 40: 3 families x 3 ε x 40 = 360 rows per K and step).
import { loadCore, type PerturbOptions, type Step } from "../src/core/index.js";
import { argmaxCandidate, objectiveFor } from "../test/reference/mad.js";
import { greedyArgmaxBySums } from "../test/reference/argmax-search.js";
import { createRng, type Rng } from "../test/reference/random.js";

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const value = (name: string, fallback: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const ROWS = Number(value("--rows", "40"));
const [K_LO, K_HI] = value("--k", "12-20").split("-").map(Number);
const REFINE = flag("--refine");
const EPSILONS = [0.5, 1, 2];
const STEPS: Step[] = ["linesearch", "reachable"];

/** Gamma(shape, 1) (Marsaglia–Tsang; shape < 1 by the boost u^(1/shape)). */
function gamma(rng: Rng, shape: number): number {
  if (shape < 1) return gamma(rng, shape + 1) * Math.pow(1 - rng.uniform(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = rng.normal();
    const v = (1 + c * x) ** 3;
    if (v <= 0) continue;
    const u = 1 - rng.uniform();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

function normalise(z: Float64Array): Float64Array {
  let total = 0;
  for (const v of z) total += v;
  for (let i = 0; i < z.length; i++) z[i] /= total;
  return z;
}

function dirichlet(rng: Rng, K: number, alpha: number): Float64Array {
  // Floor tiny entries so rows stay valid probabilities in f64 (alpha 0.1 underflows now and then).
  return normalise(Float64Array.from({ length: K }, () => Math.max(gamma(rng, alpha), 1e-300)));
}

function softmaxNormal(rng: Rng, K: number, scale: number): Float64Array {
  const z = Float64Array.from({ length: K }, () => scale * rng.normal());
  const max = Math.max(...z);
  for (let i = 0; i < K; i++) z[i] = Math.exp(z[i] - max);
  return normalise(z);
}

const FAMILIES: { name: string; draw: (rng: Rng, K: number) => Float64Array }[] = [
  { name: "dirichlet(0.1) peaked", draw: (rng, K) => dirichlet(rng, K, 0.1) },
  { name: "dirichlet(1) flat", draw: (rng, K) => dirichlet(rng, K, 1) },
  { name: "softmax(3·N(0,1))", draw: (rng, K) => softmaxNormal(rng, K, 3) },
];
/** Proxy: a flat Dirichlet or a mild softmax, alternating. */
const drawProxy = (rng: Rng, K: number, r: number) => (r % 2 ? dirichlet(rng, K, 1) : softmaxNormal(rng, K, 1.5));

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/** A gap below this (relative) is rounding: counted as 0. */
const ZERO = 1e-12;

interface Summary {
  rows: number;
  zero: number;
  median: number;
  p95: number;
  max: number;
  negative: number;
}

function summarise(gaps: number[]): Summary {
  const sorted = [...gaps].sort((a, b) => a - b);
  return {
    rows: gaps.length,
    zero: gaps.filter((g) => Math.abs(g) <= ZERO).length / gaps.length,
    median: quantile(sorted, 0.5),
    p95: quantile(sorted, 0.95),
    max: sorted[sorted.length - 1],
    negative: gaps.filter((g) => g < -ZERO).length,
  };
}

const pct = (x: number) => (Math.abs(x) <= ZERO ? "0" : `${(100 * x).toPrecision(2)} %`);
const line = (label: string, s: Summary) =>
  `| ${label} | ${s.rows} | ${(100 * s.zero).toFixed(1)} % | ${pct(s.median)} | ${pct(s.p95)} | ${pct(s.max)} |` +
  (s.negative ? ` (${s.negative} rows below 0)` : "");

const core = await loadCore();
if (flag("--large")) {
  await compareLarge();
  process.exit(0);
}
// "default": exactArgmaxLimit 1, i.e. the sorted search for `linesearch` and the greedy for `reachable`.
const searches: { name: string; options: Partial<PerturbOptions> | "former greedy" }[] = [
  { name: "default", options: { exactArgmaxLimit: 1 } },
  ...(REFINE ? [{ name: "default+swaps", options: { exactArgmaxLimit: 1, argmaxRefine: true } }] : []),
  { name: "former greedy", options: "former greedy" },
];
const all = new Map<string, number[]>();
const push = (key: string, g: number) => (all.get(key) ?? all.set(key, []).get(key)!).push(g);

console.log(`MAD-argmax, angular objective, L1 budget, probs Jacobian; ${ROWS} rows per K, family and ε (${EPSILONS.join(", ")})`);
const started = performance.now();
for (const step of STEPS)
  for (let K = K_LO; K <= K_HI; K++) {
    const perK = new Map<string, number[]>();
    for (const [f, family] of FAMILIES.entries())
      for (const epsilon of EPSILONS) {
        const rng = createRng(1000 * K + 10 * f + EPSILONS.indexOf(epsilon)); // same rows for both steps
        const probs = new Float64Array(ROWS * K);
        const proxy = new Float64Array(ROWS * K);
        for (let r = 0; r < ROWS; r++) {
          probs.set(family.draw(rng, K), r * K);
          proxy.set(drawProxy(rng, K, r), r * K);
        }
        const base: PerturbOptions = { oracle: "argmax", objective: "angular", distance: "l1", epsilon, step };
        const jacobian = { kind: "probs" as const, proxyProbs: proxy };
        const run = (extra: Partial<PerturbOptions>) => core.createPerturber({ ...base, ...extra }).perturbWithTargets(probs, K, jacobian);
        const exact = run({ exactArgmaxLimit: 24 });
        const objective = (out: { probs: Float64Array; targets: Float64Array }, r: number) => {
          const y = probs.subarray(r * K, (r + 1) * K);
          const H = objectiveFor("angular", y, { kind: "probs", proxyProbs: proxy.subarray(r * K, (r + 1) * K) });
          // linesearch: the search maximises H at the candidate; reachable: at the answer it reaches.
          return H((step === "linesearch" ? out.targets : out.probs).subarray(r * K, (r + 1) * K));
        };
        for (const search of searches) {
          if (search.options === "former greedy" && step !== "linesearch") continue; // its port scores at the candidates only
          const approx = search.options === "former greedy" ? formerGreedy(probs, proxy, K, ROWS) : run(search.options);
          for (let r = 0; r < ROWS; r++) {
            const best = objective(exact, r);
            const got = objective(approx, r);
            const gap = best === 0 ? (got === 0 ? 0 : (best - got) / 1e-300) : (best - got) / Math.abs(best);
            (perK.get(search.name) ?? perK.set(search.name, []).get(search.name)!).push(gap);
            push(`${step}|${search.name}|all`, gap);
            push(`${step}|${search.name}|${family.name}`, gap);
            push(`${step}|${search.name}|ε=${epsilon}`, gap);
          }
        }
      }
    for (const [name, gaps] of perK) console.log(line(`${step} | ${name} | K=${K}`, summarise(gaps)));
  }
console.log("\n| step | search | rows of | n | gap 0 | median | p95 | max |\n|---|---|---|---|---|---|---|---|");
// Grouped: step, search, then all rows, each family, each ε.
const rank = (key: string) => {
  const [step, search, of] = key.split("|");
  return `${STEPS.indexOf(step as Step)}|${searches.findIndex((s) => s.name === search)}|${of === "all" ? 0 : of.startsWith("ε") ? 2 : 1}|${of}`;
};
const keys = [...all.keys()].sort((a, b) => (rank(a) < rank(b) ? -1 : rank(a) > rank(b) ? 1 : 0));
for (const key of keys) console.log(line(key.split("|").join(" | "), summarise(all.get(key)!)));
console.log(`\n${((performance.now() - started) / 1000).toFixed(1)} s`);

/** The former greedy's targets for rows of probs (its float64 port; targets only, probs unused). */
function formerGreedy(probs: Float64Array, proxy: Float64Array, K: number, rows: number): { probs: Float64Array; targets: Float64Array } {
  const targets = new Float64Array(rows * K);
  for (let r = 0; r < rows; r++) {
    const y = probs.subarray(r * K, (r + 1) * K);
    const g = greedyArgmaxBySums({ y, p: proxy.subarray(r * K, (r + 1) * K), angular: true });
    const members = [...g.members.keys()].filter((k) => g.members[k]);
    targets.set(argmaxCandidate(members, y.indexOf(Math.max(...y)), K), r * K);
  }
  return { probs: targets, targets };
}

/**
 * --large: the core's sorted search (default beyond the limit) against the former greedy at K = 100
 * and 1000, `linesearch` (H at the target). diff = (H_sorted − H_greedy)/|H_greedy|: > 0 the sorted
 * search is better. Rows per K and family: --rows (default 2,000 at K = 100, 250 at K = 1000).
 */
async function compareLarge(): Promise<void> {
  const families = [
    ...FAMILIES,
    { name: "bench rows (softmax(4·N) victim, softmax(0.5·N) proxy)", draw: (rng: Rng, K: number) => softmaxNormal(rng, K, 4) },
  ];
  console.log("| K | victims | rows | sorted better | equal | sorted worse | min diff | p5 | median | p95 | max diff |\n|---|---|---|---|---|---|---|---|---|---|---|");
  for (const K of [100, 1000]) {
    const rows = args.includes("--rows") ? ROWS : K === 100 ? 2000 : 250;
    const all: number[] = [];
    const report = (label: string, diffs: number[]) => {
      const sorted = [...diffs].sort((a, b) => a - b);
      const f = (x: number) => (Math.abs(x) <= ZERO ? "0" : `${(100 * x).toPrecision(2)} %`);
      const share = (n: number) => `${((100 * n) / diffs.length).toFixed(1)} % (${n})`;
      console.log(
        `| ${K} | ${label} | ${diffs.length} | ${share(diffs.filter((d) => d > ZERO).length)} | ${share(diffs.filter((d) => Math.abs(d) <= ZERO).length)} | ` +
          `${share(diffs.filter((d) => d < -ZERO).length)} | ${f(sorted[0])} | ${f(quantile(sorted, 0.05))} | ${f(quantile(sorted, 0.5))} | ${f(quantile(sorted, 0.95))} | ${f(sorted[sorted.length - 1])} |`,
      );
    };
    for (const [f, family] of families.entries()) {
      const rng = createRng(77 * K + f);
      const probs = new Float64Array(rows * K);
      const proxy = new Float64Array(rows * K);
      for (let r = 0; r < rows; r++) {
        probs.set(family.draw(rng, K), r * K);
        proxy.set(f === FAMILIES.length ? softmaxNormal(rng, K, 0.5) : drawProxy(rng, K, r), r * K);
      }
      const out = core
        .createPerturber({ oracle: "argmax", objective: "angular", distance: "l1", epsilon: 0.5 })
        .perturbWithTargets(probs, K, { kind: "probs", proxyProbs: proxy });
      const greedy = formerGreedy(probs, proxy, K, rows);
      const diffs: number[] = [];
      for (let r = 0; r < rows; r++) {
        const H = objectiveFor("angular", probs.subarray(r * K, (r + 1) * K), { kind: "probs", proxyProbs: proxy.subarray(r * K, (r + 1) * K) });
        const hs = H(out.targets.subarray(r * K, (r + 1) * K));
        const hg = H(greedy.targets.subarray(r * K, (r + 1) * K));
        diffs.push(hg === 0 ? (hs === 0 ? 0 : 1) : (hs - hg) / Math.abs(hg));
      }
      report(family.name, diffs);
      all.push(...diffs);
    }
    report("all", all);
  }
}
