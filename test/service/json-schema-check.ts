// A small JSON Schema (2020-12) checker for the tests of the OpenAPI description: the keywords the document
// uses ($ref into #/components/schemas, type, const, enum, anyOf, oneOf, allOf, properties, required,
// additionalProperties, propertyNames, items, prefixItems, minItems, maxItems, minimum, maximum). It returns the first
// violation's path and keyword, or null; a keyword it does not know fails loudly, so the document cannot grow
// one that these tests silently skip.
type Schema = Record<string, unknown> | boolean;

const known = new Set([
  "$ref", "type", "const", "enum", "anyOf", "oneOf", "allOf", "properties", "required", "additionalProperties",
  "propertyNames", "items", "prefixItems", "minItems", "maxItems", "minimum", "maximum", "description", "title", "examples",
]);

function typeOf(x: unknown): string {
  if (x === null) return "null";
  if (Array.isArray(x)) return "array";
  if (typeof x === "number") return Number.isInteger(x) ? "integer" : "number";
  return typeof x;
}

/** The first violation of `schema` by `value` ("inputs[0]: minimum"), or null when it conforms. */
export function violation(value: unknown, schema: Schema, document: Record<string, unknown>, path = "body"): string | null {
  if (schema === true) return null;
  if (schema === false) return `${path}: false schema`;
  for (const key of Object.keys(schema)) if (!known.has(key)) throw new Error(`json-schema-check: keyword ${key} at ${path} is not supported`);
  if (typeof schema.$ref === "string") {
    const name = /^#\/components\/schemas\/(.+)$/.exec(schema.$ref)?.[1];
    const target = name ? ((document.components as { schemas: Record<string, Schema> }).schemas[name] as Schema | undefined) : undefined;
    if (target === undefined) throw new Error(`json-schema-check: unresolved $ref ${schema.$ref}`);
    const inner = violation(value, target, document, path);
    if (inner) return inner;
  }
  const t = typeOf(value);
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (!types.some((ty) => ty === t || (ty === "number" && t === "integer"))) return `${path}: type (${t}, expected ${types.join("|")})`;
  }
  if ("const" in schema && JSON.stringify(schema.const) !== JSON.stringify(value)) return `${path}: const`;
  if (schema.enum && !(schema.enum as unknown[]).some((e) => JSON.stringify(e) === JSON.stringify(value))) return `${path}: enum`;
  if (schema.allOf) for (const s of schema.allOf as Schema[]) {
    const inner = violation(value, s, document, path);
    if (inner) return inner;
  }
  if (schema.anyOf && !(schema.anyOf as Schema[]).some((s) => violation(value, s, document, path) === null)) return `${path}: anyOf`;
  if (schema.oneOf && (schema.oneOf as Schema[]).filter((s) => violation(value, s, document, path) === null).length !== 1) return `${path}: oneOf`;
  if (t === "integer" || t === "number") {
    const x = value as number;
    if (typeof schema.minimum === "number" && x < schema.minimum) return `${path}: minimum`;
    if (typeof schema.maximum === "number" && x > schema.maximum) return `${path}: maximum`;
  }
  if (t === "array") {
    const a = value as unknown[];
    if (typeof schema.minItems === "number" && a.length < schema.minItems) return `${path}: minItems`;
    if (typeof schema.maxItems === "number" && a.length > schema.maxItems) return `${path}: maxItems`;
    const prefix = (schema.prefixItems as Schema[] | undefined) ?? [];
    for (let i = 0; i < a.length; i++) {
      const s = i < prefix.length ? prefix[i] : (schema.items as Schema | undefined);
      if (s === undefined) continue;
      const inner = violation(a[i], s, document, `${path}[${i}]`);
      if (inner) return inner;
    }
  }
  if (t === "object") {
    const o = value as Record<string, unknown>;
    for (const r of (schema.required as string[] | undefined) ?? []) if (!(r in o)) return `${path}.${r}: required`;
    const properties = (schema.properties as Record<string, Schema> | undefined) ?? {};
    for (const [k, x] of Object.entries(o)) {
      if (k in properties) {
        const inner = violation(x, properties[k], document, `${path}.${k}`);
        if (inner) return inner;
      } else if (schema.additionalProperties !== undefined) {
        const inner = violation(x, schema.additionalProperties as Schema, document, `${path}.${k}`);
        if (inner) return `${inner} (additionalProperties)`;
      }
      if (schema.propertyNames !== undefined) {
        const inner = violation(k, schema.propertyNames as Schema, document, `${path}.${k} (name)`);
        if (inner) return inner;
      }
    }
  }
  return null;
}
