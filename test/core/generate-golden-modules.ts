// Writes the golden files test/fixtures/core-golden/<module>.jsonl from the CURRENT build of the WASM
// core (build/core.wasm via src/core/generated), one file per AssemblyScript module: each line a case
// (input, options, expected output; format in test/core/golden-modules.ts). The inputs are drawn from
// fixed seeds (test/reference/random.ts), so a rerun on the same build writes the same bytes.
//
//   npx tsx test/core/generate-golden-modules.ts            # write the fixtures, print the cross-check
//   npx tsx test/core/generate-golden-modules.ts --check    # cross-check only, write nothing
//   PP_CORE_WASM=path/to/core.wasm npx tsx ...               # from another build, run through this tree's
//                                                            # src/core (an older build: with its own src/core)
//
// While generating, each case is also run through the float64 TypeScript references where they exist
// (test/reference/mad.ts: oracles, steps, the exhaustive and the greedy argmax; argmax-search.ts: the
// sorted search; lp.ts: ModelGuard-W; the projections), and every disagreement is printed: a target
// the reference does not choose (unless the reference reports a near tie), an answer further than
// rounding from the reference's, an invalid answer, or a sweep block that differs from perturb.
// test/core/golden-modules.test.ts replays the files and demands the outputs bit for bit.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadCore, type Core, type PerturbOptions } from "../../src/core/index.js";
import type { ModelGuardOptions } from "../../src/core/modelguard.js";
import {
  argmaxCandidate, argmaxIndex, isNearTie, keepsTop1Strictly, l1Distance, objectiveFor, projectOntoL1Ball,
  projectOntoL2Ball, projectOntoSimplex, referencePerturb, stepTowards, type ReferenceOptions, type RowJacobian,
} from "../reference/mad.js";
import { sortedArgmax } from "../reference/argmax-search.js";
import { modelguardLinearProgram, modelguardObjective, solveLinearProgram } from "../reference/lp.js";
import { createRng, randomGram, randomSimplexPoint, type Rng } from "./helpers.js";
import { decode, encode, runCase, type GoldenCase } from "./golden-modules.js";

const outDir = fileURLToPath(new URL("../fixtures/core-golden/", import.meta.url));
const checkOnly = process.argv.includes("--check");
const core: Core = await loadCore(process.env.PP_CORE_WASM ? readFileSync(process.env.PP_CORE_WASM) : undefined);
const rng: Rng = createRng(20261201);

// ---------------------------------------------------------------- inputs

type F = "f32" | "f64";
const random = (K: number, sharpness = 2) => randomSimplexPoint(rng, K, sharpness);
const uniform = (K: number) => new Float64Array(K).fill(1 / K);
const oneHot = (K: number, k: number) => {
  const v = new Float64Array(K);
  v[k] = 1;
  return v;
};
/** Two classes share the top: the first argmax decides m. */
const tiedTop = (K: number) => {
  const v = random(K, 1);
  let a = 0;
  for (let i = 1; i < K; i++) if (v[i] > v[a]) a = i;
  const b = (a + 1) % K;
  const top = (v[a] + v[b]) / 2;
  v[a] = top;
  v[b] = top;
  return v;
};
/** Some classes have probability 0 (KL's special case; argmin ties). */
const withZeros = (K: number) => {
  const v = random(K, 2);
  for (let i = 1; i < K; i += 3) v[i] = 0;
  const total = v.reduce((s, x) => s + x, 0);
  return v.map((x) => x / total);
};
/** y ≈ e_k: the cancellation-free split at the top class matters. */
const nearOneHot = (K: number, k: number, rest = 1e-7) => {
  const v = new Float64Array(K).fill(rest);
  v[k] = 1 - (K - 1) * rest;
  return v;
};
const rows = (...vs: Float64Array[]) => {
  const out = new Float64Array(vs.reduce((s, v) => s + v.length, 0));
  let at = 0;
  for (const v of vs) (out.set(v, at), (at += v.length));
  return out;
};
const zeroGram = (K: number) => new Float64Array(K * K);
const rankOneGram = (K: number) => {
  const a = Float64Array.from({ length: K }, () => rng.normal());
  return Float64Array.from({ length: K * K }, (_, i) => a[Math.floor(i / K)] * a[i % K]);
};
/** Diagonal, with zeros on every third class: candidates with no direction (ã = 0). */
const sparseDiagonalGram = (K: number) => {
  const M = new Float64Array(K * K);
  for (let i = 0; i < K; i++) M[i * K + i] = i % 3 === 0 ? 0 : 0.5 + rng.uniform();
  return M;
};
const identityGram = (K: number) => {
  const M = new Float64Array(K * K);
  for (let i = 0; i < K; i++) M[i * K + i] = 1;
  return M;
};

type JacobianInput = { kind: "identity" } | { kind: "probs"; proxy: Float64Array; float?: F } | { kind: "gram"; gram: Float64Array };
const identity: JacobianInput = { kind: "identity" };
const probsJ = (proxy: Float64Array, float?: F): JacobianInput => ({ kind: "probs", proxy, float });
const gramJ = (gram: Float64Array): JacobianInput => ({ kind: "gram", gram });
/** A Jacobian of each kind for B rows of K classes, drawn fresh. */
const anyJacobian = (kind: "identity" | "probs" | "gram", B: number, K: number): JacobianInput => {
  if (kind === "probs") return probsJ(rows(...Array.from({ length: B }, () => random(K, 1))));
  if (kind === "gram") return gramJ(rows(...Array.from({ length: B }, () => randomGram(rng, K))));
  return identity;
};

