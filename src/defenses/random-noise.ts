// Random noise (MAD.md §5). Two logit-space variants as in the paper's reference: z = logit(y) per entry,
// δ uniform in [0, 2ε/K^(1/p)]^K or standard normal, δ projected onto the ε-ball (L1 or L2), ỹ = σ(z + δ)
// renormalised; and a probability-space variant: y + N(0, σ²), negatives clipped, renormalised.
//
// Seeds: one stream per defense instance, consumed row after row (K uniforms, or 2K for Gaussian noise, per
// row whatever its values), so a batch gets exactly the answers of its rows sent one by one in the same
// order; reset() restarts the stream from the seed.
import { renormalizeRow, rowArgmax, validateDefenseBatch } from "./batch.js";
import { defineDefense } from "./definition.js";
import { defineParameters, param } from "./parameters.js";
import { seeded } from "../models/random.js";
import { DefenseConfigError } from "./errors.js";

const CLIP = 1e-9;

const parameters = defineParameters("random-noise", {
  mode: param.choice(["logit-uniform", "logit-gaussian", "prob-gaussian"], {
    description: "Where the noise goes and its law: uniform or Gaussian on the logits (projected onto the ε-ball), or Gaussian on the probabilities.",
    default: "logit-uniform",
  }),
  epsilon: param.number({ description: "Radius ε of the logit-space noise ball (logit modes).", default: 1, min: 0 }),
  norm: param.choice(["l1", "l2"], { description: "Norm of the logit-space noise ball (logit modes).", default: "l1" }),
  sigma: param.number({ description: "Standard deviation of the probability-space noise (prob-gaussian).", default: 0.1, min: 0 }),
  seed: param.integer({ description: "Seed of the noise stream.", default: 0, min: 0, max: 4294967295, secret: true }),
});

export const randomNoiseDefense = defineDefense({
  name: "random-noise",
  description: "Random noise on the logits (uniform or Gaussian, projected onto an ε-ball) or on the probabilities (Gaussian); seeded.",
  needsCore: true,
  parameters,
  create(params, deps) {
    const { mode, epsilon, norm, sigma, seed } = params;
    const core = deps.core;
    if (!core) throw new DefenseConfigError("random-noise", undefined, "needs the WASM core (deps.core from loadCore()) for its ball projections");
    // xoshiro128: the engine the pinned answers of this defense were drawn with
    let stream = seeded(seed, "xoshiro128");
    return {
      name: "random-noise",
      params,
      traits: { keepsTop1: false, needsInput: false, stateful: false, randomized: true, onSimplex: true },
      reset() {
        stream = seeded(seed, "xoshiro128");
      },
      async apply(batch) {
        validateDefenseBatch(batch);
        const { probs, batchSize: B, numClasses: K } = batch;
        const out = new Float32Array(B * K);
        let delta: Float64Array = new Float64Array(K);
        const origin = new Float64Array(K);
        const p = norm === "l1" ? 1 : 2;
        const width = (2 * epsilon) / K ** (1 / p);
        for (let i = 0; i < B; i++) {
          if (mode === "prob-gaussian") {
            // All-negative rows (huge σ) fall back to the one-hot of the largest noisy entry.
            let best = 0;
            let bestValue = -Infinity;
            for (let k = 0; k < K; k++) {
              const noisy = probs[i * K + k] + sigma * stream.normal();
              if (noisy > bestValue) {
                bestValue = noisy;
                best = k;
              }
              out[i * K + k] = Math.max(noisy, 0);
            }
            renormalizeRow(out, i, K, best);
            continue;
          }
          for (let k = 0; k < K; k++) delta[k] = mode === "logit-uniform" ? width * stream.uniform() : stream.normal();
          delta = norm === "l1" ? core.projectOntoL1Ball(delta, origin, epsilon) : core.projectOntoL2Ball(delta, origin, epsilon);
          for (let k = 0; k < K; k++) {
            const y = Math.min(Math.max(probs[i * K + k], CLIP), 1 - CLIP);
            const z = Math.log(y / (1 - y)) + delta[k];
            out[i * K + k] = 1 / (1 + Math.exp(-z));
          }
          renormalizeRow(out, i, K, rowArgmax(probs, i, K));
        }
        return { probs: out };
      },
    };
  },
});
