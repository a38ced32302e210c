// The golden-file cases of test/fixtures/core-golden/<module>.jsonl: their format, how one is run
// through the WASM core, and how its output is encoded. Shared by the generator
// (test/core/generate-golden-modules.ts, which writes the expected outputs) and the replay
// (test/core/golden-modules.test.ts, which demands them bit for bit), so both make the same calls.
import type { Core, Jacobian, PerturbOptions } from "../../src/core/index.js";
import { createModelGuardSolver, type ModelGuardOptions } from "../../src/core/modelguard.js";

/** A number as stored: f64 values exactly (JSON round-trips them), f32 values as their shortest decimal; "-0" for negative zero. */
export type Encoded = number | "-0";

export type GoldenCall = "perturb" | "sweep" | "simplex" | "l1ball" | "l2ball" | "modelguard";

export interface GoldenCase {
  /** What the case pins down (unique within its module). */
  name: string;
  call: GoldenCall;
  K: number;
  /** The element type of probs and of every answer (perturb, sweep, modelguard); projections are f64. */
  float: "f32" | "f64";
  /** PerturbOptions (perturb, sweep) or ModelGuardOptions (modelguard). */
  options?: PerturbOptions | ModelGuardOptions;
  /** rows x K probabilities; the vector v for the projections. */
  probs: Encoded[];
  /** The projections onto a ball: its centre and radius. */
  center?: Encoded[];
  radius?: number;
  jacobian?: { kind: "identity" } | { kind: "probs"; float: "f32" | "f64"; proxyProbs: Encoded[] } | { kind: "gram"; gram: Encoded[] };
  /** perturbSweep's budget list. */
  epsilons?: number[];
  /** perturb: rows per call, all through one perturber (the random oracle's row counter); default one call. */
  calls?: number[];
  expected: GoldenOutput;
}

export interface GoldenOutput {
  /** perturb, modelguard: the answers; the projections: the projected vector. */
  probs?: Encoded[];
  /** perturb: the oracle's targets y*. */
  targets?: Encoded[];
  /** sweep: one answer block per budget. */
  sweep?: Encoded[][];
  /** modelguard: 1 for a row with no feasible answer. */
  infeasible?: number[];
}

/** The shortest decimal that rounds to the same float32, so the fixtures stay small and exact. */
function shortestF32(v: number): number {
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(v.toPrecision(digits));
    if (Math.fround(candidate) === v) return candidate;
  }
  return v;
}

export function encode(values: ArrayLike<number>): Encoded[] {
  const f32 = values instanceof Float32Array;
  return Array.from(values, (v) => (Object.is(v, -0) ? "-0" : f32 ? shortestF32(v) : v));
}

export function decode(values: readonly Encoded[], float: "f32" | "f64"): Float32Array | Float64Array {
  const numbers = values.map((v) => (v === "-0" ? -0 : v));
  return float === "f32" ? Float32Array.from(numbers) : Float64Array.from(numbers);
}

function caseJacobian(c: GoldenCase): Jacobian {
  const j = c.jacobian ?? { kind: "identity" };
  if (j.kind === "probs") return { kind: "probs", proxyProbs: decode(j.proxyProbs, j.float) };
  if (j.kind === "gram") return { kind: "gram", gram: decode(j.gram, "f64") as Float64Array };
  return { kind: "identity" };
}

function sliceJacobian(jacobian: Jacobian, from: number, to: number, K: number): Jacobian {
  if (jacobian.kind === "probs") return { kind: "probs", proxyProbs: jacobian.proxyProbs.slice(from * K, to * K) };
  if (jacobian.kind === "gram") return { kind: "gram", gram: jacobian.gram.slice(from * K * K, to * K * K) };
  return jacobian;
}

/** Runs one case on a loaded core; its output, encoded as the fixture stores it. */
export function runCase(core: Core, c: GoldenCase): GoldenOutput {
  const K = c.K;
  if (c.call === "simplex") return { probs: encode(core.projectOntoSimplex(decode(c.probs, "f64") as Float64Array)) };
  if (c.call === "l1ball" || c.call === "l2ball") {
    const v = decode(c.probs, "f64") as Float64Array;
    const center = decode(c.center!, "f64") as Float64Array;
    const out = c.call === "l1ball" ? core.projectOntoL1Ball(v, center, c.radius!) : core.projectOntoL2Ball(v, center, c.radius!);
    return { probs: encode(out) };
  }
  const probs = decode(c.probs, c.float);
  if (c.call === "modelguard") {
    const { probs: out, infeasible } = createModelGuardSolver(core, c.options as ModelGuardOptions).solve(probs, K);
    return { probs: encode(out), infeasible: Array.from(infeasible) };
  }
  const jacobian = caseJacobian(c);
  const perturber = core.createPerturber(c.options as PerturbOptions);
  if (c.call === "sweep") return { sweep: perturber.perturbSweep(probs, K, c.epsilons!, jacobian).map(encode) };
  const rows = probs.length / K;
  const calls = c.calls ?? [rows];
  const out = c.float === "f32" ? new Float32Array(probs.length) : new Float64Array(probs.length);
  const targets = c.float === "f32" ? new Float32Array(probs.length) : new Float64Array(probs.length);
  let start = 0;
  for (const n of calls) {
    const result = perturber.perturbWithTargets(probs.slice(start * K, (start + n) * K), K, sliceJacobian(jacobian, start, start + n, K));
    out.set(result.probs, start * K);
    targets.set(result.targets, start * K);
    start += n;
  }
  if (start !== rows) throw new Error(`${c.name}: calls cover ${start} of ${rows} rows`);
  return { probs: encode(out), targets: encode(targets) };
}

/** Bit-level differences between two encoded outputs: "" when identical. */
export function compareOutputs(expected: GoldenOutput, got: GoldenOutput, float: "f32" | "f64"): string {
  const problems: string[] = [];
  const compare = (label: string, a: Encoded[] | undefined, b: Encoded[] | undefined) => {
    if (a === undefined && b === undefined) return;
    if (a === undefined || b === undefined || a.length !== b.length) {
      problems.push(`${label}: length ${a?.length} expected, ${b?.length} got`);
      return;
    }
    const x = decode(a, float);
    const y = decode(b, float);
    const bitsX = float === "f32" ? new Uint32Array(x.buffer) : new BigUint64Array(x.buffer);
    const bitsY = float === "f32" ? new Uint32Array(y.buffer) : new BigUint64Array(y.buffer);
    let differing = 0;
    let first = -1;
    for (let i = 0; i < bitsX.length; i++)
      if (bitsX[i] !== bitsY[i]) {
        differing++;
        if (first < 0) first = i;
      }
    if (differing > 0) problems.push(`${label}: ${differing} entries differ, first [${first}] expected ${x[first]} got ${y[first]}`);
  };
  compare("probs", expected.probs, got.probs);
  compare("targets", expected.targets, got.targets);
  const blocks = Math.max(expected.sweep?.length ?? 0, got.sweep?.length ?? 0);
  for (let e = 0; e < blocks; e++) compare(`sweep[${e}]`, expected.sweep?.[e], got.sweep?.[e]);
  if (JSON.stringify(expected.infeasible) !== JSON.stringify(got.infeasible))
    problems.push(`infeasible: ${JSON.stringify(expected.infeasible)} expected, ${JSON.stringify(got.infeasible)} got`);
  return problems.join("; ");
}
