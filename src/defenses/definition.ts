// What a defense file exports: its name, description, declared parameters and a factory. The registry
// collects these; nothing else needs to know which defenses exist.
import type { Defense } from "./defense.js";
import type { DefenseDeps } from "./deps.js";
import type { Parameter, ParameterSet, ParameterValues } from "./parameters.js";

/** A model beside the victim that the defender trains: GRAD²'s surrogate (deps.proxy), Adaptive Misinformation's
 * misinformation model and optional scorer (deps.misinformation, deps.scorer). */
export type TrainedModelRole = "surrogate" | "misinformation" | "scorer";

export interface DefenseDefinition<P extends Record<string, Parameter<unknown>> = Record<string, Parameter<unknown>>> {
  readonly name: string;
  readonly description: string;
  /** Needs `deps.core` (the WASM perturbation core). */
  readonly needsCore: boolean;
  /** The defender's own trained models it takes in deps (their weights are secrets, like keys); default none. */
  readonly trainedModels?: readonly TrainedModelRole[];
  readonly parameters: ParameterSet<P>;
  create(params: ParameterValues<P>, deps: DefenseDeps): Defense;
}

export function defineDefense<P extends Record<string, Parameter<unknown>>>(definition: DefenseDefinition<P>): DefenseDefinition<P> {
  return definition;
}
