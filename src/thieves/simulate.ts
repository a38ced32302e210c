// A defense-aware thief runs the public defense itself (Kerckhoffs): the registry's own implementation,
// built from the public parameters it knows, with its own guesses for the secret ones (a seed or a key it
// draws itself) and, for a defense with a proxy, either the uniform distribution as the proxy's softmax (a
// scratch LeNet's softmax on digits is within 0.03-0.04 of uniform) or a scratch model of its own.
import type { Defense, DefenseTraits } from "../defenses/defense.js";
import type { DefenseDeps } from "../defenses/deps.js";
import { createDefense, describeDefense } from "../defenses/registry.js";
import { Proxy } from "../models/proxy.js";
import { roleSeed } from "../models/random.js";
import type { InputBatch } from "../models/types.js";
import type { DefenseKnowledge, ThiefDeps } from "./thief.js";
import { ThiefInputError } from "./thief.js";

/** What the thief believes the defender's proxy is: the uniform softmax, or a scratch model of its own. */
export type ProxyGuess = "uniform" | "scratch";

export interface SimulatedDefense {
  readonly knowledge: DefenseKnowledge;
  readonly traits: DefenseTraits;
  /** The public defense applied to `probs` (B x K); `inputs` are needed only with a scratch proxy guess. */
  apply(probs: Float32Array, numClasses: number, inputs?: InputBatch): Promise<Float32Array>;
  dispose(): void;
}

/** The thief's own stand-in for a secret key: 32 bytes of hex drawn from its seed. */
function guessKey(seed: number, name: string): string {
  return Array.from({ length: 8 }, (_, i) => roleSeed(seed, `guess-${name}`, i).toString(16).padStart(8, "0")).join("");
}

export function requireKnowledge(thief: string, knowledge: DefenseKnowledge | undefined): DefenseKnowledge {
  if (!knowledge) {
    throw new ThiefInputError(`thief "${thief}": needs options.defense (the defense's name and public parameters) to undo it`);
  }
  return knowledge;
}

/**
 * Builds the public defense as the thief can: `seed` draws the thief's guesses for secret parameters
 * (so the thief never reuses the defender's default seed by accident) and its scratch proxy.
 */
export function simulateDefense(
  thief: string,
  knowledge: DefenseKnowledge,
  deps: ThiefDeps,
  options: { seed: number; proxy: ProxyGuess },
): SimulatedDefense {
  const info = describeDefense(knowledge.name);
  if (info.needsCore && !deps.core) {
    throw new ThiefInputError(`thief "${thief}": simulating defense "${knowledge.name}" needs deps.core (the WASM core from loadCore())`);
  }
  const params: Record<string, unknown> = { ...knowledge.params };
  for (const spec of info.parameters) {
    if (!spec.secret) continue;
    if (spec.type === "integer") params[spec.name] = roleSeed(options.seed, `guess-${spec.name}`);
    else if (spec.type === "string") params[spec.name] = guessKey(options.seed, spec.name);
    else throw new ThiefInputError(`thief "${thief}": cannot guess secret parameter "${spec.name}" of "${knowledge.name}"`);
  }
  const layersJacobian = params.jacobian === "layers";
  // The defender's trained models (GRAD²'s surrogate, Adaptive Misinformation's) are secret weights: the
  // thief stands in scratch models of its own architecture (it trains none of them).
  const needsModel = info.trainedModels.includes("surrogate");
  let proxy: Proxy | undefined;
  const extra: Proxy[] = [];
  const defenseDeps: DefenseDeps = { core: deps.core };
  if (options.proxy === "scratch" || layersJacobian || needsModel) {
    proxy = new Proxy(deps.buildSubstitute(roleSeed(options.seed, "scratch-proxy")));
    (defenseDeps as { proxy?: Proxy }).proxy = proxy;
  }
  for (const role of info.trainedModels) {
    if (role === "surrogate") continue; // that one is deps.proxy, above
    const model = new Proxy(deps.buildSubstitute(roleSeed(options.seed, `scratch-${role}`)));
    extra.push(model);
    (defenseDeps as Record<string, unknown>)[role] = model;
  }
  const defense: Defense = createDefense(knowledge.name, params, defenseDeps);
  const uniformProxy = options.proxy === "uniform" && !layersJacobian && !needsModel && extra.length === 0;
  return {
    knowledge,
    traits: defense.traits,
    async apply(probs, numClasses, inputs) {
      const batchSize = probs.length / numClasses;
      if (defense.traits.needsInput && !uniformProxy && !inputs) {
        throw new ThiefInputError(`thief "${thief}": simulating "${knowledge.name}" with a scratch proxy needs the inputs`);
      }
      const proxyProbs = uniformProxy ? new Float32Array(probs.length).fill(1 / numClasses) : undefined;
      const result = await defense.apply({ probs, batchSize, numClasses, inputs: uniformProxy ? undefined : inputs, proxyProbs });
      return result.probs;
    },
    dispose() {
      defense.dispose?.();
      proxy?.dispose();
      for (const model of extra) model.dispose();
    },
  };
}