const asFloat = (v: Float64Array, float: F) => (float === "f32" ? Float32Array.from(v) : v);

// ---------------------------------------------------------------- case builders

const modules = new Map<string, GoldenCase[]>();
let current = "";
const add = (c: GoldenCase) => {
  const list = modules.get(current) ?? [];
  if (list.some((other) => other.name === c.name)) throw new Error(`${current}: duplicate case name ${c.name}`);
  list.push(c);
  modules.set(current, list);
};

function encodeJacobian(j: JacobianInput, float: F): GoldenCase["jacobian"] {
  if (j.kind === "probs") {
    const pf = j.float ?? float;
    return { kind: "probs", float: pf, proxyProbs: encode(asFloat(j.proxy, pf)) };
  }
  if (j.kind === "gram") return { kind: "gram", gram: encode(j.gram) };
  return { kind: "identity" };
}

function perturbCase(name: string, options: PerturbOptions, K: number, y: Float64Array, float: F, jacobian: JacobianInput = identity, calls?: number[]): void {
  add({ name, call: "perturb", K, float, options, probs: encode(asFloat(y, float)), jacobian: encodeJacobian(jacobian, float), calls, expected: {} });
}

function sweepCase(name: string, options: PerturbOptions, K: number, y: Float64Array, float: F, epsilons: number[], jacobian: JacobianInput = identity): void {
  add({ name, call: "sweep", K, float, options, probs: encode(asFloat(y, float)), jacobian: encodeJacobian(jacobian, float), epsilons, expected: {} });
}

const O = (oracle: PerturbOptions["oracle"], objective: PerturbOptions["objective"], distance: PerturbOptions["distance"], epsilon: number, extra: Partial<PerturbOptions> = {}): PerturbOptions => ({
  oracle, objective, distance, epsilon, ...extra,
});

// ---------------------------------------------------------------- simplex, balls

current = "simplex";
for (const [name, v] of [
  ["K=1", Float64Array.of(0.3)],
  ["K=2", Float64Array.of(0.9, 0.4)],
  ["K=3 negative entries", Float64Array.of(-0.5, 0.2, 1.7)],
  ["on the simplex already", Float64Array.of(0.2, 0.3, 0.5)],
  ["all equal (ties)", new Float64Array(7).fill(0.4)],
  ["all equal negative", new Float64Array(5).fill(-3)],
  ["one-hot", oneHot(6, 2)],
  ["zeros", new Float64Array(4)],
  ["tied top pair", Float64Array.of(1.2, 1.2, 0.1, -0.4)],
  ["huge spread", Float64Array.of(1e9, -1e9, 1, 0)],
  ["tiny entries", Float64Array.of(1e-300, 2e-300, 5e-324, 0)],
] as const)
  add({ name, call: "simplex", K: v.length, float: "f64", probs: encode(v), expected: {} });
for (const K of [10, 100, 1000]) {
  const v = Float64Array.from({ length: K }, () => rng.normal());
  add({ name: `normal K=${K}`, call: "simplex", K, float: "f64", probs: encode(v), expected: {} });
}

current = "balls";
for (const ball of ["l1ball", "l2ball"] as const) {
  const c3 = Float64Array.of(0.2, 0.3, 0.5);
  for (const [name, v, center, radius] of [
    ["inside", Float64Array.of(0.25, 0.3, 0.45), c3, 0.5],
    ["outside", Float64Array.of(1, 0, 0), c3, 0.3],
    ["radius 0", Float64Array.of(1, 0, 0), c3, 0],
    ["on the sphere", Float64Array.of(0.2, 0.3, 0.5).map((x, i) => x + (i === 0 ? 0.1 : i === 1 ? -0.1 : 0)), c3, ball === "l1ball" ? 0.2 : Math.SQRT2 * 0.1],
    ["at the centre", c3, c3, 0.1],
    ["K=2", Float64Array.of(2, -1), Float64Array.of(0.5, 0.5), 0.7],
    ["ties in |v − c|", Float64Array.of(0.5, -0.5, 0.5, -0.5), new Float64Array(4), 0.4],
  ] as const)
    add({ name: `${ball} ${name}`, call: ball, K: v.length, float: "f64", probs: encode(v), center: encode(center), radius, expected: {} });
  for (const K of [10, 100, 300]) {
    const v = Float64Array.from({ length: K }, () => rng.normal());
    const center = random(K, 1);
    add({ name: `${ball} normal K=${K}`, call: ball, K, float: "f64", probs: encode(v), center: encode(center), radius: 0.5, expected: {} });
  }
}

// ---------------------------------------------------------------- distances

current = "distances";
// argmin and random targets are vertices fixed by y alone, so the answers isolate α.
for (const distance of ["l1", "l2", "kl"] as const)
  for (const float of ["f64", "f32"] as const)
    for (const epsilon of [0, 1e-12, 1e-6, 0.05, 0.5, 1, 2, 5]) {
      perturbCase(`argmin ${distance} ${float} eps ${epsilon} K=5`, O("argmin", "angular", distance, epsilon), 5, rows(random(5), withZeros(5)), float);
    }
