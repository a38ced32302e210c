// The undefended baseline: answers are the victim's probabilities, copied.
import { validateDefenseBatch } from "./batch.js";
import { defineDefense } from "./definition.js";
import { defineParameters } from "./parameters.js";

export const noneDefense = defineDefense({
  name: "none",
  description: "No defense: returns the victim's probabilities unchanged (the baseline).",
  needsCore: false,
  parameters: defineParameters("none", {}),
  create(params) {
    return {
      name: "none",
      params,
      traits: { keepsTop1: true, needsInput: false, stateful: false, randomized: false, onSimplex: true },
      async apply(batch) {
        validateDefenseBatch(batch);
        return { probs: Float32Array.from(batch.probs) };
      },
    };
  },
});
