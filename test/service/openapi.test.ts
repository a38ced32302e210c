// GET /openapi.json through app.request(): an OpenAPI 3.1 document with an operation for every route the app
// serves (read from the app's own routes, so a new route without a description fails here), request schemas
// that accept and reject what the validators do (checked with test/service/json-schema-check.ts), answers of
// the app that conform to the response schemas, and nothing secret in it: no API key, no upstream URL.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Hono } from "hono";
import { createApp } from "../../src/service/app.js";
import { MemoryBudgetStore } from "../../src/service/budgets.js";
import { PradaDetection } from "../../src/service/detection.js";
import { MemoryPradaStore } from "../../src/defenses/prada.js";
import { createKserveDecoder } from "../../src/service/kserve.js";
import { createBodyDecoder, encodeFloat32Base64 } from "../../src/service/schema.js";
import { FakePredictor, input } from "./fake-predictor.js";
import { violation } from "./json-schema-check.js";

type Doc = Record<string, unknown> & { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }> }>>; components: { schemas: Record<string, Record<string, unknown>>; securitySchemes?: unknown } };

const limits = { maxBatch: 4, maxBodyBytes: 4096, inputRange: [0, 1] as [number, number] };

function fullApp(predictor = new FakePredictor()) {
  return createApp({
    predictor,
    limits,
    budgets: { store: new MemoryBudgetStore({ limit: 6 }), keys: new Set(["alice-secret-key", "bob"]), limit: 6 },
    detection: new PradaDetection({ store: new MemoryPradaStore(), onDetect: "block" }),
    kserve: { modelName: "digits" },
  });
}

async function documentOf(app: Hono): Promise<Doc> {
  const res = await app.request("/openapi.json");
  assert.is(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  return (await res.json()) as Doc;
}

/** The app's routes as "METHOD /path/{param}" (catch-all 405 handlers left out). */
const routesOf = (app: Hono) => new Set(app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`));
const operationsOf = (doc: Doc) => new Set(Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`)));
const refTo = (name: string) => ({ $ref: `#/components/schemas/${name}` });

test("the document is OpenAPI 3.1 and describes exactly the routes the app serves, in every configuration", async () => {
  const configurations: [string, Hono][] = [
    ["plain", createApp({ predictor: new FakePredictor() })],
    ["api keys", createApp({ predictor: new FakePredictor(), apiKeys: { keys: new Set(["k"]) } })],
    ["keys, budgets, detection, kserve", fullApp()],
  ];
  for (const [name, app] of configurations) {
    const doc = await documentOf(app);
    assert.is(doc.openapi, "3.1.0");
    assert.type((doc.info as { title: unknown }).title, "string");
    assert.type((doc.info as { version: unknown }).version, "string");
    assert.equal([...operationsOf(doc)].sort(), [...routesOf(app)].sort(), name);
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        assert.ok(Object.keys(op.responses).length > 0, `${method} ${path} has responses`);
        for (const [status, response] of Object.entries(op.responses)) {
          assert.match(status, /^[1-5]\d\d$/);
          for (const media of Object.values(response.content ?? {})) violation(null, media.schema, doc); // every $ref resolves (else it throws)
        }
      }
    }
  }
  const plain = await documentOf(configurations[0][1]);
  assert.not.ok("/v2/models/{name}/infer" in plain.paths);
  assert.not.ok("securitySchemes" in plain.components);
  const full = await documentOf(fullApp());
  assert.equal(full.components.securitySchemes, { apiKey: { type: "apiKey", in: "header", name: "x-api-key" } });
  const predict = full.paths["/v1/predict"].post.responses;
  for (const status of ["200", "400", "401", "403", "413", "429", "500", "503", "504"]) assert.ok(status in predict, `POST /v1/predict documents ${status}`);
  assert.not.ok("502" in predict, "no upstream: no 502");
  assert.ok("text/plain" in full.paths["/metrics"].get.responses["200"].content!);
  // Other methods are 405 like the other GET routes.
  assert.is((await fullApp().request("/openapi.json", { method: "POST" })).status, 405);
});

