// Reverse sigmoid (Lee et al. 2018; MAD.md §5): ỹ = y − β·(σ(γ·logit y) − ½), clipped to [0, 1], renormalised.
// Computed in float64; y is clipped to [1e-9, 1 − 1e-9] first so that logit(y) is finite.
import { renormalizeRow, rowArgmax, validateDefenseBatch } from "./batch.js";
import { defineDefense } from "./definition.js";
import { defineParameters, param } from "./parameters.js";

const CLIP = 1e-9;

/** One entry before renormalising: y clipped to [1e-9, 1 − 1e-9], then y − β·(σ(γ·logit y) − ½) clipped to [0, 1]. */
export function reverseSigmoidEntry(probability: number, beta: number, gamma: number): number {
  const y = Math.min(Math.max(probability, CLIP), 1 - CLIP);
  const s = 1 / (1 + Math.exp(-gamma * Math.log(y / (1 - y))));
  return Math.min(Math.max(y - beta * (s - 0.5), 0), 1);
}

const parameters = defineParameters("reverse-sigmoid", {
  beta: param.number({ description: "Perturbation strength β (the paper sweeps 0 to 1).", default: 0.7, min: 0 }),
  gamma: param.number({
    description: "Sigmoid slope γ (paper: 0.2 MNIST, 0.4 FashionMNIST, 0.1 CIFAR10).",
    default: 0.2,
    min: 0,
    exclusiveMin: true,
  }),
});

export const reverseSigmoidDefense = defineDefense({
  name: "reverse-sigmoid",
  description: "Reverse sigmoid (Lee et al. 2018): subtract β·(σ(γ·logit y) − ½) from y, clip to [0, 1], renormalise.",
  needsCore: false,
  parameters,
  create(params) {
    const { beta, gamma } = params;
    return {
      name: "reverse-sigmoid",
      params,
      traits: { keepsTop1: false, needsInput: false, stateful: false, randomized: false, onSimplex: true },
      async apply(batch) {
        validateDefenseBatch(batch);
        const { probs, batchSize: B, numClasses: K } = batch;
        const out = new Float32Array(B * K);
        const row = new Float64Array(K);
        for (let i = 0; i < B; i++) {
          let sum = 0;
          for (let k = 0; k < K; k++) {
            const t = reverseSigmoidEntry(probs[i * K + k], beta, gamma);
            row[k] = t;
            sum += t;
          }
          if (sum > 0) {
            for (let k = 0; k < K; k++) out[i * K + k] = row[k] / sum;
          } else {
            renormalizeRow(out, i, K, rowArgmax(probs, i, K));
          }
        }
        return { probs: out };
      },
    };
  },
});