for (const distance of ["l1", "l2", "kl"] as const) {
  perturbCase(`argmin ${distance} one-hot y`, O("argmin", "angular", distance, 0.3), 4, oneHot(4, 1), "f64");
  perturbCase(`argmin ${distance} near one-hot y`, O("argmin", "angular", distance, 0.3), 4, nearOneHot(4, 2), "f64");
  perturbCase(`argmin ${distance} uniform y`, O("argmin", "angular", distance, 0.3), 6, uniform(6), "f64");
  perturbCase(`argmin ${distance} K=2`, O("argmin", "angular", distance, 0.2), 2, Float64Array.of(0.7, 0.3), "f64");
  perturbCase(`argmin ${distance} K=1000`, O("argmin", "angular", distance, 0.5), 1000, random(1000, 3), "f32");
  // A non-vertex target: KL's bisection over a whole segment (argmax's v_S).
  perturbCase(`argmax ${distance} segment K=6`, O("argmax", "angular", distance, 0.1), 6, rows(random(6), withZeros(6)), "f64", anyJacobian("probs", 2, 6));
  // reachable extreme: α towards each vertex in closed form (klAlphaToVertex for KL).
  perturbCase(`reachable extreme ${distance} K=7`, O("extreme", "angular", distance, 0.2, { step: "reachable" }), 7, rows(random(7), withZeros(7), nearOneHot(7, 3)), "f64", anyJacobian("probs", 3, 7));
}

// ---------------------------------------------------------------- steps

current = "steps";
for (const step of ["linesearch", "projections", "reachable"] as const)
  for (const distance of ["l1", "l2", "kl"] as const) {
    if (step === "projections" && distance === "kl") continue;
    for (const oracle of ["extreme", "argmax", "argmin"] as const)
      for (const epsilon of [0, 0.01, 0.3, 1.5])
        for (const float of ["f64", "f32"] as const) {
          const K = 6;
          perturbCase(`${step} ${distance} ${oracle} eps ${epsilon} ${float}`, O(oracle, "angular", distance, epsilon, { step }), K, rows(random(K), tiedTop(K), withZeros(K)), float, anyJacobian("probs", 3, K));
        }
  }
// projections that lose the top-1 under argmax fall back to the line-search point: find rows where they do.
{
  const K = 5;
  const found: Float64Array[] = [];
  const proxies: Float64Array[] = [];
  for (let trial = 0; trial < 4000 && found.length < 3; trial++) {
    const y = tiedTop(K); // a tie at the top is what lets the projections put a rival level with m
    const p = random(K, 1);
    const options: ReferenceOptions = { oracle: "argmax", objective: "angular", distance: "l1", epsilon: 0.05, step: "projections" };
    const choice = referencePerturb(y, { ...options, step: "linesearch" }, { kind: "probs", proxyProbs: p });
    const projected = stepTowards(y, choice.target, { ...options, oracle: "extreme" }); // extreme: no fallback
    if (!keepsTop1Strictly(projected, argmaxIndex(y))) (found.push(y), proxies.push(p));
  }
  if (found.length === 0) console.log("steps: no row found where projections lose the top-1");
  for (const distance of ["l1", "l2"] as const)
    perturbCase(`projections argmax top-1 fallback ${distance}`, O("argmax", "angular", distance, 0.05, { step: "projections" }), K, rows(...found), "f64", probsJ(rows(...proxies)));
}
for (const K of [2, 3, 100]) {
  for (const step of ["projections", "reachable"] as const)
    perturbCase(`${step} l2 extreme K=${K}`, O("extreme", "surrogate", "l2", 0.4, { step }), K, rows(random(K), random(K, 0.3)), "f32", anyJacobian(K === 100 ? "probs" : "gram", 2, K));
}

// ---------------------------------------------------------------- objectives

current = "objectives";
// extreme at the vertices (and reachable: scored on the segment), every Jacobian and objective.
for (const objective of ["angular", "surrogate"] as const)
  for (const step of ["linesearch", "reachable"] as const)
    for (const K of [2, 3, 10, 100]) {
      const ys = K === 100 ? rows(random(K), tiedTop(K)) : rows(random(K), random(K, 0.3), tiedTop(K), withZeros(K));
      const float: F = K === 100 ? "f32" : "f64";
      perturbCase(`extreme ${objective} ${step} identity K=${K}`, O("extreme", objective, "l1", 0.4, { step }), K, ys, float);
      perturbCase(`extreme ${objective} ${step} probs K=${K}`, O("extreme", objective, "l1", 0.4, { step }), K, ys, float, anyJacobian("probs", ys.length / K, K));
      perturbCase(`extreme ${objective} ${step} probs f32 proxy K=${K}`, O("extreme", objective, "l2", 0.4, { step }), K, ys, "f32", { ...anyJacobian("probs", ys.length / K, K), float: "f32" } as JacobianInput);
      if (K <= 10) perturbCase(`extreme ${objective} ${step} gram K=${K}`, O("extreme", objective, "l1", 0.4, { step }), K, ys, "f64", anyJacobian("gram", 4, K));
    }
