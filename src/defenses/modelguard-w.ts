// ModelGuard-W (Tang et al. 2024): per row, the answer within an L1 ball of radius ε that maximises the
// cross-entropy to the victim's posterior while the top-1 class keeps a margin. No proxy, no state; solved
// exactly by the WASM core (assembly/modelguard.ts; derivation in docs/DEFENSES.md).
import { CoreInputError } from "../core/errors.js";
import { createModelGuardSolver, type ModelGuardSolver } from "../core/modelguard.js";
import { validateDefenseBatch } from "./batch.js";
import { defineDefense } from "./definition.js";
import { DefenseConfigError } from "./errors.js";
import { defineParameters, param } from "./parameters.js";

const parameters = defineParameters("modelguard-w", {
  epsilon: param.number({ description: "L1 budget ‖ỹ − y‖₁ <= ε (the paper's code uses 1).", default: 1, min: 0, max: 2 }),
  margin: param.number({ description: "Lead the top-1 class keeps over every other class.", default: 1e-4, min: 0, max: 0.1 }),
});

export const modelguardWDefense = defineDefense({
  name: "modelguard-w",
  description: "ModelGuard-W (Tang et al. 2024): maximise −Σ ỹ_k·log y_k within an L1 ball, keeping top-1 (exact, WASM core). Rows whose top two classes are too close for the budget to open the margin are answered with y.",
  needsCore: true,
  parameters,
  create(params, deps) {
    const core = deps.core;
    if (!core) throw new DefenseConfigError("modelguard-w", undefined, "needs the WASM core: pass deps.core (from loadCore())");
    let solver: ModelGuardSolver;
    try {
      solver = createModelGuardSolver(core, { epsilon: params.epsilon, margin: params.margin });
    } catch (error) {
      if (error instanceof CoreInputError) throw new DefenseConfigError("modelguard-w", error.field, error.message);
      throw error;
    }
    return {
      name: "modelguard-w",
      params,
      traits: { keepsTop1: true, needsInput: false, stateful: false, randomized: false, onSimplex: true },
      async apply(batch) {
        validateDefenseBatch(batch);
        return { probs: solver.solve(batch.probs, batch.numClasses).probs };
      },
    };
  },
});
