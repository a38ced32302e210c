// Every defense by name: the CLI, the evaluation and the service build defenses from here.
import type { Defense } from "./defense.js";
import type { DefenseDefinition } from "./definition.js";
import type { DefenseDeps } from "./deps.js";
import { DefenseConfigError } from "./errors.js";
import { highConfidenceDefense } from "./high-confidence.js";
import { labelsDefense } from "./labels.js";
import { madArgmaxDefense, madDefense } from "./mad.js";
import { modelguardWDefense } from "./modelguard-w.js";
import { noneDefense } from "./none.js";
import { coerceParameterStrings, type ParameterSpec } from "./parameters.js";
import { randomNoiseDefense } from "./random-noise.js";
import { reverseSigmoidDefense } from "./reverse-sigmoid.js";
import { roundingDefense } from "./rounding.js";
import { topkDefense } from "./topk.js";

const definitions = [
  noneDefense,
  topkDefense,
  roundingDefense,
  labelsDefense,
  highConfidenceDefense,
  reverseSigmoidDefense,
  randomNoiseDefense,
  madDefense,
  madArgmaxDefense,
  modelguardWDefense,
] as unknown as readonly DefenseDefinition[];

export type DefenseName =
  | "none" | "topk" | "rounding" | "labels" | "high-confidence" | "reverse-sigmoid"
  | "random-noise" | "mad" | "mad-argmax" | "modelguard-w";

export interface DefenseInfo {
  readonly name: string;
  readonly description: string;
  /** Needs deps.core (the WASM core from loadCore()). */
  readonly needsCore: boolean;
  readonly parameters: readonly ParameterSpec[];
}

function definitionOf(name: string): DefenseDefinition {
  const found = definitions.find((d) => d.name === name);
  if (!found) {
    throw new DefenseConfigError(String(name), undefined, `unknown defense (known: ${definitions.map((d) => d.name).join(", ")})`);
  }
  return found;
}

/** Builds defense `name` with validated `params` (defaults filled in). Throws DefenseConfigError naming the problem. */
export function createDefense(name: DefenseName | string, params?: Readonly<Record<string, unknown>>, deps: DefenseDeps = {}): Defense {
  const definition = definitionOf(name);
  return definition.create(definition.parameters.parse(params), deps);
}

export function listDefenses(): DefenseInfo[] {
  return definitions.map(describe);
}

export function describeDefense(name: string): DefenseInfo {
  return describe(definitionOf(name));
}

function describe(d: DefenseDefinition): DefenseInfo {
  return { name: d.name, description: d.description, needsCore: d.needsCore, parameters: d.parameters.specs };
}

/**
 * The parameters a thief may know (Kerckhoffs): every declared parameter but the secret ones (seeds,
 * keys), defaults filled in.
 */
export function publicParameters(name: string, params?: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const definition = definitionOf(name);
  const secrets = definition.parameters.specs.filter((spec) => spec.secret).map((spec) => spec.name);
  // Secrets go before parsing, so neither their values nor their validation can reach the result.
  const given = Object.fromEntries(Object.entries(params ?? {}).filter(([key]) => !secrets.includes(key)));
  const filled: Record<string, unknown> = { ...definition.parameters.parse(given) };
  for (const secret of secrets) delete filled[secret];
  return filled;
}

/** For CLIs and query strings: parameter values given as strings, coerced to each parameter's type. */
export function parseParameterStrings(
  name: string,
  raw: Readonly<Record<string, string | number | boolean | readonly string[] | undefined>>,
): Record<string, unknown> {
  return coerceParameterStrings(name, definitionOf(name).parameters.specs, raw);
}
