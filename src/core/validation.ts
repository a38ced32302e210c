// Checks on options and batch shapes, and the translation of the WASM core's input checks into
// CoreInputError. Entry-level checks (NaN, negatives, sums) run inside WASM: one pass, no copies.
import { CoreInputError } from "./errors.js";
import { DISTANCES, FIELD_NAMES, OBJECTIVES, ORACLES, PROBLEM, STEPS, type CoreExports } from "./exports.js";
import type { Distance, Jacobian, PerturbOptions } from "./types.js";

function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value))
    throw new CoreInputError(field, null, `must be one of ${allowed.join(", ")} (got ${JSON.stringify(value)})`);
  return value as T;
}

/** MAD-argmax's exhaustive search limit and its largest allowed value: assembly/oracles.ts EXACT_ARGMAX_LIMIT and MAX_EXACT_ARGMAX_LIMIT, checked when the core loads (loader.ts). */
export const DEFAULT_EXACT_ARGMAX_LIMIT = 20;
export const MAX_EXACT_ARGMAX_LIMIT = 24;

/** Validates options and fills defaults (step "linesearch", seed 0, exactArgmaxLimit 20, argmaxRefine false). */
export function normaliseOptions(options: PerturbOptions): Required<PerturbOptions> {
  if (typeof options !== "object" || options === null) throw new CoreInputError("options", null, "must be an object");
  const oracle = oneOf("oracle", options.oracle, ORACLES);
  const objective = oneOf("objective", options.objective, OBJECTIVES);
  const distance = oneOf("distance", options.distance, DISTANCES);
  const step = oneOf("step", options.step ?? "linesearch", STEPS);
  const { epsilon } = options;
  if (typeof epsilon !== "number" || !Number.isFinite(epsilon) || epsilon < 0)
    throw new CoreInputError("epsilon", null, `must be a finite number >= 0 (got ${String(epsilon)})`);
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new CoreInputError("seed", null, `must be an integer in [0, 2^32) (got ${String(seed)})`);
  const exactArgmaxLimit = options.exactArgmaxLimit ?? DEFAULT_EXACT_ARGMAX_LIMIT;
  if (!Number.isInteger(exactArgmaxLimit) || exactArgmaxLimit < 1 || exactArgmaxLimit > MAX_EXACT_ARGMAX_LIMIT)
    throw new CoreInputError(
      "exactArgmaxLimit",
      null,
      `must be an integer in 1..${MAX_EXACT_ARGMAX_LIMIT} (exhaustive search is 2^(K−1) subsets per row) (got ${String(exactArgmaxLimit)})`,
    );
  const argmaxRefine = options.argmaxRefine ?? false;
  if (typeof argmaxRefine !== "boolean") throw new CoreInputError("argmaxRefine", null, `must be a boolean (got ${String(argmaxRefine)})`);
  if (step === "projections" && distance === "kl")
    throw new CoreInputError("step", null, "projections needs a ball with a Euclidean projection: use distance l1 or l2, or step linesearch/reachable with kl");
  return { oracle, objective, distance, epsilon, step, seed, exactArgmaxLimit, argmaxRefine };
}

/** Largest distance between two points of the simplex: a sweep budget beyond it buys nothing. */
export const SWEEP_EPSILON_LIMITS: Readonly<Record<Distance, number>> = { l1: 2, l2: Math.SQRT2, kl: Infinity };

/** Checks a perturbSweep budget list (non-empty; each finite, > 0, within the distance's diameter); returns it as f64. */
export function checkSweepEpsilons(epsilons: readonly number[], distance: Distance): Float64Array {
  if (!Array.isArray(epsilons) || epsilons.length === 0)
    throw new CoreInputError("epsilons", null, "must be a non-empty array of numbers");
  const limit = SWEEP_EPSILON_LIMITS[distance];
  const list = new Float64Array(epsilons.length);
  for (let i = 0; i < epsilons.length; i++) {
    const value: unknown = epsilons[i];
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0)
      throw new CoreInputError("epsilons", null, `entry ${i} is ${String(value)} (must be a finite number > 0)`);
    if (value > limit)
      throw new CoreInputError(
        "epsilons",
        null,
        `entry ${i} is ${value}, beyond the ${distance} diameter of the simplex (${distance === "l2" ? "√2" : limit}): no answer is further away`,
      );
    list[i] = value;
  }
  return list;
}

