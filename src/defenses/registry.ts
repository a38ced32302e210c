// Every defense by name: the CLI, the evaluation and the service build defenses from here.
import { adaptiveMisinformationDefense } from "./adaptive-misinformation.js";
import { chainDefenses, chainParameterName, chainParameterSpecs, routeChainParameters, splitChainName, type ChainStage } from "./chain.js";
import type { Defense } from "./defense.js";
import type { DefenseDefinition, TrainedModelRole } from "./definition.js";
import type { DefenseDeps } from "./deps.js";
import { DefenseConfigError, UnknownParameterError } from "./errors.js";
import { grad2Defense } from "./grad2.js";
import { highConfidenceDefense } from "./high-confidence.js";
import { labelsDefense } from "./labels.js";
import { madArgmaxDefense, madDefense } from "./mad.js";
import { modelguardSDefense } from "./modelguard-s.js";
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
  modelguardSDefense,
  grad2Defense,
  adaptiveMisinformationDefense,
] as unknown as readonly DefenseDefinition[];

export type DefenseName =
  | "none" | "topk" | "rounding" | "labels" | "high-confidence" | "reverse-sigmoid"
  | "random-noise" | "mad" | "mad-argmax" | "modelguard-w" | "modelguard-s" | "grad2"
  | "adaptive-misinformation";

export interface DefenseInfo {
  readonly name: string;
  readonly description: string;
  /** Needs deps.core (the WASM core from loadCore()). */
  readonly needsCore: boolean;
  /** The defender's trained models it takes in deps (a chain: every stage's); their weights are secrets. */
  readonly trainedModels: readonly TrainedModelRole[];
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
  const chain = chainOf(name);
  if (chain) return createChain(chain, params, deps);
  const definition = definitionOf(name);
  return definition.create(definition.parameters.parse(params), deps);
}

export function listDefenses(): DefenseInfo[] {
  return definitions.map(describe);
}

export function describeDefense(name: string): DefenseInfo {
  const chain = chainOf(name);
  if (chain) return describeChain(chain);
  return describe(definitionOf(name));
}

function describe(d: DefenseDefinition): DefenseInfo {
  return { name: d.name, description: d.description, needsCore: d.needsCore, trainedModels: d.trainedModels ?? [], parameters: d.parameters.specs };
}

/**
 * The parameters a thief may know (Kerckhoffs): every declared parameter but the secret ones (seeds,
 * keys), defaults filled in.
 */
export function publicParameters(name: string, params?: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const chain = chainOf(name);
  if (chain) return publicChainParameters(chain, params);
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
  const chain = chainOf(name);
  if (chain) return chainParameterStrings(chain, raw);
  return coerceParameterStrings(name, definitionOf(name).parameters.specs, raw);
}

// Chains: "a>b" is defense a, then defense b on a's answers (chain.ts). Parameters may be flat, each
// routed to the one stage that declares it, or "stage.param" (needed when several stages declare it).

interface Chain {
  readonly name: string;
  readonly definitions: readonly DefenseDefinition[];
  readonly stages: readonly ChainStage[];
}

function chainOf(name: string): Chain | null {
  const names = typeof name === "string" ? splitChainName(name) : null;
  if (!names) return null;
  const stageDefinitions = names.map(definitionOf);
  return {
    name: names.join(">"),
    definitions: stageDefinitions,
    stages: stageDefinitions.map((d) => ({ name: d.name, parameters: d.parameters.specs })),
  };
}

/** A stage's DefenseConfigError, restated for the chain under the chain's name of the parameter. */
function chainError(chain: Chain, stage: string, error: unknown): unknown {
  if (!(error instanceof DefenseConfigError) || error.defense !== stage) return error;
  if (error.parameter === undefined) return new DefenseConfigError(chain.name, undefined, `stage "${stage}": ${error.detail}`);
  const parameter = chainParameterName(chain.stages, stage, error.parameter);
  if (error instanceof UnknownParameterError) return new UnknownParameterError(chain.name, parameter, error.known);
  return new DefenseConfigError(chain.name, parameter, error.detail);
}

/** Each stage's validated parameters, defaults filled in. */
function parseChain(chain: Chain, params: Readonly<Record<string, unknown>> | undefined) {
  const routed = routeChainParameters(chain.name, chain.stages, params);
  return chain.definitions.map((d, i) => {
    try {
      return d.parameters.parse(routed[i]);
    } catch (error) {
      throw chainError(chain, d.name, error);
    }
  });
}

function createChain(chain: Chain, params: Readonly<Record<string, unknown>> | undefined, deps: DefenseDeps): Defense {
  const parsed = parseChain(chain, params);
  const built: Defense[] = [];
  try {
    chain.definitions.forEach((d, i) => {
      try {
        built.push(d.create(parsed[i], deps));
      } catch (error) {
        throw chainError(chain, d.name, error);
      }
    });
    return chainDefenses(built);
  } catch (error) {
    for (const d of built) d.dispose?.();
    throw error;
  }
}

function describeChain(chain: Chain): DefenseInfo {
  return {
    name: chain.name,
    description: `Chain: ${chain.definitions.map((d) => d.name).join(", then ")}, each stage answering the previous one's answers.`,
    needsCore: chain.definitions.some((d) => d.needsCore),
    trainedModels: [...new Set(chain.definitions.flatMap((d) => d.trainedModels ?? []))],
    parameters: chainParameterSpecs(chain.stages),
  };
}

/** Flat, under the chain's parameter names (so they can be given back to createDefense). */
function publicChainParameters(chain: Chain, params: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> {
  const routed = routeChainParameters(chain.name, chain.stages, params);
  const out: Record<string, unknown> = {};
  chain.definitions.forEach((d, i) => {
    const secrets = d.parameters.specs.filter((spec) => spec.secret).map((spec) => spec.name);
    const given = Object.fromEntries(Object.entries(routed[i]).filter(([key]) => !secrets.includes(key)));
    let filled: Record<string, unknown>;
    try {
      filled = { ...d.parameters.parse(given) };
    } catch (error) {
      throw chainError(chain, d.name, error);
    }
    for (const [key, value] of Object.entries(filled)) if (!secrets.includes(key)) out[chainParameterName(chain.stages, d.name, key)] = value;
  });
  return out;
}

/** The given keys kept as given, each value coerced by the declaration of the stage parameter it routes to. */
function chainParameterStrings(
  chain: Chain,
  raw: Readonly<Record<string, string | number | boolean | readonly string[] | undefined>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    const routed = routeChainParameters(chain.name, chain.stages, { [key]: value });
    const i = routed.findIndex((r) => Object.keys(r).length > 0);
    const [param] = Object.keys(routed[i]);
    const d = chain.definitions[i];
    try {
      out[key] = coerceParameterStrings(d.name, d.parameters.specs, { [param]: value })[param];
    } catch (error) {
      throw chainError(chain, d.name, error);
    }
  }
  return out;
}
