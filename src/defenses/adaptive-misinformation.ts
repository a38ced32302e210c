// Adaptive Misinformation (Kariyappa & Qureshi, CVPR 2020): answer queries that look out of distribution
// with misinformation, the others honestly. Per row, in float64:
//
//   y' = (1 − α)·y + α·m(x),   α = σ(ν·(τ − s(x)))
//
// s(x) is the out-of-distribution score: the max softmax of an outlier-exposure-trained scorer on x
// (deps.scorer), or, without one, max_k y_k of the victim's own answer (right when the victim itself was
// trained with outlier exposure). m(x) is the softmax of the misinformation model f^ on x (deps.misinformation),
// trained to put little mass on the true class. Both come from src/models/misinformation.ts. y and m are on
// the simplex, so their convex combination is too (no renormalisation, so α = 0 returns y bit for bit).
//
// α below 1e-6 counts as 0 and above 1 − 1e-6 as 1 (with ν = 1000: s more than 0.014 above or below τ), so a
// confident row is answered with exactly y and an outlier with exactly m(x); when every row of a batch has
// α = 0 the misinformation model is not run. The rule is per row, so a batch gets the answers of its rows.
import type { InputBatch } from "../models/types.js";
import { checkProbabilityRows, validateDefenseBatch } from "./batch.js";
import type { Defense } from "./defense.js";
import { defineDefense } from "./definition.js";
import type { DefenseModel } from "./deps.js";
import { DefenseConfigError, DefenseInputError } from "./errors.js";
import { defineParameters, param } from "./parameters.js";
import { PredictionPoisoningError } from "../core/errors.js";

const NAME = "adaptive-misinformation";

/** α below this is 0, above 1 − this is 1 (see the file header). */
export const ALPHA_SNAP = 1e-6;

/** α = σ(ν·(τ − s)), snapped to exactly 0 or 1 within ALPHA_SNAP of them. */
export function misinformationWeight(score: number, tau: number, nu: number): number {
  const alpha = 1 / (1 + Math.exp(-nu * (tau - score)));
  return alpha < ALPHA_SNAP ? 0 : alpha > 1 - ALPHA_SNAP ? 1 : alpha;
}

const parameters = defineParameters(NAME, {
  tau: param.number({
    description:
      "Threshold τ on the out-of-distribution score s(x) (a max softmax): rows with s < τ get misinformation. Set per victim " +
      "(the paper: 0.99 for its MNIST model). 0.5: with this project's 8-epoch MNIST LeNets, 2.4 % of test digits and 92 % of " +
      "Fashion-MNIST queries get misinformation (0.9: 15 % of the digits; docs/DEFENSES.md).",
    default: 0.5,
    min: 0,
    exclusiveMin: true,
    max: 1,
    exclusiveMax: true,
  }),
  nu: param.number({
    description: "Slope ν of α = σ(ν·(τ − s)): 1000 switches from y to m(x) within ±0.005 of τ (α 0.007 to 0.993); the paper's 10000 is a hard switch.",
    default: 1000,
    min: 0,
    exclusiveMin: true,
    max: 1e6,
  }),
  score: param.choice(["auto", "scorer", "victim"], {
    description:
      "Where s(x) comes from: scorer (max softmax of deps.scorer, an outlier-exposed model), victim (max of y, for an outlier-exposed victim), auto (scorer if given, else victim).",
    default: "auto",
  }),
});

/** The defense, plus where its score comes from once built. */
export interface AdaptiveMisinformationDefense extends Defense {
  readonly scoreSource: "scorer" | "victim";
}

