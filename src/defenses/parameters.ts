// Declared, validated defense parameters. Each defense lists its parameters once (type, default, range,
// description); the same declaration validates user input (valibot) and describes the defense to the CLI,
// the evaluation and the service (listDefenses()).
import * as v from "valibot";
import { DefenseConfigError, UnknownParameterError } from "./errors.js";

export type ParameterType = "number" | "integer" | "boolean" | "choice" | "string";

/** A parameter as shown to users: enough to build a CLI flag or a form field. */
export interface ParameterSpec {
  readonly name: string;
  readonly type: ParameterType;
  readonly description: string;
  readonly default?: unknown;
  readonly min?: number;
  readonly max?: number;
  /** Open or closed bounds: `exclusiveMin` means the value must be > min, `exclusiveMax` < max. */
  readonly exclusiveMin?: boolean;
  readonly exclusiveMax?: boolean;
  readonly choices?: readonly string[];
  /** Absent and no default: the parameter may be left out (e.g. a layer list). */
  readonly optional?: boolean;
  /** A comma-separated list on the command line (a layer list). */
  readonly list?: boolean;
  /** A secret of the deployment (a seed, a key): never shown to clients, never known to a thief. */
  readonly secret?: boolean;
}

/** One declared parameter: its public spec, and the valibot schema of a present value. */
export interface Parameter<T> {
  readonly spec: Omit<ParameterSpec, "name">;
  readonly schema: v.GenericSchema<unknown, T>;
  /** Phantom field carrying the value type. */
  readonly __type?: T;
}

interface NumberOptions<D> {
  description: string;
  default: D;
  min?: number;
  max?: number;
  exclusiveMin?: boolean;
  exclusiveMax?: boolean;
  secret?: boolean;
}

function rangeText(o: { min?: number; max?: number; exclusiveMin?: boolean; exclusiveMax?: boolean }): string {
  const lo = o.min === undefined ? "" : `${o.exclusiveMin ? ">" : ">="} ${o.min}`;
  const hi = o.max === undefined ? "" : `${o.exclusiveMax ? "<" : "<="} ${o.max}`;
  return [lo, hi].filter(Boolean).join(" and ");
}

function numberSchema(kind: "a number" | "an integer", o: NumberOptions<unknown>): v.GenericSchema<unknown, number> {
  const expected = `must be ${kind}${rangeText(o) ? " " + rangeText(o) : ""}`;
  const got = (issue: { input: unknown }) => `${expected}, got ${JSON.stringify(issue.input) ?? String(issue.input)}`;
  const actions: v.PipeItem<number, number, v.BaseIssue<unknown>>[] = [v.finite(got)];
  if (kind === "an integer") actions.push(v.integer(got));
  if (o.min !== undefined) actions.push(o.exclusiveMin ? v.gtValue(o.min, got) : v.minValue(o.min, got));
  if (o.max !== undefined) actions.push(o.exclusiveMax ? v.ltValue(o.max, got) : v.maxValue(o.max, got));
  return v.pipe(v.number(got), ...actions) as unknown as v.GenericSchema<unknown, number>;
}

