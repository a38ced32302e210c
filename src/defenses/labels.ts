// Class labels only (MAD.md §5): the one-hot of each row's own argmax. Every row is handled on its own
// (a well-known library takes the argmax over the whole batch here).
import { rowArgmax, validateDefenseBatch } from "./batch.js";
import { defineDefense } from "./definition.js";
import { defineParameters } from "./parameters.js";

export const labelsDefense = defineDefense({
  name: "labels",
  description: "Labels only: the one-hot vector of each row's top-1 class (ties: the lowest index).",
  needsCore: false,
  parameters: defineParameters("labels", {}),
  create(params) {
    return {
      name: "labels",
      params,
      traits: { keepsTop1: true, needsInput: false, stateful: false, randomized: false, onSimplex: true },
      async apply(batch) {
        validateDefenseBatch(batch);
        const { probs, batchSize: B, numClasses: K } = batch;
        const out = new Float32Array(B * K);
        for (let i = 0; i < B; i++) out[i * K + rowArgmax(probs, i, K)] = 1;
        return { probs: out };
      },
    };
  },
});