/** Runs a dependency model on the batch's inputs and checks its answer: B rows on the simplex (any class count when `classes` is undefined). */
async function runModel(model: DefenseModel, what: string, inputs: InputBatch, B: number, classes?: number): Promise<{ probs: Float32Array; K: number }> {
  const probs = await model.probs(inputs);
  const K = classes ?? probs.length / B;
  // A model that answers the wrong shape or non-probabilities is the deployment's fault, not the query's: a plain Error.
  if (!(probs instanceof Float32Array) || probs.length !== B * K || !Number.isInteger(K) || K < 1) {
    throw new PredictionPoisoningError("data", `${NAME}: the ${what} answered ${probs?.length} values for ${B} queries, expected ${B} x ${classes ?? "K"}${classes ? " (the victim's classes)" : ""}`);
  }
  try {
    checkProbabilityRows(what, probs, B, K);
  } catch (error) {
    if (error instanceof DefenseInputError) throw new PredictionPoisoningError("data", `${NAME}: the ${what} model's answer is not probabilities: ${error.message}`, { cause: error });
    throw error;
  }
  return { probs, K };
}

export const adaptiveMisinformationDefense = defineDefense({
  name: NAME,
  description:
    "Adaptive Misinformation (Kariyappa & Qureshi 2020): y' = (1 − α)·y + α·m(x), α = σ(ν·(τ − s(x))), s an out-of-distribution score, m a misinformation model's softmax.",
  needsCore: false,
  trainedModels: ["misinformation", "scorer"],
  parameters,
  create(params, deps): AdaptiveMisinformationDefense {
    const { tau, nu, score } = params;
    const misinformation = deps.misinformation;
    if (!misinformation) {
      throw new DefenseConfigError(
        NAME,
        undefined,
        "needs the misinformation model f^: pass deps.misinformation, anything with probs(batch) returning its softmax " +
          "(e.g. new Proxy(model) with the model of trainMisinformation() from src/models/misinformation.ts)",
      );
    }
    if (score === "scorer" && !deps.scorer) {
      throw new DefenseConfigError(
        NAME,
        "score",
        `"scorer" needs the out-of-distribution scorer: pass deps.scorer (e.g. new Proxy(model) with the model of trainOutlierExposed()), or use score "victim"`,
      );
    }
    const scorer = score === "victim" ? undefined : deps.scorer;
    const scoreSource = scorer ? "scorer" : "victim";
    return {
      name: NAME,
      params,
      scoreSource,
      traits: { keepsTop1: false, needsInput: true, stateful: false, randomized: false, onSimplex: true },
      async apply(batch) {
        validateDefenseBatch(batch);
        const { probs: y, batchSize: B, numClasses: K } = batch;
        if (B === 0) return { probs: new Float32Array(0) };
        const inputs = batch.inputs;
        if (!inputs) {
          throw new DefenseInputError("inputs", undefined, `${NAME} runs its misinformation model${scorer ? " and its scorer" : ""} on the queries: the batch must carry its inputs`);
        }
        const alpha = new Float64Array(B);
        if (scorer) {
          const { probs: s, K: S } = await runModel(scorer, "scorer", inputs, B);
          for (let i = 0; i < B; i++) alpha[i] = misinformationWeight(rowMax(s, i, S), tau, nu);
        } else {
          for (let i = 0; i < B; i++) alpha[i] = misinformationWeight(rowMax(y, i, K), tau, nu);
        }
        const out = y.slice();
        if (alpha.every((a) => a === 0)) return { probs: out };
        const { probs: m } = await runModel(misinformation, "misinformation", inputs, B, K);
        for (let i = 0; i < B; i++) {
          const a = alpha[i];
          if (a === 0) continue;
          if (a === 1) {
            out.set(m.subarray(i * K, (i + 1) * K), i * K);
            continue;
          }
          for (let k = 0; k < K; k++) out[i * K + k] = (1 - a) * y[i * K + k] + a * m[i * K + k];
        }
        return { probs: out };
      },
    };
  },
});

function rowMax(p: Float32Array, i: number, K: number): number {
  let m = p[i * K];
  for (let k = 1; k < K; k++) m = Math.max(m, p[i * K + k]);
  return m;
}