// Degenerate Jacobians: H undefined (p = y, M = 0), candidates without a direction (p on a vertex,
// zero diagonal entries), y ≈ p ≈ e_m.
for (const objective of ["angular", "surrogate"] as const)
  for (const oracle of ["extreme", "argmax"] as const)
    for (const step of ["linesearch", "reachable"] as const) {
      const K = 5;
      const y = random(K);
      const tag = `${oracle} ${objective} ${step}`;
      const o = O(oracle, objective, "l1", 0.3, { step });
      perturbCase(`${tag} p = y`, o, K, y, "f64", probsJ(y));
      perturbCase(`${tag} p = e_m`, o, K, y, "f64", probsJ(oneHot(K, argmaxIndex(y))));
      perturbCase(`${tag} p = e_j`, o, K, y, "f64", probsJ(oneHot(K, (argmaxIndex(y) + 2) % K)));
      perturbCase(`${tag} y ≈ p ≈ e_1`, o, 3, Float64Array.of(1.23e-6, 0.9999975, 1.23e-6), "f64", probsJ(Float64Array.of(0, 1, 0)));
      perturbCase(`${tag} one-hot y`, o, K, oneHot(K, 3), "f64", probsJ(random(K, 1)));
      perturbCase(`${tag} M = 0`, o, K, y, "f64", gramJ(zeroGram(K)));
      perturbCase(`${tag} rank-one M`, o, K, y, "f64", gramJ(rankOneGram(K)));
      perturbCase(`${tag} diagonal M with zeros`, o, K, y, "f64", gramJ(sparseDiagonalGram(K)));
      perturbCase(`${tag} M = I`, o, K, y, "f64", gramJ(identityGram(K)));
      perturbCase(`${tag} uniform y identity`, o, K, uniform(K), "f64");
    }

// ---------------------------------------------------------------- oracles: extreme, argmin, random

current = "oracles";
for (const objective of ["angular", "surrogate"] as const) {
  perturbCase(`extreme ${objective} uniform y (tie everywhere)`, O("extreme", objective, "l1", 0.5), 6, uniform(6), "f64");
  perturbCase(`extreme ${objective} uniform y, uniform proxy`, O("extreme", objective, "l1", 0.5), 6, uniform(6), "f64", probsJ(uniform(6)));
  perturbCase(`extreme ${objective} tied top`, O("extreme", objective, "l1", 0.5), 6, tiedTop(6), "f64", anyJacobian("probs", 1, 6));
  perturbCase(`extreme ${objective} K=1000 probs`, O("extreme", objective, "l1", 0.5), 1000, random(1000, 4), "f32", probsJ(random(1000, 0.5)));
  perturbCase(`extreme ${objective} K=1000 identity`, O("extreme", objective, "kl", 0.2), 1000, random(1000, 4), "f32");
}
perturbCase("argmin ties: first minimum", O("argmin", "angular", "l1", 0.5), 6, Float64Array.of(0.3, 0.1, 0.2, 0.1, 0.2, 0.1), "f64");
perturbCase("argmin uniform", O("argmin", "angular", "l1", 0.5), 4, uniform(4), "f64");
perturbCase("argmin K=2", O("argmin", "surrogate", "l2", 0.5), 2, Float64Array.of(0.5, 0.5), "f32");
for (const seed of [0, 1, 12345, 0xffffffff])
  for (const K of seed === 0xffffffff ? [2, 3, 10, 1000] : [2, 3, 10]) {
    const B = K === 1000 ? 2 : 6;
    const ys = rows(...Array.from({ length: B }, () => random(K)));
    perturbCase(`random seed ${seed} K=${K}`, O("random", "angular", "l1", 0.5, { seed }), K, ys, K === 1000 ? "f32" : "f64", identity, K === 1000 ? [1, 1] : [1, 2, 3]);
  }

// ---------------------------------------------------------------- argmax: the exhaustive (Gray) walk

current = "argmax-exact";
for (const objective of ["angular", "surrogate"] as const)
  for (const kind of ["probs", "identity", "gram"] as const)
    for (const K of [2, 3, 4, 5, 8, 10, 13, 19, 20]) {
      const B = K >= 19 ? 1 : 3;
      const ys = K >= 19 ? random(K, 2) : rows(random(K), tiedTop(K), random(K, 0.3)).subarray(0, B * K);
      perturbCase(`${kind} ${objective} K=${K}`, O("argmax", objective, "l1", 0.5), K, ys, "f64", anyJacobian(kind, B, K));
    }
for (const distance of ["l1", "l2", "kl"] as const)
  for (const kind of ["probs", "identity", "gram"] as const)
    for (const K of [2, 3, 7, 12]) {
      perturbCase(`reachable ${distance} ${kind} K=${K}`, O("argmax", "angular", distance, 0.3, { step: "reachable" }), K, rows(random(K), tiedTop(K)), "f64", anyJacobian(kind, 2, K));
    }
