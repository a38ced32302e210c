// Defenses in series: each stage's answer is the next stage's y, as ModelGuard-S (Tang et al. 2024) puts
// its quantiser in front of another defense. chainDefenses composes built defenses; the rest is what the
// registry needs for chain names ("modelguard-s>mad-argmax"): the chain's parameter names and the
// routing of each given parameter to the one stage it belongs to.
import type { Defense, DefenseBatch, DefenseResult } from "./defense.js";
import { DefenseConfigError, UnknownParameterError } from "./errors.js";
import type { ParameterSpec } from "./parameters.js";

export const CHAIN_SEPARATOR = ">";

/**
 * `stages[0]` answers the batch, each later stage answers its predecessor's answers; inputs, proxyProbs
 * and clientId reach every stage. Every stage but the last must answer on the simplex (the next one
 * validates its y). Detector verdicts (`flagged`) are OR-ed.
 */
export function chainDefenses(stages: readonly Defense[]): Defense {
  const name = stages.map((s) => s.name).join(CHAIN_SEPARATOR);
  if (stages.length === 0) throw new DefenseConfigError("chain", undefined, "needs at least one stage");
  const seen = new Set<string>();
  for (const s of stages) {
    if (seen.has(s.name)) throw new DefenseConfigError(name, undefined, `stage "${s.name}" appears twice (its parameters could not be told apart)`);
    seen.add(s.name);
  }
  stages.slice(0, -1).forEach((s, i) => {
    if (!s.traits.onSimplex) {
      throw new DefenseConfigError(name, undefined, `stage "${s.name}" does not answer on the simplex, so it cannot feed "${stages[i + 1].name}" (renormalize it, or put it last)`);
    }
  });
  const keyed = stages.some((s) => s.traits.keyed === true);
  return {
    name,
    params: Object.fromEntries(stages.map((s) => [s.name, s.params])),
    traits: {
      keepsTop1: stages.every((s) => s.traits.keepsTop1),
      needsInput: stages.some((s) => s.traits.needsInput),
      stateful: stages.some((s) => s.traits.stateful),
      randomized: stages.some((s) => s.traits.randomized),
      onSimplex: stages[stages.length - 1].traits.onSimplex,
      ...(keyed ? { keyed } : {}),
    },
    async apply(batch: DefenseBatch): Promise<DefenseResult> {
      let probs = batch.probs;
      let flagged: Uint8Array | undefined;
      for (const stage of stages) {
        const result = await stage.apply({ ...batch, probs });
        probs = result.probs;
        if (result.flagged) {
          if (!flagged) flagged = Uint8Array.from(result.flagged);
          else for (let i = 0; i < flagged.length; i++) flagged[i] |= result.flagged[i];
        }
      }
      return flagged ? { probs, flagged } : { probs };
    },
    reset() {
      for (const s of stages) s.reset?.();
    },
    dispose() {
      for (const s of stages) s.dispose?.();
    },
  };
}

/** A stage as the registry describes it: its name and declared parameters. */
export interface ChainStage {
  readonly name: string;
  readonly parameters: readonly ParameterSpec[];
}

/** The stage names of a chain name ("a>b" -> ["a", "b"], spaces trimmed), or null for a plain name. */
export function splitChainName(name: string): string[] | null {
  if (!name.includes(CHAIN_SEPARATOR)) return null;
  const parts = name.split(CHAIN_SEPARATOR).map((s) => s.trim());
  if (parts.some((p) => p === "")) throw new DefenseConfigError(name, undefined, `a chain is stage names separated by "${CHAIN_SEPARATOR}", with none empty`);
  const dup = parts.find((p, i) => parts.indexOf(p) !== i);
  if (dup) throw new DefenseConfigError(name, undefined, `stage "${dup}" appears twice (its parameters could not be told apart)`);
  return parts;
}

/** The chain's name for parameter `param` of stage `stage`: plain if no other stage declares it, else "stage.param". */
export function chainParameterName(stages: readonly ChainStage[], stage: string, param: string): string {
  const users = stages.filter((s) => s.parameters.some((p) => p.name === param));
  return users.length > 1 ? `${stage}.${param}` : param;
}

/** Every stage's parameters under the chain's names (see chainParameterName), stage by stage. */
export function chainParameterSpecs(stages: readonly ChainStage[]): ParameterSpec[] {
  return stages.flatMap((s) => s.parameters.map((p) => ({ ...p, name: chainParameterName(stages, s.name, p.name) })));
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);

/**
 * Splits a chain's parameters into one object per stage. Accepted keys: a parameter declared by exactly
 * one stage ("capacity"); "stage.param" for any stage ("mad-argmax.epsilon", required when several
 * stages declare the name); and a stage's name with an object of its parameters (the form of the chain
 * Defense's own `params`, so they can be given back). Values are passed on untouched: each stage
 * validates its own. A parameter given twice (in two forms) is an error.
 */
export function routeChainParameters<T>(chain: string, stages: readonly ChainStage[], raw: Readonly<Record<string, T>> | undefined): Record<string, T>[] {
  if (raw !== undefined && !isPlainObject(raw)) throw new DefenseConfigError(chain, undefined, `parameters must be an object, got ${JSON.stringify(raw)}`);
  const routed: Record<string, T>[] = stages.map(() => ({}));
  const put = (key: string, index: number, param: string, value: T) => {
    if (value === undefined) return;
    if (param in routed[index]) throw new DefenseConfigError(chain, key, `is given twice (parameter "${param}" of stage "${stages[index].name}")`);
    routed[index][param] = value;
  };
  for (const [key, value] of Object.entries(raw ?? {})) {
    const whole = stages.findIndex((s) => s.name === key);
    if (whole >= 0) {
      if (value === undefined) continue;
      if (!isPlainObject(value)) throw new DefenseConfigError(chain, key, `a stage's parameters must be an object, got ${JSON.stringify(value)}`);
      for (const [param, v] of Object.entries(value)) put(`${key}.${param}`, whole, param, v as T);
      continue;
    }
    const dot = key.lastIndexOf(".");
    const qualified = dot > 0 ? stages.findIndex((s) => s.name === key.slice(0, dot)) : -1;
    if (qualified >= 0) {
      put(key, qualified, key.slice(dot + 1), value);
      continue;
    }
    const users = stages.map((s, i) => [s, i] as const).filter(([s]) => s.parameters.some((p) => p.name === key));
    if (users.length === 1) {
      put(key, users[0][1], key, value);
    } else if (users.length > 1) {
      throw new DefenseConfigError(chain, key, `is declared by several stages: give it as ${users.map(([s]) => `"${s.name}.${key}"`).join(" or ")}`);
    } else {
      throw new UnknownParameterError(chain, key, chainParameterSpecs(stages).map((s) => s.name));
    }
  }
  return routed;
}