test("the request schemas accept and reject what the validator does (nested and base64 bodies)", async () => {
  const doc = await documentOf(fullApp());
  const decode = createBodyDecoder([2, 2, 1], limits);
  const accepted = (body: unknown) => {
    try {
      decode(body);
      return true;
    } catch {
      return false;
    }
  };
  const request = { oneOf: [refTo("PredictInputs"), refTo("PredictBase64")] };
  const b64 = (values: number[]) => encodeFloat32Base64(new Float32Array(values));
  const cases: unknown[] = [
    { inputs: [input(0.5)] },
    { inputs: [input(0), input(1, 1, 1, 1), input(0.2), input(0.3)] },
    { inputs: [] },
    { inputs: [input(0), input(0), input(0), input(0), input(0)] },
    { inputs: [input(1.5)] },
    { inputs: [input(-0.1)] },
    { inputs: [[[[0.1], ["x"]], [[0.3], [0.4]]]] },
    { inputs: [[[[0.1], [0.2]]]] },
    { inputs: [[[[0.1, 0.2], [0.2]], [[0.3], [0.4]]]] },
    { inputs: [input(0.1)], extra: 1 },
    { inputs: "pixels" },
    { input: [input(0.1)] },
    { data: b64([0.1, 0.2, 0.3, 0.4]), shape: [1, 2, 2, 1] },
    { data: b64([0.1, 0.2, 0.3, 0.4]), shape: [1, 2, 2, 1], dtype: "float32" },
    { data: b64([0.1, 0.2, 0.3, 0.4]), shape: [1, 2, 2, 1], dtype: "float64" },
    { data: b64([0.1, 0.2, 0.3, 0.4]), shape: [1, 2, 2] },
    { data: b64([0.1, 0.2, 0.3, 0.4]), shape: [0, 2, 2, 1] },
    { data: b64([0.1, 0.2, 0.3, 0.4]), shape: [1.5, 2, 2, 1] },
    { data: 12, shape: [1, 2, 2, 1] },
    { data: b64([0.1, 0.2, 0.3, 0.4]), shape: [1, 2, 2, 1], extra: true },
    { data: b64([0.1, 0.2, 0.3, 0.4]) },
    [1, 2],
    "inputs",
  ];
  for (const body of cases) {
    const problem = violation(body, request, doc);
    assert.is(problem === null, accepted(body), `${JSON.stringify(body).slice(0, 90)}: schema says ${problem ?? "ok"}`);
  }
  // What JSON Schema cannot say (the base64 payload's size and values, the shape's sizes after the batch) the
  // document says in words; the schema then accepts what the validator refuses, never the other way round.
  for (const body of [{ data: b64([0.1, 0.2]), shape: [1, 2, 2, 1] }, { data: b64([0.1, 0.2, 0.3, 0.4]), shape: [1, 4, 1, 1] }, { data: b64([2, 0, 0, 0]), shape: [1, 2, 2, 1] }]) {
    assert.is(violation(body, request, doc), null);
    assert.not.ok(accepted(body));
  }
  const base64 = doc.components.schemas.PredictBase64 as { required: string[]; properties: Record<string, { description?: string }> };
  assert.equal(base64.required.sort(), ["data", "shape"]);
  assert.match(base64.properties.data.description ?? "", /little-endian/);
  const nested = doc.components.schemas.PredictInputs as { properties: { inputs: { maxItems: number; minItems: number } } };
  assert.equal([nested.properties.inputs.minItems, nested.properties.inputs.maxItems], [1, 4]);
  // Without a range only float32's bounds remain.
  const open = await documentOf(createApp({ predictor: new FakePredictor(), limits: { inputRange: null } }));
  const request2 = { oneOf: [refTo("PredictInputs"), refTo("PredictBase64")] };
  assert.is(violation({ inputs: [input(1e30, -5)] }, request2, open), null);
  assert.ok(violation({ inputs: [input(1e39)] }, request2, open));
});

test("the KServe v2 request schema agrees with its decoder", async () => {
  const doc = await documentOf(fullApp());
  const decode = createKserveDecoder([2, 2, 1], limits);
  const accepted = (body: unknown) => {
    try {
      decode(body);
      return true;
    } catch {
      return false;
    }
  };
  const tensor = (over: Record<string, unknown> = {}) => ({ name: "input", shape: [1, 2, 2, 1], datatype: "FP32", data: [0.1, 0.2, 0.3, 0.4], ...over });
  const cases: unknown[] = [
    { inputs: [tensor()] },
    { id: "q1", inputs: [tensor()], parameters: { x: 1 } },
    { inputs: [tensor({ datatype: "FP64" })] },
    { inputs: [tensor({ data: [[[0.1], [0.2]], [[0.3], [0.4]]] })] },
    { inputs: [tensor({ shape: [2, 2, 2, 1], data: [0, 0, 0, 0, 1, 1, 1, 1] })] },
    { inputs: [] },
    { inputs: [tensor(), tensor()] },
    { inputs: [tensor({ datatype: "INT8" })] },
    { inputs: [tensor({ name: 3 })] },
    { inputs: [tensor({ shape: [1, 2, 2] })] },
    { inputs: [tensor({ shape: [1, 2, 3, 1] })] },
    { inputs: [tensor({ shape: [0, 2, 2, 1] })] },
    { inputs: [tensor({ shape: [5, 2, 2, 1] })] },
    { inputs: [tensor({ data: [0.1, 0.2, 0.3, 1.5] })] },
    { inputs: [tensor({ data: [0.1, 0.2, 0.3, "x"] })] },
    { inputs: [tensor({ data: "0.1" })] },
    { inputs: "x" },
    { nothing: true },
  ];
  for (const body of cases) {
    const problem = violation(body, refTo("KserveInferRequest"), doc);
    assert.is(problem === null, accepted(body), `${JSON.stringify(body).slice(0, 90)}: schema says ${problem ?? "ok"}`);
  }
});