for (const kind of ["probs", "identity", "gram"] as const) {
  perturbCase(`${kind} uniform y`, O("argmax", "angular", "l1", 0.5), 6, uniform(6), "f64", kind === "probs" ? probsJ(uniform(6)) : anyJacobian(kind, 1, 6));
  perturbCase(`${kind} f32 K=10`, O("argmax", "angular", "l2", 0.3), 10, rows(random(10), random(10)), "f32", anyJacobian(kind, 2, 10));
}
// The exact limit: K = limit is exhaustive; the limit can be raised to 24 (K = 21, 22 exhaustive).
for (const [K, limit] of [[5, 5], [8, 8], [21, 21], [22, 24]] as const)
  for (const kind of ["probs", "identity"] as const)
    perturbCase(`limit ${limit} ${kind} K=${K}`, O("argmax", "angular", "l1", 0.5, { exactArgmaxLimit: limit }), K, random(K), "f64", anyJacobian(kind, 1, K));
perturbCase("limit 21 gram K=21", O("argmax", "surrogate", "l1", 0.5, { exactArgmaxLimit: 21 }), 21, random(21), "f64", anyJacobian("gram", 1, 21));
// argmaxRefine is ignored below the limit.
perturbCase("refine below the limit", O("argmax", "angular", "l1", 0.5, { argmaxRefine: true }), 8, random(8), "f64", anyJacobian("probs", 1, 8));

// ---------------------------------------------------------------- argmax beyond the limit: the sorted search

current = "argmax-sorted";
for (const objective of ["angular", "surrogate"] as const)
  for (const kind of ["probs", "identity"] as const)
    for (const K of kind === "identity" && objective === "surrogate" ? [21, 30, 100] : [21, 30, 100, 1000]) {
      const B = K === 1000 ? 1 : 2;
      const ys = rows(random(K, 3), random(K, 1)).subarray(0, B * K);
      perturbCase(`${kind} ${objective} K=${K}`, O("argmax", objective, "l1", 0.5), K, ys, K >= 100 ? "f32" : "f64", anyJacobian(kind, B, K));
    }
for (const kind of ["probs", "identity"] as const) {
  for (const K of [2, 3, 5, 10]) perturbCase(`limit 1 ${kind} K=${K}`, O("argmax", "angular", "l2", 0.4, { exactArgmaxLimit: 1 }), K, rows(random(K), tiedTop(K)), "f64", anyJacobian(kind, 2, K));
  perturbCase(`${kind} uniform y K=100`, O("argmax", "angular", "l1", 0.5), 100, uniform(100), "f64", kind === "probs" ? probsJ(random(100, 1)) : identity);
  perturbCase(`${kind} tied top K=40`, O("argmax", "angular", "l1", 0.5), 40, tiedTop(40), "f64", anyJacobian(kind, 1, 40));
  perturbCase(`${kind} projections K=50`, O("argmax", "angular", "l2", 0.3, { step: "projections" }), 50, random(50), "f64", anyJacobian(kind, 1, 50));
  perturbCase(`${kind} refine K=30`, O("argmax", "angular", "l1", 0.5, { argmaxRefine: true }), 30, rows(random(30), random(30, 1)), "f64", anyJacobian(kind, 2, 30));
  perturbCase(`${kind} refine surrogate K=100`, O("argmax", "surrogate", "l1", 0.5, { argmaxRefine: true }), 100, random(100), "f32", anyJacobian(kind, 1, 100));
  perturbCase(`${kind} kl K=200`, O("argmax", "angular", "kl", 0.2), 200, random(200, 3), "f32", anyJacobian(kind, 1, 200));
}
{
  const y = random(30);
  perturbCase("probs p = y K=30", O("argmax", "angular", "l1", 0.5), 30, y, "f64", probsJ(y));
  perturbCase("probs y ≈ e_m K=25", O("argmax", "angular", "l1", 0.5), 25, nearOneHot(25, 4, 1e-9), "f64", probsJ(random(25, 1)));
  perturbCase("probs bench-like K=1000", O("argmax", "angular", "l1", 0.5), 1000, random(1000, 4), "f32", probsJ(random(1000, 0.5)));
}

// ---------------------------------------------------------------- argmax beyond the limit: the greedy

current = "argmax-greedy";
for (const objective of ["angular", "surrogate"] as const)
  for (const K of [21, 25, 32]) perturbCase(`gram ${objective} K=${K}`, O("argmax", objective, "l1", 0.5), K, random(K), "f64", anyJacobian("gram", 1, K));
for (const distance of ["l1", "l2", "kl"] as const)
  for (const kind of ["probs", "identity", "gram"] as const)
    for (const K of kind === "gram" ? [21, 30] : [21, 100]) {
      perturbCase(`reachable ${distance} ${kind} K=${K}`, O("argmax", "angular", distance, 0.4, { step: "reachable" }), K, random(K, 2), K >= 100 ? "f32" : "f64", anyJacobian(kind, 1, K));
    }
