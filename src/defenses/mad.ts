// MAD (Orekondy et al. 2020) and its top-1-preserving preset MAD-argmax, on the WASM core. The defense
// decides where the thief-gradient information comes from for each batch:
//   jacobian "identity"   -> G = I (the paper's ablation);
//   jacobian "last-layer" -> batch.proxyProbs if the caller has them, else the proxy run on batch.inputs;
//                            neither is an error (never a silent G = I);
//   jacobian "layers"     -> the proxy's Gram matrix over the chosen layers (needs a proxy and inputs).
// With keyMix or keyJitter > 0 the answer is keyed (keyed.ts): a secret `key` drives a choice per answer
// that a thief who knows every public parameter cannot reproduce, so it cannot undo the line search.
// The core is deterministic for every oracle but "random", so a repeated query gets the same answer.
import { CoreInputError } from "../core/errors.js";
import { DEFAULT_EXACT_ARGMAX_LIMIT, MAX_EXACT_ARGMAX_LIMIT } from "../core/validation.js";
import type { Jacobian, Perturber, PerturbOptions } from "../core/types.js";
import { validateDefenseBatch } from "./batch.js";
import type { Defense } from "./defense.js";
import { defineDefense } from "./definition.js";
import type { DefenseDeps, DefenseProxy, JacobianMode } from "./deps.js";
import { DefenseConfigError, DefenseInputError } from "./errors.js";
import { createKeyedMix, isKeyed, KEY_PATTERN, MIN_KEY_BYTES, type KeyedMix, type KeyedSettings } from "./keyed.js";
import { defineParameters, param } from "./parameters.js";

const jacobianParameter = param.choice(["last-layer", "layers", "identity"], {
  description:
    "Thief-gradient model: last-layer (the proxy's softmax; the reference's choice), layers (Gram matrix over the proxy layers in `layers`), identity (G = I).",
  default: "last-layer",
});
const layersParameter = param.stringList({ description: "Proxy layer names for jacobian=layers (default: the proxy's choice)." });
const epsilonParameter = param.number({ description: "Perturbation budget ε in the chosen distance (ε = 0 returns y).", default: 1, min: 0 });
// Public (Kerckhoffs) but for the key: the thief knows how much is keyed, not how.
const keyedParameters = {
  keyMix: param.number({
    description: "β: share of the answer moved to a keyed random point of the ε-ball (0: unkeyed MAD; needs key).",
    default: 0,
    min: 0,
    max: 1,
  }),
  keyJitter: param.number({ description: "δ: MAD's step is scaled by a keyed s in [1 − δ, 1] (0: none; needs key).", default: 0, min: 0, max: 1 }),
  keyCell: param.number({
    description: "Width of the cells of y on which the keyed choice is constant (larger: jittered copies of a query share it more often, and so do more queries).",
    default: 0.1,
    min: 0.001,
    max: 1,
  }),
  key: param.secretString({
    description: `Secret key of the deployment, hex (at least ${MIN_KEY_BYTES} bytes); used when keyMix or keyJitter > 0. Never reported.`,
    pattern: KEY_PATTERN,
    expected: `hex of at least ${MIN_KEY_BYTES} bytes`,
  }),
};

// MAD-argmax's subset search (the core's exactArgmaxLimit): exhaustive is 2^(K−1) subsets per row.
const exactLimitParameter = param.integer({
  description: `argmax: search all 2^(K−1) subsets up to K = exactLimit, greedily beyond (cost doubles per class: ~5 ms per row at K = 20, ~80 ms at ${MAX_EXACT_ARGMAX_LIMIT}).`,
  default: DEFAULT_EXACT_ARGMAX_LIMIT,
  min: 1,
  max: MAX_EXACT_ARGMAX_LIMIT,
});

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
  exactLimit: exactLimitParameter,
  jacobian: jacobianParameter,
  layers: layersParameter,
  ...keyedParameters,
});

const madArgmaxParameters = defineParameters("mad-argmax", {
  epsilon: epsilonParameter,
  step: stepParameter,
  exactLimit: exactLimitParameter,
  jacobian: jacobianParameter,
  layers: layersParameter,
  ...keyedParameters,
});

interface MadSettings {
  options: PerturbOptions;
  jacobian: JacobianMode;
  layers?: string[];
  keyed: Pick<KeyedSettings, "keyMix" | "keyJitter" | "keyCell">;
  key?: string;
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
  // The keyed mix depends on ε (its step stays in the ball): one per budget, the sweep's made on first use.
  const keyedMixFor = (epsilon: number): KeyedMix | undefined => {
    if (!isKeyed(settings.keyed)) return undefined;
    if (!settings.key) {
      throw new DefenseConfigError(name, "key", "keyMix and keyJitter need the deployment's secret key (hex; `serve` keeps one in --key-file)");
    }
    const { distance, oracle } = settings.options;
    return createKeyedMix(name, settings.key, { ...settings.keyed, distance, epsilon, keepTop1: oracle === "argmax" });
  };
  const keyedMix = keyedMixFor(settings.options.epsilon);
  const sweptMixes = new Map<number, KeyedMix | undefined>();
  let sweeper: Perturber | undefined;

