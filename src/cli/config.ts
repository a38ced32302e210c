// Shared CLI plumbing: the `--config <file>` option every subcommand has (JSON; flags on the command
// line win over the file), and argument parsers that turn bad flag values into readable errors.
import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";
import { FlagError } from "./errors.js";

/** A --config file the command cannot use: a usage error, like a bad flag. */
const configFileError = (message: string) => new FlagError(message, { field: "--config" }, "config");

const camel = (s: string) => s.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Reads a JSON config file: an object of option names (as flags, "max-batch", or camelCase, "maxBatch") to values. */
export function loadConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw configFileError(`config file ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw configFileError(`config file ${path}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw configFileError(`config file ${path}: expected a JSON object of option names to values`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Applies a config file's values to `cmd`'s options, except those given on the command line (or by
 * env). Values go through each option's own parser, so a file is validated exactly like flags.
 */
export function applyConfig(cmd: Command, path: string): void {
  const values = loadConfigFile(path);
  const options = cmd.options.filter((o) => o.long !== "--config" && o.long !== "--help");
  for (const [rawKey, value] of Object.entries(values)) {
    const key = camel(rawKey.replace(/^--/, ""));
    const option = options.find((o) => o.attributeName() === key);
    if (!option) {
      const known = options.map((o) => o.long?.replace(/^--(no-)?/, "")).filter(Boolean);
      throw configFileError(`config file ${path}: unknown option "${rawKey}" for \`${cmd.name()}\` (known: ${[...new Set(known)].join(", ")})`);
    }
    const source = cmd.getOptionValueSource(key);
    if (source === "cli" || source === "env") continue;
    cmd.setOptionValueWithSource(key, coerce(option, value, rawKey, path), "config");
  }
}

function coerce(option: Option, value: unknown, rawKey: string, path: string): unknown {
  const where = `config file ${path}: option "${rawKey}"`;
  const takesValue = option.required || option.optional;
  if (!takesValue) {
    if (typeof value !== "boolean") throw configFileError(`${where}: expected true or false, got ${JSON.stringify(value)}`);
    return value; // the attribute's value, also for --no-x options (key "x": false)
  }
  const items = option.variadic ? (Array.isArray(value) ? value : [value]) : [value];
  let result: unknown = option.variadic ? undefined : value;
  for (const item of items) {
    if (typeof item !== "string" && typeof item !== "number" && typeof item !== "boolean") {
      throw configFileError(`${where}: expected a ${option.variadic ? "list of values" : "string or number"}, got ${JSON.stringify(item)}`);
    }
    const text = String(item);
    if (option.argChoices && !option.argChoices.includes(text)) {
      throw configFileError(`${where}: "${text}" is not one of ${option.argChoices.join(", ")}`);
    }
    try {
      result = option.parseArg ? option.parseArg(text, result) : option.variadic ? [...((result as string[]) ?? []), text] : text;
    } catch (e) {
      throw configFileError(`${where}: ${(e as Error).message}`);
    }
  }
  return result;
}

/** Adds `--config <file>` to `cmd` (if missing), applied before the action runs. */
export function withConfigFile(cmd: Command): Command {
  if (cmd.options.some((o) => o.long === "--config")) return cmd;
  cmd.option("--config <file>", "read option values from a JSON file (flags on the command line win)");
  cmd.hook("preAction", (thisCommand) => {
    const path = thisCommand.getOptionValue("config") as string | undefined;
    if (!path) return;
    try {
      applyConfig(thisCommand, path);
    } catch (e) {
      // A bad config file is a usage error, like a bad flag: message, help hint, exit code 2.
      thisCommand.error(`error: ${(e as Error).message}`, { exitCode: 2, code: "prediction-poisoning.config" });
    }
  });
  return cmd;
}

// ---- argument parsers (commander `argParser`s); messages name the expectation and the value given ----

export function integerArg(min = -Infinity, max = Infinity): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isInteger(n)) throw new InvalidArgumentError(`expected an integer, got "${value}".`);
    if (n < min || n > max) throw new InvalidArgumentError(`expected an integer in [${min}, ${max}], got ${n}.`);
    return n;
  };
}

export function numberArg(min = -Infinity, max = Infinity): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got "${value}".`);
    if (n < min || n > max) throw new InvalidArgumentError(`expected a number in [${min}, ${max}], got ${n}.`);
    return n;
  };
}

/** "8388608", "512k", "8m" (binary units) -> bytes. */
export function bytesArg(min = 1): (value: string) => number {
  return (value) => {
    const m = /^(\d+)\s*([kmg]i?b?|b)?$/i.exec(value.trim());
    if (!m) throw new InvalidArgumentError(`expected a size like 65536, 512k or 8m, got "${value}".`);
    const unit = (m[2] ?? "b")[0].toLowerCase();
    const n = Number(m[1]) * ({ b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[unit];
    if (n < min) throw new InvalidArgumentError(`expected at least ${min} bytes, got ${n}.`);
    return n;
  };
}

/** "0,1" -> [0, 1]; "none" -> null. */
export function rangeArg(value: string): [number, number] | null {
  if (value === "none") return null;
  const parts = value.split(",").map((s) => Number(s.trim()));
  if (parts.length !== 2 || !parts.every(Number.isFinite) || parts[0] > parts[1]) {
    throw new InvalidArgumentError(`expected "min,max" with min <= max (e.g. 0,1) or "none", got "${value}".`);
  }
  return [parts[0], parts[1]];
}

/** A repeatable `key=value` flag collected into an object. */
export function keyValueArg(value: string, previous: Record<string, string> | undefined): Record<string, string> {
  const eq = value.indexOf("=");
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got "${value}".`);
  return { ...(previous ?? {}), [value.slice(0, eq).trim()]: value.slice(eq + 1).trim() };
}

/** Repeated --param name=value pairs (a defense's or a chain stage's parameter: perturb --defense, serve). */
export function paramArg(value: string, previous: string[] = []): string[] {
  if (!/^[^=\s]+=/.test(value)) throw new InvalidArgumentError('expected name=value, e.g. "mad-argmax.epsilon=0.5"');
  return [...previous, value];
}