for (const kind of ["probs", "identity", "gram"] as const) {
  perturbCase(`limit 1 gram-or-reachable ${kind} K=5`, O("argmax", "angular", "l2", 0.3, { exactArgmaxLimit: 1, step: kind === "gram" ? "linesearch" : "reachable" }), 5, rows(random(5), tiedTop(5)), "f64", anyJacobian(kind, 2, 5));
  perturbCase(`refine reachable ${kind} K=24`, O("argmax", "angular", "l1", 0.5, { argmaxRefine: true, step: "reachable" }), 24, random(24), "f64", anyJacobian(kind, 1, 24));
}
perturbCase("refine gram K=30", O("argmax", "surrogate", "l1", 0.5, { argmaxRefine: true }), 30, random(30), "f64", anyJacobian("gram", 1, 30));
perturbCase("gram M = 0 K=22", O("argmax", "angular", "l1", 0.5), 22, random(22), "f64", gramJ(zeroGram(22)));
perturbCase("gram uniform y K=22", O("argmax", "angular", "l1", 0.5), 22, uniform(22), "f64", gramJ(identityGram(22)));
{
  const y = random(25);
  perturbCase("reachable probs p = y K=25", O("argmax", "angular", "l1", 0.5, { step: "reachable" }), 25, y, "f64", probsJ(y));
}

// ---------------------------------------------------------------- modelguard

current = "modelguard";
for (const K of [2, 3, 10, 100])
  for (const epsilon of [0, 0.01, 0.3, 1, 2])
    for (const margin of [0, 1e-4, 0.1]) {
      const ys = rows(random(K), random(K, 0.3), tiedTop(K), withZeros(K));
      add({ name: `K=${K} eps ${epsilon} margin ${margin}`, call: "modelguard", K, float: K === 100 ? "f32" : "f64", options: { epsilon, margin } satisfies ModelGuardOptions, probs: encode(asFloat(ys, K === 100 ? "f32" : "f64")), expected: {} });
    }
add({ name: "one-hot and uniform rows", call: "modelguard", K: 5, float: "f64", options: { epsilon: 0.5 }, probs: encode(rows(oneHot(5, 2), uniform(5), nearOneHot(5, 0))), expected: {} });
add({ name: "margin 0.49 (infeasible)", call: "modelguard", K: 4, float: "f64", options: { epsilon: 0.2, margin: 0.49 }, probs: encode(rows(random(4), random(4))), expected: {} });
add({ name: "f32 K=10 default margin", call: "modelguard", K: 10, float: "f32", options: { epsilon: 0.4 }, probs: encode(Float32Array.from(rows(random(10), tiedTop(10)))), expected: {} });

// ---------------------------------------------------------------- batch (perturbBatch)

current = "batch";
for (const oracle of ["extreme", "argmax", "argmin", "random"] as const)
  for (const kind of ["identity", "probs", "gram"] as const)
    for (const float of ["f64", "f32"] as const) {
      const K = 7;
      const B = 5;
      const ys = rows(random(K), tiedTop(K), withZeros(K), uniform(K), random(K, 0.2));
      perturbCase(`${oracle} ${kind} ${float} B=${B}`, O(oracle, "angular", "l1", 0.4, { seed: 7 }), K, ys, float, anyJacobian(kind, B, K), [2, 3]);
    }
{
  // Rows that do not sum to 1 exactly (f32 softmax): they are divided by their sum first.
  const K = 6;
  const ys = rows(random(K), random(K)).map((v, i) => v * (i < K ? 1.0004 : 0.9993));
  for (const float of ["f64", "f32"] as const) perturbCase(`unnormalised rows ${float}`, O("argmax", "angular", "l1", 0.3), K, ys, float, probsJ(rows(random(K, 1), random(K, 1)).map((v) => v * 1.0002)));
  perturbCase("f64 input, f32 proxy", O("extreme", "angular", "l1", 0.3), K, rows(random(K), random(K)), "f64", { ...anyJacobian("probs", 2, K), float: "f32" } as JacobianInput);
  perturbCase("f32 input, f64 proxy", O("argmax", "angular", "l1", 0.3), K, rows(random(K), random(K)), "f32", { ...anyJacobian("probs", 2, K), float: "f64" } as JacobianInput);
  // argmax at a tiny budget: rounding leaves ỹ_m level with a rival (the one-ulp lift, f64 and f32).
  for (const float of ["f64", "f32"] as const)
    perturbCase(`argmax tied top tiny eps ${float}`, O("argmax", "angular", "l1", 1e-9), 4, rows(Float64Array.of(0.4, 0.4, 0.1, 0.1), Float64Array.of(0.25, 0.25, 0.25, 0.25)), float, probsJ(rows(Float64Array.of(0.1, 0.6, 0.2, 0.1), Float64Array.of(0.1, 0.2, 0.3, 0.4))));
  perturbCase("one call per row, random oracle", O("random", "angular", "kl", 0.3, { seed: 99 }), 5, rows(random(5), random(5), random(5), random(5)), "f64", identity, [1, 1, 1, 1]);
  perturbCase("eps 0 f32 copies the input", O("argmax", "angular", "l1", 0), K, rows(random(K), random(K)).map((v) => v * 1.0003), "f32", anyJacobian("probs", 2, K));
  perturbCase("K=3 B=40 mixed rows", O("argmax", "surrogate", "l2", 0.25), 3, rows(...Array.from({ length: 40 }, (_, i) => (i % 4 === 0 ? uniform(3) : i % 4 === 1 ? tiedTop(3) : random(3, 1 + (i % 3))))), "f32", anyJacobian("probs", 40, 3));
}

// ---------------------------------------------------------------- perturbSweep

