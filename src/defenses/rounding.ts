// Rounding (MAD.md §5): each probability rounded to `decimals` decimal places (half away from zero).
// As in the reference there is no renormalisation by default, so rows may sum to slightly more or less
// than 1; rounding can also create ties, so the top-1 class is not guaranteed to survive.
import { renormalizeRow, rowArgmax, validateDefenseBatch } from "./batch.js";
import { defineDefense } from "./definition.js";
import { defineParameters, param } from "./parameters.js";

const parameters = defineParameters("rounding", {
  decimals: param.integer({ description: "Decimal places kept (0 gives 0/1 answers).", default: 2, min: 0, max: 8 }),
  renormalize: param.boolean({
    description: "Rescale each rounded row to sum to 1 (default false, as in the reference).",
    default: false,
  }),
});

export const roundingDefense = defineDefense({
  name: "rounding",
  description: "Rounding: every probability rounded to a fixed number of decimals.",
  needsCore: false,
  parameters,
  create(params) {
    const { decimals, renormalize } = params;
    const scale = 10 ** decimals;
    return {
      name: "rounding",
      params,
      traits: { keepsTop1: false, needsInput: false, stateful: false, randomized: false, onSimplex: renormalize },
      async apply(batch) {
        validateDefenseBatch(batch);
        const { probs, batchSize: B, numClasses: K } = batch;
        const out = new Float32Array(B * K);
        for (let i = 0; i < B; i++) {
          for (let k = 0; k < K; k++) out[i * K + k] = Math.round(probs[i * K + k] * scale) / scale;
          if (renormalize) renormalizeRow(out, i, K, rowArgmax(probs, i, K));
        }
        return { probs: out };
      },
    };
  },
});
