// Top-k (MAD.md §5): keep the k largest probabilities of each row, zero the rest. Like the paper's
// reference the default does not renormalise, so rows sum to less than 1 unless `renormalize` is set.
import { keepSelectedEntries, validateDefenseBatch } from "./batch.js";
import { defineDefense } from "./definition.js";
import { defineParameters, param } from "./parameters.js";

const parameters = defineParameters("topk", {
  k: param.integer({ description: "How many of the largest probabilities each row keeps.", default: 1, min: 1 }),
  renormalize: param.boolean({
    description: "Rescale the kept entries to sum to 1 (default false, as in the reference: rows then sum to less than 1).",
    default: false,
  }),
});

export const topkDefense = defineDefense({
  name: "topk",
  description: "Top-k: keep each row's k largest probabilities (ties: lower class index first), zero the rest.",
  needsCore: false,
  parameters,
  create(params) {
    const { k, renormalize } = params;
    return {
      name: "topk",
      params,
      traits: { keepsTop1: true, needsInput: false, stateful: false, randomized: false, onSimplex: renormalize },
      async apply(batch) {
        validateDefenseBatch(batch);
        const { probs, batchSize: B, numClasses: K } = batch;
        const order = new Int32Array(K);
        const out = keepSelectedEntries(probs, B, K, renormalize, (i, keep) => {
          for (let c = 0; c < K; c++) order[c] = c;
          // Descending by probability, ascending by index on ties: a deterministic choice of the k kept.
          order.sort((a, b) => probs[i * K + b] - probs[i * K + a] || a - b);
          for (let r = 0; r < Math.min(k, K); r++) keep[order[r]] = 1;
        });
        return { probs: out };
      },
    };
  },
});