/** Checks array types and lengths; returns the number of rows. */
export function checkShapes(probs: Float32Array | Float64Array, numClasses: number, jacobian: Jacobian): number {
  if (!(probs instanceof Float32Array || probs instanceof Float64Array))
    throw new CoreInputError("probs", null, "must be a Float32Array or Float64Array");
  if (!Number.isInteger(numClasses) || numClasses < 2)
    throw new CoreInputError("numClasses", null, `must be an integer >= 2 (got ${String(numClasses)})`);
  if (probs.length % numClasses !== 0)
    throw new CoreInputError("probs", null, `length ${probs.length} is not a multiple of numClasses ${numClasses}`);
  const rows = probs.length / numClasses;
  if (typeof jacobian !== "object" || jacobian === null) throw new CoreInputError("jacobian", null, "must be an object with a kind");
  switch (jacobian.kind) {
    case "identity":
      break;
    case "probs": {
      const p = jacobian.proxyProbs;
      if (!(p instanceof Float32Array || p instanceof Float64Array))
        throw new CoreInputError("proxyProbs", null, "must be a Float32Array or Float64Array");
      if (p.length !== probs.length)
        throw new CoreInputError("proxyProbs", null, `length ${p.length} does not match probs (${rows} rows x ${numClasses} classes = ${probs.length})`);
      break;
    }
    case "gram": {
      const M = jacobian.gram;
      if (!(M instanceof Float64Array)) throw new CoreInputError("gram", null, "must be a Float64Array");
      const expected = rows * numClasses * numClasses;
      if (M.length !== expected)
        throw new CoreInputError("gram", null, `length ${M.length} does not match ${rows} rows x ${numClasses} x ${numClasses} = ${expected}`);
      break;
    }
    default:
      throw new CoreInputError("jacobian", null, `unknown kind ${JSON.stringify((jacobian as { kind: unknown }).kind)} (probs, gram or identity)`);
  }
  return rows;
}

/** Whether two arrays share any bytes. */
function overlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/** A caller's output buffer for `perturb`: the type and length of probs, and no memory shared with the inputs (chunks are staged after earlier answers are written). */
export function checkOutput(out: Float32Array | Float64Array, probs: Float32Array | Float64Array, jacobian: Jacobian): void {
  if (!(out instanceof Float32Array || out instanceof Float64Array) || out.constructor !== probs.constructor)
    throw new CoreInputError("out", null, `must be a ${probs.constructor.name} like probs`);
  if (out.length !== probs.length) throw new CoreInputError("out", null, `length ${out.length} does not match probs (${probs.length})`);
  if (overlaps(out, probs)) throw new CoreInputError("out", null, "shares memory with probs (answers are written while later rows are still being read)");
  if (jacobian.kind === "probs" && overlaps(out, jacobian.proxyProbs))
    throw new CoreInputError("out", null, "shares memory with proxyProbs (answers are written while later rows are still being read)");
}

/** Turns the WASM validator's finding into an error; rowOffset maps a chunk's rows to the batch's. */
export function throwValidationProblem(wasm: CoreExports, problem: number, rowOffset: number): never {
  const row = wasm.validationRow() + rowOffset;
  const field = FIELD_NAMES[wasm.validationField()] ?? "probs";
  const index = wasm.validationIndex();
  const value = wasm.validationValue();
  switch (problem) {
    case PROBLEM.notFinite:
      throw new CoreInputError(field, row, `entry ${index} is ${Number.isNaN(value) ? "NaN" : String(value)} (must be finite)`);
    case PROBLEM.negative:
      throw new CoreInputError(field, row, `entry ${index} is negative (${value})`);
    case PROBLEM.sum:
      throw new CoreInputError(field, row, `sums to ${value} (must be 1 within 1e-3)`);
    case PROBLEM.asymmetric:
      throw new CoreInputError(field, row, `not symmetric at entry ${index} (M_ij − M_ji = ${value})`);
    case PROBLEM.negativeDiagonal:
      throw new CoreInputError(field, row, `diagonal entry ${index} is negative (${value}); a Gram matrix has a non-negative diagonal`);
    default:
      throw new CoreInputError(field, row, `invalid input (code ${problem})`);
  }
}