export const param = {
  number(o: NumberOptions<number>): Parameter<number> {
    return { spec: { type: "number", ...o }, schema: numberSchema("a number", o) };
  },
  integer(o: NumberOptions<number>): Parameter<number> {
    return { spec: { type: "integer", ...o }, schema: numberSchema("an integer", o) };
  },
  boolean(o: { description: string; default: boolean }): Parameter<boolean> {
    const msg = (issue: { input: unknown }) => `must be true or false, got ${JSON.stringify(issue.input)}`;
    return { spec: { type: "boolean", ...o }, schema: v.boolean(msg) };
  },
  choice<const C extends readonly [string, ...string[]]>(choices: C, o: { description: string; default: C[number] }): Parameter<C[number]> {
    const msg = (issue: { input: unknown }) => `must be one of ${choices.map((c) => `"${c}"`).join(", ")}, got ${JSON.stringify(issue.input)}`;
    return { spec: { type: "choice", choices, ...o }, schema: v.picklist(choices, msg) as v.GenericSchema<unknown, C[number]> };
  },
  /** A list of non-empty strings, optional (no default). */
  stringList(o: { description: string }): Parameter<string[] | undefined> {
    const msg = "must be a list of non-empty strings";
    return {
      spec: { type: "string", optional: true, list: true, ...o },
      schema: v.array(v.pipe(v.string(msg), v.minLength(1, msg)), msg) as v.GenericSchema<unknown, string[] | undefined>,
    };
  },
  /** A secret string such as a key: optional, no default (a default key would be a known one). */
  secretString(o: { description: string; pattern: RegExp; expected: string }): Parameter<string | undefined> {
    // The message never repeats the value.
    const msg = (issue: { input: unknown }) =>
      `must be ${o.expected}, got ${typeof issue.input === "string" ? `a string of ${issue.input.length} characters` : typeof issue.input}`;
    return {
      spec: { type: "string", optional: true, secret: true, description: o.description },
      schema: v.pipe(v.string(msg), v.regex(o.pattern, msg)) as v.GenericSchema<unknown, string | undefined>,
    };
  },
};

export type ParameterValues<P extends Record<string, Parameter<unknown>>> = {
  readonly [N in keyof P]: P[N] extends Parameter<infer T> ? T : never;
};

export interface ParameterSet<P extends Record<string, Parameter<unknown>>> {
  readonly specs: readonly ParameterSpec[];
  /** Validates `raw` (unknown keys rejected, undefined values treated as absent) and fills defaults. */
  parse(raw: Readonly<Record<string, unknown>> | undefined): ParameterValues<P>;
}

export function defineParameters<P extends Record<string, Parameter<unknown>>>(defense: string, params: P): ParameterSet<P> {
  const specs = Object.entries(params).map(([name, p]) => ({ name, ...p.spec }));
  return {
    specs,
    parse(raw) {
      if (raw !== undefined && (typeof raw !== "object" || raw === null || Array.isArray(raw))) {
        throw new DefenseConfigError(defense, undefined, `parameters must be an object, got ${JSON.stringify(raw)}`);
      }
      const out: Record<string, unknown> = {};
      const given = raw ?? {};
      for (const key of Object.keys(given)) {
        if (!(key in params)) {
          throw new UnknownParameterError(defense, key, specs.map((s) => s.name));
        }
      }
      for (const [name, p] of Object.entries(params)) {
        const value = given[name];
        if (value === undefined) {
          if (p.spec.default !== undefined) out[name] = p.spec.default;
          continue;
        }
        const result = v.safeParse(p.schema, value);
        if (!result.success) throw new DefenseConfigError(defense, name, result.issues[0].message);
        out[name] = result.output;
      }
      return out as ParameterValues<P>;
    },
  };
}

/**
 * Coerces string values (CLI flags, query strings) to each parameter's declared type, so that
 * "0.5" becomes 0.5 and "true" becomes true; validation proper happens in parse().
 */
export function coerceParameterStrings(
  defense: string,
  specs: readonly ParameterSpec[],
  raw: Readonly<Record<string, string | number | boolean | readonly string[] | undefined>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    const spec = specs.find((s) => s.name === key);
    if (!spec) {
      throw new UnknownParameterError(defense, key, specs.map((s) => s.name));
    }
    if (typeof value !== "string") {
      out[key] = value;
    } else if (spec.type === "number" || spec.type === "integer") {
      const n = value.trim() === "" ? NaN : Number(value);
      if (!Number.isFinite(n)) throw new DefenseConfigError(defense, key, `must be a number, got "${value}"`);
      out[key] = n;
    } else if (spec.type === "boolean") {
      if (value !== "true" && value !== "false") throw new DefenseConfigError(defense, key, `must be true or false, got "${value}"`);
      out[key] = value === "true";
    } else if (spec.type === "string" && spec.list) {
      out[key] = value.split(",").map((s) => s.trim()).filter(Boolean);
    } else {
      out[key] = value;
    }
  }
  return out;
}
