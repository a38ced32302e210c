// MAD (Orekondy et al. 2020) and its top-1-preserving preset MAD-argmax, on the WASM core. The defense
// only decides where the thief-gradient information comes from for each batch:
//   jacobian "identity"   -> G = I (the paper's ablation);
//   jacobian "last-layer" -> batch.proxyProbs if the caller has them, else the proxy run on batch.inputs,
//                            else (no proxy configured at all) G = I;
//   jacobian "layers"     -> the proxy's Gram matrix over the chosen layers (needs a proxy and inputs).
// The core is deterministic for every oracle but "random", so a repeated query gets the same answer.
import { CoreInputError } from "../core/errors.js";
import type { Jacobian, Perturber, PerturbOptions } from "../core/types.js";
import { validateDefenseBatch } from "./batch.js";
import type { Defense } from "./defense.js";
import { defineDefense } from "./definition.js";
import type { DefenseDeps, DefenseProxy, JacobianMode } from "./deps.js";
import { DefenseConfigError, DefenseInputError } from "./errors.js";
import { defineParameters, param } from "./parameters.js";

const jacobianParameter = param.choice(["last-layer", "layers", "identity"], {
  description:
    "Thief-gradient model: last-layer (the proxy's softmax; the reference's choice), layers (Gram matrix over the proxy layers in `layers`), identity (G = I).",
  default: "last-layer",
});
const layersParameter = param.stringList({ description: "Proxy layer names for jacobian=layers (default: the proxy's choice)." });
const epsilonParameter = param.number({ description: "Perturbation budget ε in the chosen distance (ε = 0 returns y).", default: 1, min: 0 });
const stepParameter = param.choice(["linesearch", "projections", "reachable"], {
  description: "How ỹ is reached from the target vertex: linesearch (the paper), projections (l1/l2), reachable (candidates scored where the line search lands).",
  default: "linesearch",
});

const madParameters = defineParameters("mad", {
  oracle: param.choice(["extreme", "argmax", "random", "argmin"], {
    description: "Target vertex: extreme (MAD), argmax (keeps top-1), random (seeded), argmin.",
    default: "extreme",
  }),
  objective: param.choice(["angular", "surrogate"], { description: "Objective the oracle maximises: angular (H) or surrogate (S).", default: "angular" }),
  distance: param.choice(["l1", "l2", "kl"], { description: "Distance of the budget ball: l1, l2 or kl (KL(y||ỹ)).", default: "l1" }),
  epsilon: epsilonParameter,
  step: stepParameter,
  seed: param.integer({ description: "Seed of the random oracle.", default: 0, min: 0, max: 4294967295, secret: true }),
  jacobian: jacobianParameter,
  layers: layersParameter,
});

const madArgmaxParameters = defineParameters("mad-argmax", {
  epsilon: epsilonParameter,
  step: stepParameter,
  jacobian: jacobianParameter,
  layers: layersParameter,
});

interface MadSettings {
  options: PerturbOptions;
  jacobian: JacobianMode;
  layers?: string[];
}

function createMad(name: string, params: Readonly<Record<string, unknown>>, settings: MadSettings, deps: DefenseDeps): Defense {
  const core = deps.core;
  if (!core) throw new DefenseConfigError(name, undefined, "needs the WASM core: pass deps.core (from loadCore())");
  const makePerturber = (): Perturber => {
    try {
      return core.createPerturber(settings.options);
    } catch (error) {
      if (error instanceof CoreInputError) throw new DefenseConfigError(name, error.field, error.message);
      throw error;
    }
  };
  let perturber = makePerturber();
  const proxy: DefenseProxy | undefined = deps.proxy;
  if (settings.jacobian === "layers" && !proxy) {
    throw new DefenseConfigError(name, "jacobian", `"layers" needs a proxy model (deps.proxy)`);
  }
  const usesProxy = proxy !== undefined && settings.jacobian !== "identity";

  async function jacobianFor(batch: Parameters<Defense["apply"]>[0]): Promise<Jacobian> {
    if (settings.jacobian === "identity") return { kind: "identity" };
    if (settings.jacobian === "last-layer" && batch.proxyProbs) return { kind: "probs", proxyProbs: batch.proxyProbs };
    if (!proxy) return { kind: "identity" };
    if (!batch.inputs) {
      throw new DefenseInputError("inputs", undefined, `${name} has a proxy and jacobian "${settings.jacobian}": the batch must carry its inputs (or proxyProbs for last-layer)`);
    }
    return proxy.jacobian(batch.inputs, settings.jacobian, settings.layers);
  }

  return {
    name,
    params,
    traits: {
      keepsTop1: settings.options.oracle === "argmax",
      needsInput: usesProxy,
      stateful: false,
      randomized: settings.options.oracle === "random",
      onSimplex: true,
    },
    async apply(batch) {
      validateDefenseBatch(batch);
      if (batch.batchSize === 0) return { probs: new Float32Array(0) };
      const jacobian = await jacobianFor(batch);
      return { probs: perturber.perturb(batch.probs, batch.numClasses, jacobian) };
    },
    reset() {
      // The random oracle counts rows; a fresh perturber restarts its stream.
      perturber = makePerturber();
    },
  };
}

export const madDefense = defineDefense({
  name: "mad",
  description: "MAD (Orekondy et al. 2020): the answer within ε of y that turns the thief's gradient furthest away. Every option of the core.",
  needsCore: true,
  parameters: madParameters,
  create(params, deps) {
    const { oracle, objective, distance, epsilon, step, seed, jacobian, layers } = params;
    return createMad("mad", params, { options: { oracle, objective, distance, epsilon, step, seed }, jacobian, layers }, deps);
  },
});

export const madArgmaxDefense = defineDefense({
  name: "mad-argmax",
  description: "MAD-argmax: MAD with oracle argmax, angular objective and L1 budget, so every answer keeps the victim's top-1 class.",
  needsCore: true,
  parameters: madArgmaxParameters,
  create(params, deps) {
    const { epsilon, step, jacobian, layers } = params;
    return createMad(
      "mad-argmax",
      params,
      { options: { oracle: "argmax", objective: "angular", distance: "l1", epsilon, step, seed: 0 }, jacobian, layers },
      deps,
    );
  },
});