current = "sweep";
for (const oracle of ["extreme", "argmax", "argmin", "random"] as const)
  for (const step of ["linesearch", "projections", "reachable"] as const)
    for (const distance of ["l1", "l2", "kl"] as const) {
      if (step === "projections" && distance === "kl") continue;
      const K = 6;
      const epsilons = distance === "kl" ? [0.01, 0.5, 3] : distance === "l2" ? [0.05, 0.4, 1.4] : [0.05, 0.5, 2];
      sweepCase(`${oracle} ${step} ${distance}`, O(oracle, "angular", distance, 0.1, { step, seed: 3 }), K, rows(random(K), tiedTop(K), withZeros(K)), "f64", epsilons, anyJacobian("probs", 3, K));
    }
for (const kind of ["identity", "probs", "gram"] as const)
  for (const K of [3, 10, 30]) {
    sweepCase(`argmax ${kind} K=${K} f32`, O("argmax", "surrogate", "l1", 0.1), K, rows(random(K), random(K)), "f32", [0.9, 0.25, 0.25, 1e-9], anyJacobian(kind, 2, K));
  }
sweepCase("extreme K=100 one budget", O("extreme", "angular", "l2", 0.1), 100, random(100, 3), "f32", [0.3], anyJacobian("probs", 1, 100));

// ---------------------------------------------------------------- run, cross-check, write

const reports: string[] = [];
const report = (module: string, name: string, message: string) => reports.push(`${module} / ${name}: ${message}`);
let crossChecked = 0;
const skipped = new Map<string, number>();

function normalised(v: ArrayLike<number>): Float64Array {
  // As the core's loadRow: divided by the sum unless it is 1 to within 1e-14 (multiplied by 1/sum).
  const out = Float64Array.from(v);
  let sum = 0;
  for (const x of out) sum += x;
  if (Math.abs(sum - 1) > 1e-14) {
    const inv = 1 / sum;
    for (let i = 0; i < out.length; i++) out[i] *= inv;
  }
  return out;
}

function referenceJacobian(c: GoldenCase, r: number): RowJacobian {
  const j = c.jacobian ?? { kind: "identity" };
  const K = c.K;
  if (j.kind === "probs") return { kind: "probs", proxyProbs: normalised(decode(j.proxyProbs, j.float).subarray(r * K, (r + 1) * K)) };
  if (j.kind === "gram") return { kind: "gram", gram: decode(j.gram, "f64").slice(r * K * K, (r + 1) * K * K) };
  return { kind: "identity" };
}

/** The reference's target and answer for row r of a perturb case, or a reason there is none. */
function referenceRow(c: GoldenCase, options: PerturbOptions, y: Float64Array, jacobian: RowJacobian, rowNumber: number):
  { target: Float64Array; output: Float64Array; nearTie: boolean } | string {
  const K = c.K;
  const limit = options.exactArgmaxLimit ?? 20;
  const ref: ReferenceOptions = { ...options, exactArgmaxLimit: limit };
  if (options.oracle === "argmax" && K > limit) {
    if (options.argmaxRefine) return "argmaxRefine has no reference";
    const sortedMode = options.step !== "reachable" && jacobian.kind !== "gram";
    if (sortedMode) {
      const sorted = sortedArgmax({ y, p: jacobian.kind === "probs" ? jacobian.proxyProbs : undefined, angular: options.objective === "angular" });
      const members: number[] = [];
      sorted.members.forEach((v, i) => v && members.push(i));
      const target = argmaxCandidate(members, argmaxIndex(y), K);
      return { target, output: stepTowards(y, target, ref), nearTie: false };
    }
    if (K > 60 && jacobian.kind === "gram") return "too slow";
  }
  if (options.oracle === "argmax" && K <= limit && K > 20) return "exhaustive reference too slow beyond K = 20";
  const result = referencePerturb(y, ref, jacobian, rowNumber);
  return { target: result.target, output: result.output, nearTie: isNearTie(result.choice) };
}

