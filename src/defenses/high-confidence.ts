// High confidence (MAD.md §5): entries below a cutoff are zeroed. A row's top-1 entry is always kept, even
// below the cutoff, so no row is ever emptied; without `renormalize` (the default) rows sum to less than 1.
import { keepSelectedEntries, rowArgmax, validateDefenseBatch } from "./batch.js";
import { defineDefense } from "./definition.js";
import { defineParameters, param } from "./parameters.js";

const parameters = defineParameters("high-confidence", {
  cutoff: param.number({ description: "Probabilities strictly below this are set to 0.", default: 0.5, min: 0, max: 1 }),
  renormalize: param.boolean({ description: "Rescale the kept entries to sum to 1 (default false).", default: false }),
});

export const highConfidenceDefense = defineDefense({
  name: "high-confidence",
  description: "High confidence: zero every probability below a cutoff (the row's top-1 entry is always kept).",
  needsCore: false,
  parameters,
  create(params) {
    const { cutoff, renormalize } = params;
    return {
      name: "high-confidence",
      params,
      traits: { keepsTop1: true, needsInput: false, stateful: false, randomized: false, onSimplex: renormalize },
      async apply(batch) {
        validateDefenseBatch(batch);
        const { probs, batchSize: B, numClasses: K } = batch;
        const out = keepSelectedEntries(probs, B, K, renormalize, (i, keep) => {
          for (let k = 0; k < K; k++) if (probs[i * K + k] >= cutoff) keep[k] = 1;
          keep[rowArgmax(probs, i, K)] = 1;
        });
        return { probs: out };
      },
    };
  },
});