  async function jacobianFor(batch: Parameters<Defense["apply"]>[0]): Promise<Jacobian> {
    if (settings.jacobian === "identity") return { kind: "identity" };
    if (settings.jacobian === "last-layer" && batch.proxyProbs) return { kind: "probs", proxyProbs: batch.proxyProbs };
    if (!proxy) {
      throw new DefenseInputError(
        "proxyProbs",
        undefined,
        `${name} with jacobian "last-layer" needs the thief-gradient view: pass a proxy (deps.proxy, e.g. Proxy.scratch({ arch, seed, numClasses, inputShape })) ` +
          `or the batch's proxyProbs, or choose jacobian "identity" (G = I, the paper's ablation)`,
      );
    }
    if (!batch.inputs) {
      throw new DefenseInputError("inputs", undefined, `${name} has a proxy and jacobian "${settings.jacobian}": the batch must carry its inputs (or proxyProbs for last-layer)`);
    }
    return proxy.jacobian(batch.inputs, settings.jacobian, settings.layers);
  }

  // The key never travels with the parameters (reports, /v1/model); traits.keyed says there is one.
  const { key: _key, ...reported } = params;
  return {
    name,
    params: reported,
    traits: {
      keepsTop1: settings.options.oracle === "argmax",
      needsInput: usesProxy,
      stateful: false,
      randomized: settings.options.oracle === "random",
      onSimplex: true,
      keyed: keyedMix !== undefined,
    },
    async apply(batch) {
      validateDefenseBatch(batch);
      if (batch.batchSize === 0) return { probs: new Float32Array(0) };
      const jacobian = await jacobianFor(batch);
      const answers = perturber.perturb(batch.probs, batch.numClasses, jacobian);
      return { probs: keyedMix ? await keyedMix.apply(batch.probs, answers, batch.numClasses) : answers };
    },
    async sweep(batch, epsilons) {
      validateDefenseBatch(batch);
      let list: number[];
      try {
        list = [...epsilons];
        if (batch.batchSize === 0) return list.map(() => ({ probs: new Float32Array(0) }));
        const jacobian = await jacobianFor(batch);
        // Its own perturber: the random oracle's row counter runs over the sweeps as apply's over its batches.
        sweeper ??= makePerturber();
        const answers = sweeper.perturbSweep(batch.probs, batch.numClasses, list, jacobian);
        return await Promise.all(answers.map(async (probs, e) => {
          if (!sweptMixes.has(list[e])) sweptMixes.set(list[e], keyedMixFor(list[e]));
          const mix = sweptMixes.get(list[e]);
          return { probs: mix ? await mix.apply(batch.probs, probs, batch.numClasses) : probs };
        }));
      } catch (error) {
        if (error instanceof CoreInputError && error.field === "epsilons") throw new DefenseConfigError(name, "epsilon", error.message);
        throw error;
      }
    },
    reset() {
      // The random oracle counts rows; a fresh perturber restarts its stream.
      perturber = makePerturber();
      sweeper = undefined;
    },
  };
}

export const madDefense = defineDefense({
  name: "mad",
  description: "MAD (Orekondy et al. 2020): the answer within ε of y that turns the thief's gradient furthest away. Every option of the core.",
  needsCore: true,
  parameters: madParameters,
  create(params, deps) {
    const { oracle, objective, distance, epsilon, step, seed, exactLimit, jacobian, layers, keyMix, keyJitter, keyCell, key } = params;
    const options: PerturbOptions = { oracle, objective, distance, epsilon, step, seed, exactArgmaxLimit: exactLimit };
    return createMad("mad", params, { options, jacobian, layers, keyed: { keyMix, keyJitter, keyCell }, key }, deps);
  },
});

export const madArgmaxDefense = defineDefense({
  name: "mad-argmax",
  description: "MAD-argmax: MAD with oracle argmax, angular objective and L1 budget, so every answer keeps the victim's top-1 class.",
  needsCore: true,
  parameters: madArgmaxParameters,
  create(params, deps) {
    const { epsilon, step, exactLimit, jacobian, layers, keyMix, keyJitter, keyCell, key } = params;
    const options: PerturbOptions = { oracle: "argmax", objective: "angular", distance: "l1", epsilon, step, seed: 0, exactArgmaxLimit: exactLimit };
    return createMad(
      "mad-argmax",
      params,
      { options, jacobian, layers, keyed: { keyMix, keyJitter, keyCell }, key },
      deps,
    );
  },
});