test("the app's answers conform to the response schemas", async () => {
  const app = fullApp();
  const doc = await documentOf(app);
  const check = async (res: Response, path: string, method: string) => {
    const response = doc.paths[path][method].responses[String(res.status)];
    assert.ok(response, `${method} ${path} documents ${res.status}`);
    const [type, media] = Object.entries(response.content!)[0];
    if (type === "text/plain") return assert.type(await res.text(), "string");
    const body = (await res.json()) as unknown;
    assert.is(violation(body, media.schema, doc), null, `${method} ${path} ${res.status}: ${JSON.stringify(body).slice(0, 200)}`);
  };
  const post = (path: string, body: unknown, key: string | null = "bob") =>
    app.request(path, { method: "POST", headers: { "content-type": "application/json", ...(key ? { "x-api-key": key } : {}) }, body: JSON.stringify(body) });
  await check(await post("/v1/predict", { inputs: [input(0.9), input(0.1)] }), "/v1/predict", "post");
  await check(await post("/v1/predict", { inputs: [input(2)] }), "/v1/predict", "post"); // 400
  await check(await post("/v1/predict", { inputs: [input(0)] }, null), "/v1/predict", "post"); // 401
  await check(await post("/v1/predict", { inputs: [input(0), input(0), input(0), input(0), input(0)] }), "/v1/predict", "post"); // 413
  await check(await post("/v1/predict", { inputs: [input(0), input(0), input(0), input(0)] }), "/v1/predict", "post");
  await check(await post("/v1/predict", { inputs: [input(0), input(0)] }), "/v1/predict", "post"); // 429: 6 spent
  for (const path of ["/v1/model", "/healthz", "/metrics", "/v2/health/live", "/v2/health/ready", "/v2", "/v2/models/digits", "/v2/models/digits/ready", "/v2/models/nope", "/openapi.json"]) {
    await check(await app.request(path), path.replace(/digits|nope/, "{name}"), "get");
  }
  const infer = { id: "q", inputs: [{ name: "input", shape: [1, 2, 2, 1], datatype: "FP32", data: [0.9, 0, 0, 0] }] };
  await check(await post("/v2/models/digits/infer", infer, "alice-secret-key"), "/v2/models/{name}/infer", "post");
  await check(await post("/v2/models/nope/infer", infer, "alice-secret-key"), "/v2/models/{name}/infer", "post"); // 404
  await check(await post("/v2/models/digits/infer", { inputs: [] }, "alice-secret-key"), "/v2/models/{name}/infer", "post"); // 400
  const down = createApp({ predictor: new FakePredictor(), status: () => ({ status: "unavailable", reason: "the budget store (Redis) is unreachable (reconnecting)" }) });
  const downDoc = await documentOf(down);
  const health = await down.request("/healthz");
  assert.is(health.status, 503);
  assert.is(violation(await health.json(), downDoc.paths["/healthz"].get.responses["503"].content!["application/json"].schema, downDoc), null);
});

test("no secret and nothing of the upstream in the document: not the API keys, the URL, its credentials or the model string", async () => {
  const predictor = new FakePredictor();
  (predictor as { info: unknown }).info = {
    ...predictor.info,
    model: "upstream kserve-v2 model digits at http://models.internal:8500/",
    upstream: { protocol: "kserve-v2", url: "http://models.internal:8500/", model: "digits", outputs: "logits", timeoutMs: 1000 },
    defense: { name: "mad-argmax", keyed: true, params: { epsilon: 0.5, key: "deadbeefcafe" } },
  };
  const text = JSON.stringify(await documentOf(fullApp(predictor)));
  for (const secret of ["alice-secret-key", "bob", "models.internal", "8500", "deadbeefcafe", "upstream kserve-v2 model"]) assert.not.ok(text.includes(secret), secret);
  // The upstream's failures are documented (as kinds), not where it is.
  assert.match(text, /bad_upstream/);
});

test.run();
