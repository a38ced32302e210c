// GRAD² (Mazeika, Li, Forsyth, ICML 2022): gradient redirection. With the defender's surrogate s_θ and a
// fixed direction t over all of θ, c_ik = ⟨∇_θ log softmax(s_θ(x_i))_k, t⟩ says how much a thief's
// training step on class k moves θ along t; each answer minimises Σ_k c_ik·ỹ_ik on the simplex within
// ‖ỹ_i − y_i‖₁ <= ε. The c come from the surrogate proxy by central finite differences along t (two
// forward passes; src/models/proxy.ts), since tfjs has no second-order gradients for convolutions.
import { validateDefenseBatch } from "./batch.js";
import { defineDefense } from "./definition.js";
import type { DefenseProxy } from "./deps.js";
import { DefenseConfigError, DefenseInputError } from "./errors.js";
import { defineParameters, param } from "./parameters.js";

const parameters = defineParameters("grad2", {
  epsilon: param.number({ description: "L1 budget ‖ỹ − y‖₁ <= ε: δ = min(ε/2, 1 − y_j*) moves into the class j* of least c.", default: 1, min: 0, max: 2 }),
  direction: param.choice(["ones", "minus-theta"], {
    description: "Direction t over all surrogate weights: ones (t = −𝟙, GRAD²'s coordinated direction) or minus-theta (t = −θ).",
    default: "ones",
  }),
  fdStep: param.number({
    description: "Finite-difference step h along t, relative to the weights' scale (copies θ ± a·t, a = h·rms(θ)/rms(t)).",
    default: 1e-4,
    min: 0,
    exclusiveMin: true,
    max: 0.1,
  }),
});

/**
 * The GRAD² answer for one row (float64): the minimiser of Σ_k c_k·x_k over the simplex with ‖x − y‖₁ <= ε.
 * All mass moved goes to j* = argmin c (first minimum), δ = min(ε/2, 1 − y_j*) of it, taken from the
 * other classes in descending order of c (ties: lower index first); a donor whose c equals c_j* gives
 * nothing (no gain, only cost), so less than δ may move when c has ties at its minimum.
 */
export function grad2Row(y: ArrayLike<number>, c: ArrayLike<number>, epsilon: number): Float64Array {
  const K = y.length;
  const x = Float64Array.from(y);
  let target = 0;
  for (let k = 1; k < K; k++) if (c[k] < c[target]) target = k;
  const delta = Math.min(epsilon / 2, 1 - y[target]);
  if (!(delta > 0)) return x;
  const donors: number[] = [];
  for (let k = 0; k < K; k++) if (k !== target && c[k] > c[target]) donors.push(k);
  donors.sort((a, b) => c[b] - c[a] || a - b);
  let remaining = delta;
  for (const k of donors) {
    if (remaining <= 0) break;
    const take = Math.min(remaining, x[k]);
    x[k] -= take;
    remaining -= take;
  }
  x[target] += delta - remaining;
  return x;
}

/** The surrogate part GRAD² needs; a DefenseProxy without it cannot serve. */
type SurrogateProxy = DefenseProxy & Required<Pick<DefenseProxy, "directionalLogProbDerivative">>;

export const grad2Defense = defineDefense({
  name: "grad2",
  description:
    "GRAD² (Mazeika et al. 2022): per query, move up to ε/2 of mass into the class whose surrogate gradient ⟨∇θ log p_k, t⟩ is least (t = −𝟙 over all weights, by finite differences). Needs a surrogate proxy and the inputs.",
  needsCore: false,
  trainedModels: ["surrogate"],
  parameters,
  create(params, deps) {
    const proxy = deps.proxy;
    if (!proxy || typeof proxy.directionalLogProbDerivative !== "function") {
      throw new DefenseConfigError(
        "grad2",
        undefined,
        "needs a surrogate proxy: pass deps.proxy with directionalLogProbDerivative (a src/models Proxy of the surrogate, e.g. new Proxy(distillSurrogate(...).model))",
      );
    }
    const surrogate = proxy as SurrogateProxy;
    // Both directions are negated at the models layer's t = 𝟙 or t = θ: c = ⟨∇ log p, −t'⟩ = −D.
    const direction = params.direction === "ones" ? "ones" : "theta";
    return {
      name: "grad2",
      params,
      traits: { keepsTop1: false, needsInput: true, stateful: false, randomized: false, onSimplex: true },
      async apply(batch) {
        validateDefenseBatch(batch);
        const { probs, batchSize: B, numClasses: K } = batch;
        if (B === 0) return { probs: new Float32Array(0) };
        if (!batch.inputs) throw new DefenseInputError("inputs", undefined, "grad2 runs its surrogate on the queries: the batch must carry its inputs");
        const d = await surrogate.directionalLogProbDerivative(batch.inputs, direction, params.fdStep);
        if (d.length !== B * K) {
          throw new DefenseInputError("inputs", undefined, `the surrogate answered ${d.length / B} classes per query, the victim ${K}`);
        }
        const out = new Float32Array(B * K);
        const c = new Float64Array(K);
        for (let i = 0; i < B; i++) {
          for (let k = 0; k < K; k++) {
            c[k] = -d[i * K + k];
            if (!Number.isFinite(c[k])) throw new DefenseInputError("inputs", i, `the surrogate's derivative for class ${k} is ${d[i * K + k]}`);
          }
          const row = grad2Row(probs.subarray(i * K, (i + 1) * K), c, params.epsilon);
          out.set(row, i * K);
        }
        return { probs: out };
      },
      dispose() {
        surrogate.releaseDirectionalCopies?.();
      },
    };
  },
});