function crossCheck(module: string, c: GoldenCase): void {
  const K = c.K;
  const tol = (float: string) => (float === "f32" ? 4 * K * 2 ** -24 + 1e-9 : 1e-9);
  if (c.call === "simplex" || c.call === "l1ball" || c.call === "l2ball") {
    const v = decode(c.probs, "f64");
    const center = c.center ? decode(c.center, "f64") : undefined;
    const expected = c.call === "simplex" ? projectOntoSimplex(v) : c.call === "l1ball" ? projectOntoL1Ball(v, center!, c.radius!) : projectOntoL2Ball(v, center!, c.radius!);
    const got = decode(c.expected.probs!, "f64");
    const scale = Math.max(1, ...Array.from(v, Math.abs));
    const error = Math.max(...Array.from(got, (x, i) => Math.abs(x - expected[i])));
    crossChecked++;
    if (!(error <= 1e-12 * scale)) report(module, c.name, `projection differs from the reference by ${error}`);
    return;
  }
  const probs = decode(c.probs, c.float);
  const B = probs.length / K;
  if (c.call === "modelguard") {
    const options = c.options as ModelGuardOptions;
    const out = decode(c.expected.probs!, c.float);
    for (let r = 0; r < B; r++) {
      const y = normalised(probs.subarray(r * K, (r + 1) * K));
      if (K > 10) {
        skipped.set(`${module}: the LP reference is for K <= 10`, (skipped.get(`${module}: the LP reference is for K <= 10`) ?? 0) + 1);
        continue;
      }
      const lp = solveLinearProgram(modelguardLinearProgram(y, options.epsilon, options.margin ?? 1e-4));
      crossChecked++;
      const infeasible = c.expected.infeasible![r] === 1;
      if (lp.status !== "optimal") {
        if (!infeasible) report(module, c.name, `row ${r}: the LP is ${lp.status}, the core answered`);
        continue;
      }
      if (infeasible) {
        report(module, c.name, `row ${r}: the core reports infeasible, the LP has an optimum ${lp.value}`);
        continue;
      }
      const value = modelguardObjective(y, out.subarray(r * K, (r + 1) * K));
      if (!(Math.abs(value - lp.value) <= 1e-7 * Math.max(1, Math.abs(lp.value)) + (c.float === "f32" ? 1e-5 : 0)))
        report(module, c.name, `row ${r}: objective ${value} against the LP's ${lp.value}`);
    }
    return;
  }
  const options = c.options as PerturbOptions;
  const jacobianRows = (r: number) => referenceJacobian(c, r);
  if (c.call === "sweep") {
    // Each block must equal perturb with that budget, bit for bit; and the reference.
    c.epsilons!.forEach((epsilon, e) => {
      const single = runCase(core, { ...c, call: "perturb", options: { ...options, epsilon }, epsilons: undefined, expected: {} });
      if (JSON.stringify(single.probs) !== JSON.stringify(c.expected.sweep![e])) report(module, c.name, `block ${e} (eps ${epsilon}) differs from perturb`);
      const block = decode(c.expected.sweep![e], c.float);
      for (let r = 0; r < B; r++) {
        const y = normalised(probs.subarray(r * K, (r + 1) * K));
        const ref = referenceRow(c, { ...options, epsilon }, y, jacobianRows(r), r);
        if (typeof ref === "string") {
          skipped.set(`${module}: ${ref}`, (skipped.get(`${module}: ${ref}`) ?? 0) + 1);
          continue;
        }
        crossChecked++;
        const error = l1Distance(block.subarray(r * K, (r + 1) * K), ref.output);
        if (!(error <= tol(c.float)) && !ref.nearTie) report(module, c.name, `block ${e} row ${r}: answer L1 ${error} from the reference`);
      }
    });
    return;
  }
  const out = decode(c.expected.probs!, c.float);
  const targets = decode(c.expected.targets!, c.float);
  for (let r = 0; r < B; r++) {
    const y = normalised(probs.subarray(r * K, (r + 1) * K));
    const answer = out.subarray(r * K, (r + 1) * K);
    const target = targets.subarray(r * K, (r + 1) * K);
    if (options.epsilon === 0) {
      if (!answer.every((v, i) => Object.is(v, probs[r * K + i]))) report(module, c.name, `row ${r}: eps 0 does not return the input bit for bit`);
      continue;
    }
    if (options.oracle === "argmax" && !keepsTop1Strictly(answer, argmaxIndex(y))) report(module, c.name, `row ${r}: top-1 not kept strictly`);
    const ref = referenceRow(c, options, y, jacobianRows(r), r);
    if (typeof ref === "string") {
      skipped.set(`${module}: ${ref}`, (skipped.get(`${module}: ${ref}`) ?? 0) + 1);
      continue;
    }
    crossChecked++;
    const targetError = l1Distance(target, ref.target);
    const answerError = l1Distance(answer, ref.output);
    const jacobian = jacobianRows(r);
    if (!(targetError <= tol(c.float))) {
      if (ref.nearTie) continue;
      // Which one is better by the objective the oracle maximises (at the candidate itself)?
      const score = objectiveFor(options.objective, y, jacobian);
      report(module, c.name, `row ${r}: target L1 ${targetError.toExponential(2)} from the reference's (objective core ${score(Float64Array.from(target))}, reference ${score(ref.target)})`);
    } else if (!(answerError <= tol(c.float) * (options.distance === "kl" ? 100 : 1))) {
      report(module, c.name, `row ${r}: same target, answer L1 ${answerError.toExponential(2)} from the reference's`);
    }
  }
}

let total = 0;
let bytes = 0;
if (!checkOnly) mkdirSync(outDir, { recursive: true });
for (const [module, cases] of modules) {
  const started = performance.now();
  const checkedBefore = crossChecked;
  for (const c of cases) {
    c.expected = runCase(core, c);
    crossCheck(module, c);
  }
  const text = cases.map((c) => JSON.stringify(c)).join("\n") + "\n";
  bytes += text.length;
  total += cases.length;
  if (!checkOnly) writeFileSync(`${outDir}${module}.jsonl`, text);
  console.log(`${module}: ${cases.length} cases, ${(text.length / 1024).toFixed(0)} KB, ${crossChecked - checkedBefore} rows cross-checked, ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
console.log(`${total} cases, ${(bytes / 1024).toFixed(0)} KB; ${crossChecked} rows cross-checked against the float64 references`);
for (const [reason, count] of skipped) console.log(`not cross-checked: ${reason} (${count} rows)`);
console.log(reports.length === 0 ? "no disagreement with the references" : `${reports.length} disagreements with the references:\n  ${reports.join("\n  ")}`);
