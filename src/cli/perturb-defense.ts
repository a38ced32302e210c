// `perturb --defense <name>`: any registered defense applied to the JSON lines instead of MAD. Each
// defense parameter is a flag (--k, --beta, --cutoff, ...), generated from the registry's declarations;
// only flags typed on the command line reach the defense, so defaults stay the registry's.
import { InvalidArgumentError, Option, type Command } from "commander";
import { CoreInputError, type Core } from "../core/index.js";
import { createDefense, DefenseConfigError, DefenseInputError, UnknownParameterError, describeDefense, listDefenses, parseParameterStrings } from "../defenses/index.js";
import { readKeyFile } from "../node/key-file.js";
import { paramArg } from "./config.js";
import type { BatchTransform } from "./perturb-transform.js";

/** Re-exported for the commands that imported it from here (serve). */
export { paramArg } from "./config.js";

/** Flags `perturb` already has for MAD; --defense reuses them for every defense that takes that parameter. */
const SHARED_FLAGS = new Set(["oracle", "objective", "distance", "epsilon", "step", "seed"]);

/** Every parameter name any defense declares (also the flag names), but secret strings: a key comes from --key-file. */
function parameterNames(): string[] {
  const names = new Set<string>();
  for (const d of listDefenses()) for (const p of d.parameters) if (!(p.secret && p.type === "string")) names.add(p.name);
  return [...names];
}

/** A defense name or a chain of them ("modelguard-s>mad-argmax"), checked against the registry. */
function defenseArg(value: string): string {
  try {
    describeDefense(value);
  } catch (error) {
    if (error instanceof DefenseConfigError) throw new InvalidArgumentError(error.parameter === undefined ? error.detail : `parameter "${error.parameter}": ${error.detail}`);
    throw error;
  }
  return value;
}

export function addDefenseOptions(command: Command): Command {
  const defenses = listDefenses();
  command.addOption(
    new Option(
      "--defense <name>",
      `apply this defense instead of MAD (${defenses.map((d) => d.name).join(", ")}), or a chain of them such as "modelguard-s>mad-argmax" (see docs/DEFENSES.md)`,
    ).argParser(defenseArg),
  );
  command.option("--param <name=value>", 'a defense parameter by name, repeatable; for a chain\'s stage parameters that share a name, e.g. "mad-argmax.epsilon=0.5"', paramArg);
  for (const name of parameterNames()) {
    if (SHARED_FLAGS.has(name)) continue;
    const users = defenses.filter((d) => d.parameters.some((p) => p.name === name));
    const spec = users[0].parameters.find((p) => p.name === name)!;
    const flag = spec.type === "boolean" ? `--${name} [true|false]` : `--${name} <${spec.type === "choice" ? "name" : "value"}>`;
    command.option(flag, `${users.map((d) => d.name).join(", ")}: ${spec.description}`);
  }
  command.option("--key-file <path>", "the secret key (hex) of a keyed defense (--keyMix or --keyJitter > 0)");
  return command;
}

/**
 * The transform for `--defense`. `given(flag)` says whether the user typed the flag (defaults of the MAD
 * flags must not leak into other defenses). Configuration problems become CoreInputError on the flag, so
 * perturb reports them as it does its own (exit code 2).
 */
export function defenseTransform(core: Core, flags: Record<string, unknown>, given: (flag: string) => boolean): BatchTransform {
  const name = String(flags.defense);
  const raw: Record<string, string | boolean | undefined> = {};
  for (const flag of parameterNames()) {
    if (!given(flag)) continue;
    const value = flags[flag];
    raw[flag] = typeof value === "boolean" ? value : String(value);
  }
  for (const pair of given("param") ? (flags.param as string[]) : []) {
    const at = pair.indexOf("=");
    const key = pair.slice(0, at);
    if (key in raw) throw new CoreInputError("param", null, `${key} is given twice`);
    raw[key] = pair.slice(at + 1);
  }
  let defense;
  try {
    const params = parseParameterStrings(name, raw);
    if (given("keyFile")) {
      try {
        params.key = readKeyFile(String(flags.keyFile));
      } catch (error) {
        throw new CoreInputError("key-file", null, (error as Error).message);
      }
    }
    defense = createDefense(name, params, { core });
  } catch (error) {
    if (error instanceof DefenseConfigError) {
      // The key is read from --key-file, never a flag of its own.
      const field = error.parameter === "key" ? "key-file" : (error.parameter ?? "defense");
      throw new CoreInputError(field, null, error instanceof UnknownParameterError ? `does not apply to --defense ${name}` : error.detail);
    }
    throw error;
  }
  return async (batch) => {
    try {
      const { probs } = await defense.apply({
        probs: Float32Array.from(batch.probs),
        batchSize: batch.rows,
        numClasses: batch.numClasses,
        proxyProbs: batch.proxyProbs ? Float32Array.from(batch.proxyProbs) : undefined,
      });
      return Float64Array.from(probs);
    } catch (error) {
      // perturb answers the lines before a bad row and blames the row's line.
      if (error instanceof DefenseInputError) throw new CoreInputError(error.field, error.row ?? null, error.detail);
      throw error;
    }
  };
}
