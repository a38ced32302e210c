// The Hono app through app.request() (no sockets): routes, validation, limits, budgets, metrics,
// and the rule that the true probabilities never leave the server.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createApp } from "../../src/service/app.js";
import type { HostStatus, RequestLog } from "../../src/service/app.js";
import { ServiceError } from "../../src/service/errors.js";
import { MemoryBudgetStore } from "../../src/service/budgets.js";
import { ServiceMetrics } from "../../src/service/metrics.js";
import { encodeFloat32Base64 } from "../../src/service/schema.js";
import { FakePredictor, TRUE_DIGITS, input } from "./fake-predictor.js";

function setup(extra: Partial<Parameters<typeof createApp>[0]> = {}) {
  const predictor = new FakePredictor();
  const logs: RequestLog[] = [];
  const metrics = new ServiceMetrics();
  const app = createApp({ predictor, metrics, log: (l) => logs.push(l), limits: { maxBatch: 4, maxBodyBytes: 4096 }, ...extra });
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    app.request("/v1/predict", {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  return { app, predictor, logs, metrics, post };
}

async function errorOf(res: Response) {
  const body = (await res.json()) as { error: { kind: string; field?: string; message: string } };
  return body.error;
}

test("POST /v1/predict answers perturbed probabilities and top-1 labels per input", async () => {
  const { post, predictor } = setup();
  const res = await post({ inputs: [input(0.9), input(0.1, 0.2, 0.3, 0.4)] });
  assert.is(res.status, 200);
  const body = (await res.json()) as { probabilities: number[][]; labels: number[] };
  assert.equal(body.probabilities, [
    [0.25, 0.5, 0.25],
    [0.5, 0.25, 0.25],
  ]);
  assert.equal(body.labels, [1, 0]);
  assert.equal(predictor.calls[0].data, [0.9, 0, 0, 0, 0.1, 0.2, 0.3, 0.4].map(Math.fround));
});

test("base64 float32 body with a shape is decoded like the nested form", async () => {
  const { post, predictor } = setup();
  const values = new Float32Array([0.9, 0, 0, 0, 0.1, 0.2, 0.3, 0.4]);
  const res = await post({ data: encodeFloat32Base64(values), shape: [2, 2, 2, 1], dtype: "float32" });
  assert.is(res.status, 200);
  assert.equal(((await res.json()) as { labels: number[] }).labels, [1, 0]);
  assert.equal(predictor.calls[0].data, Array.from(values));
});

test("base64 carrying NaN or Inf is a 400 naming data and the element", async () => {
  const { post, predictor } = setup();
  for (const bad of [NaN, Infinity, -Infinity]) {
    const values = new Float32Array([0.5, 0.5, 0.5, 0.5, 0.5, bad, 0.5, 0.5]);
    const res = await post({ data: encodeFloat32Base64(values), shape: [2, 2, 2, 1] });
    assert.is(res.status, 400);
    const err = await errorOf(res);
    assert.is(err.field, "data");
    assert.match(err.message, /element 5 \(input 1, offset 1\)/);
  }
  assert.is(predictor.calls.length, 0);
});

test("base64 with a wrong byte count, bad base64, wrong shape or dtype names the field", async () => {
  const { post } = setup();
  const four = encodeFloat32Base64(new Float32Array(4).fill(0.5));
  const cases: [unknown, number, string][] = [
    [{ data: four, shape: [2, 2, 2, 1] }, 400, "data"],
    [{ data: "!!!not base64", shape: [1, 2, 2, 1] }, 400, "data"],
    [{ data: four, shape: [1, 2, 2] }, 400, "shape"],
    [{ data: four, shape: [1, 2, 3, 1] }, 400, "shape[2]"],
    [{ data: four, shape: [1, 2, 2, 1.5] }, 400, "shape[3]"],
    [{ data: four, shape: [1, 2, 2, 1], dtype: "float64" }, 400, "dtype"],
    [{ data: 12, shape: [1, 2, 2, 1] }, 400, "data"],
    [{ data: four, shape: [9, 2, 2, 1] }, 413, "shape[0]"],
  ];
  for (const [body, status, field] of cases) {
    const res = await post(body);
    assert.is(res.status, status, JSON.stringify(body).slice(0, 80));
    assert.is((await errorOf(res)).field, field);
  }
});

test("nested inputs: wrong shape, wrong type, Inf, out of range, empty, unknown field -> 400 naming the field", async () => {
  const { post, predictor } = setup();
  const cases: [unknown, string, RegExp][] = [
    [{ inputs: [[[[0.1], [0.2]]]] }, "inputs[0]", /expected 2 elements/],
    [{ inputs: [[[[0.1], [0.2]], [[0.3], [0.4], [0.5]]]] }, "inputs[0][1]", /expected 2 elements.*got 3/],
    [{ inputs: [[[[0.1], ["x"]], [[0.3], [0.4]]]] }, "inputs[0][0][1][0]", /expected a number, got a string/],
    [{ inputs: [input(0.1), [[[0.1], [0.2]], [[0.3], null]]] }, "inputs[1][1][1]", /expected an array of 1, got null/],
    [{ inputs: [] }, "inputs", /empty batch/],
    [{ inputs: "pixels" }, "inputs", /expected an array of inputs/],
    [{ inputs: [input(0.1)], extra: 1 }, "extra", /unknown field/],
    [{ input: [input(0.1)] }, "inputs", /missing/],
    [{ inputs: [input(0.1, 1.5)] }, "inputs[0][0][1][0]", /outside the input range \[0, 1\]/],
    [[1, 2], "body", /expected a JSON object/],
  ];
  for (const [body, field, message] of cases) {
    const res = await post(body);
    assert.is(res.status, 400, JSON.stringify(body));
    const err = await errorOf(res);
    assert.is(err.kind, "validation");
    assert.is(err.field, field, JSON.stringify(body));
    assert.match(err.message, message);
  }
  // JSON has no NaN literal, but 1e999 parses to Infinity.
  const inf = await post('{"inputs": [[[[0.1], [1e999]], [[0.3], [0.4]]]]}');
  assert.is(inf.status, 400);
  assert.equal(await errorOf(inf), { kind: "validation", field: "inputs[0][0][1][0]", message: "inputs[0][0][1][0]: expected a finite number, got Infinity" });
  const nan = await post('{"inputs": [[[[NaN], [0.2]], [[0.3], [0.4]]]]}');
  assert.is(nan.status, 400);
  assert.equal(await errorOf(nan), { kind: "bad_json", field: "body", message: "body: not valid JSON" });
  assert.is(predictor.calls.length, 0);
});

test("a batch over maxBatch or a body over maxBodyBytes is a 413; the app keeps answering", async () => {
  const { post, app } = setup();
  const big = await post({ inputs: [input(0), input(0), input(0), input(0), input(0)] });
  assert.is(big.status, 413);
  assert.equal(await errorOf(big), { kind: "too_large", field: "inputs", message: "inputs: batch of 5 inputs is over the limit of 4" });
  const huge = await post(JSON.stringify({ inputs: [input(0)], pad: "x".repeat(5000) }));
  assert.is(huge.status, 413);
  assert.is((await errorOf(huge)).field, "body");
  const ok = await post({ inputs: [input(0.2)] });
  assert.is(ok.status, 200);
  assert.is((await app.request("/healthz")).status, 200);
});

test("unknown routes are 404 JSON; a known route's wrong method is 405 method_not_allowed with Allow", async () => {
  const { app, metrics } = setup();
  const res = await app.request("/v2/nothing");
  assert.is(res.status, 404);
  assert.equal(await errorOf(res), { kind: "not_found", field: "path", message: "no route GET /v2/nothing" });
  const get = await app.request("/v1/predict");
  assert.is(get.status, 405);
  assert.is(get.headers.get("allow"), "POST");
  assert.equal(await errorOf(get), { kind: "method_not_allowed", field: "method", message: "GET /v1/predict: use POST" });
  for (const path of ["/healthz", "/v1/model", "/metrics"]) {
    const post = await app.request(path, { method: "POST", body: "{}" });
    assert.is(post.status, 405, path);
    assert.is(post.headers.get("allow"), "GET, HEAD");
    assert.is((await errorOf(post)).kind, "method_not_allowed");
  }
  assert.is(metrics.errors.get({ kind: "method_not_allowed" }), 4);
  assert.is((await app.request("/healthz", { method: "HEAD" })).status, 200);
});

test("with no input range, a number beyond float32 (1e39) is a 400 naming the field, not a 500", async () => {
  const { post, predictor } = setup({ limits: { maxBatch: 4, maxBodyBytes: 4096, inputRange: null } });
  const res = await post('{"inputs": [[[[0.1], [0.2]], [[1e39], [0.4]]]]}');
  assert.is(res.status, 400);
  const err = await errorOf(res);
  assert.equal([err.kind, err.field], ["validation", "inputs[0][1][0][0]"]);
  assert.match(err.message, /1e\+39 is beyond the float32 range/);
  assert.is((await post('{"inputs": [[[[-3e38], [0.2]], [[3e38], [0.4]]]]}')).status, 200, "large values within float32 are fine");
  assert.is(predictor.calls.length, 1);
});

test("a saturated predictor (full queue) gets 503 overloaded with Retry-After, before the body is read", async () => {
  const { post, predictor, metrics } = setup();
  let full = true;
  (predictor as { saturated?: () => boolean }).saturated = () => full;
  const res = await post({ inputs: [input(0.1)] });
  assert.is(res.status, 503);
  assert.is(res.headers.get("retry-after"), "1");
  assert.is((await errorOf(res)).kind, "overloaded");
  assert.is(predictor.calls.length, 0);
  assert.is(metrics.errors.get({ kind: "overloaded" }), 1);
  full = false;
  assert.is((await post({ inputs: [input(0.1)] })).status, 200);
  // A queue that fills between the check and the dispatch: the predictor's own 503 keeps its Retry-After.
  predictor.failWith = new ServiceError("overloaded", "the server is at capacity", undefined, undefined, 1);
  const late = await post({ inputs: [input(0.1)] });
  assert.is(late.status, 503);
  assert.is(late.headers.get("retry-after"), "1");
});

test("/healthz reports why the host cannot answer (503 with the reason) and queries get 503 too", async () => {
  let status: HostStatus = { status: "ok" };
  const { app, post } = setup({ status: () => status });
  assert.equal(await (await app.request("/healthz")).json(), { status: "ok" });
  status = { status: "unavailable", reason: "the budget store (Redis) is unreachable (reconnecting)" };
  const health = await app.request("/healthz");
  assert.is(health.status, 503);
  assert.equal(await health.json(), status);
  const q = await post({ inputs: [input(0.1)] });
  assert.is(q.status, 503);
  assert.match((await errorOf(q)).message, /budget store \(Redis\) is unreachable/);
  status = { status: "draining", reason: "shutting down" };
  assert.equal(await (await app.request("/healthz")).json(), { status: "draining", reason: "shutting down" });
  const drained = await post({ inputs: [input(0.1)] });
  assert.is(drained.status, 503);
  assert.is((await drained.json()).error.reason, "draining");
});

test("GET /v1/model describes shape, classes, defense and limits; /healthz follows isReady", async () => {
  let ready = true;
  const { app } = setup({ isReady: () => ready });
  const info = (await (await app.request("/v1/model")).json()) as Record<string, unknown>;
  assert.equal(info.inputShape, [2, 2, 1]);
  assert.is(info.numClasses, 3);
  assert.equal(info.classes, ["cat", "dog", "eel"]);
  assert.equal(info.defense, { name: "fake-shift", keyed: false, params: { epsilon: 0.5 } });
  assert.equal(info.limits, { maxBatch: 4, maxBodyBytes: 4096, inputRange: [0, 1] });
  assert.is((await app.request("/healthz")).status, 200);
  ready = false;
  assert.is((await app.request("/healthz")).status, 503);
});

test("budgets: key required, inputs counted, 429 once spent, refund when the model fails", async () => {
  const store = new MemoryBudgetStore({ limit: 3 });
  const { post, predictor } = setup({ budgets: { store, limit: 3, keys: new Set(["alice", "bob"]) } });
  const noKey = await post({ inputs: [input(0.1)] });
  assert.is(noKey.status, 401);
  assert.is((await errorOf(noKey)).field, "x-api-key");
  assert.is((await post({ inputs: [input(0.1)] }, { "x-api-key": "mallory" })).status, 401);
  const long = await post({ inputs: [input(0.1)] }, { "x-api-key": "k".repeat(257) });
  assert.is(long.status, 401);
  assert.match((await errorOf(long)).message, /longer than 256 characters/);

  const first = await post({ inputs: [input(0.1), input(0.2)] }, { "x-api-key": "alice" });
  assert.is(first.status, 200);
  assert.is(first.headers.get("x-budget-remaining"), "1");
  assert.is(predictor.calls[0].clientId, "alice");
  const over = await post({ inputs: [input(0.1), input(0.2)] }, { "x-api-key": "alice" });
  assert.is(over.status, 429);
  assert.is((await errorOf(over)).kind, "budget_exhausted");
  assert.is((await post({ inputs: [input(0.1)] }, { "x-api-key": "alice" })).status, 200);
  assert.is((await post({ inputs: [input(0.1)] }, { "x-api-key": "alice" })).status, 429);
  // Another key has its own budget.
  assert.is((await post({ inputs: [input(0.1)] }, { "x-api-key": "bob" })).status, 200);
  // A failed answer does not cost the client.
  predictor.failWith = new Error("boom");
  assert.is((await post({ inputs: [input(0.1), input(0.1)] }, { "x-api-key": "bob" })).status, 500);
  predictor.failWith = undefined;
  assert.is((await post({ inputs: [input(0.1), input(0.1)] }, { "x-api-key": "bob" })).status, 200);
});

test("a 504 refunds the inputs and x-budget-remaining does not report them as spent", async () => {
  const store = new MemoryBudgetStore({ limit: 10 });
  const { post, predictor } = setup({ budgets: { store, limit: 10, keys: new Set(["alice"]) } });
  assert.is((await post({ inputs: [input(0.1)] }, { "x-api-key": "alice" })).headers.get("x-budget-remaining"), "9");
  predictor.failWith = new ServiceError("timeout", "the model worker took over 30000 ms; the query was not answered");
  const timedOut = await post({ inputs: [input(0.1), input(0.1), input(0.1)] }, { "x-api-key": "alice" });
  assert.is(timedOut.status, 504);
  assert.is(timedOut.headers.get("x-budget-remaining"), "9");
  predictor.failWith = undefined;
  assert.is((await post({ inputs: [input(0.1)] }, { "x-api-key": "alice" })).headers.get("x-budget-remaining"), "8");
});

test("metrics: queries, latency histogram, mean L1 and errors by kind in Prometheus text", async () => {
  const { post, app } = setup();
  await post({ inputs: [input(0.9), input(0.1)] });
  await post({ inputs: [input(0.9)] });
  await post({ inputs: [] });
  await app.request("/nope");
  const res = await app.request("/metrics");
  assert.match(res.headers.get("content-type") ?? "", /text\/plain; version=0.0.4/);
  const text = await res.text();
  const value = (series: string) => {
    const line = text.split("\n").find((l) => l.startsWith(series + " "));
    assert.ok(line, `missing ${series}`);
    return Number(line!.slice(series.length + 1));
  };
  assert.is(value("pp_queries_total"), 3);
  assert.is(value("pp_predict_requests_total"), 2);
  assert.is(value('pp_errors_total{kind="validation"}'), 1);
  assert.is(value('pp_errors_total{kind="not_found"}'), 1);
  assert.is(value('pp_errors_total{kind="budget_exhausted"}'), 0);
  assert.is(value("pp_predict_duration_seconds_count"), 2);
  assert.is(value('pp_predict_duration_seconds_bucket{le="+Inf"}'), 2);
  // Row L1 distances: |0.25-.7123456|+|0.5-.2123456|+|0.25-.0753088| and |0.5-.7123456|+|0.25-.2123456|+|0.25-.0753088|.
  const l1a = 0.4623456 + 0.2876544 + 0.1746912;
  const l1b = 0.2123456 + 0.0376544 + 0.1746912;
  assert.ok(Math.abs(value("pp_perturbation_l1_mean") - (2 * l1a + l1b) / 3) < 1e-6);
  assert.match(text, /# TYPE pp_predict_duration_seconds histogram/);
});

test("the true probabilities never appear in answers, errors, headers or logs", async () => {
  const { post, app, logs, predictor } = setup({ budgets: { store: new MemoryBudgetStore({ limit: 2 }) } });
  const seen: string[] = [];
  const record = async (res: Response) => {
    seen.push(JSON.stringify([...res.headers]), await res.text());
  };
  await record(await post({ inputs: [input(0.9)] }, { "x-api-key": "k" }));
  await record(await post({ inputs: [input(0.9), input(0.1)] }, { "x-api-key": "k" }));
  await record(await post({ inputs: [input(2)] }, { "x-api-key": "k" }));
  predictor.failWith = new Error(`defense failed on y = [${[0.7123456, 0.2123456, 0.0753088].join(", ")}]`);
  await record(await post({ inputs: [input(0.9)] }, { "x-api-key": "k" }));
  await record(await app.request("/metrics"));
  const all = seen.join("\n") + JSON.stringify(logs);
  for (const digits of TRUE_DIGITS) assert.not.ok(all.includes(digits), `leaked ${digits}`);
  assert.ok(logs.some((l) => l.error === "internal" && l.detail?.includes("defense failed")));
});

test("extraRoutes mounts routes before the 404 handler", async () => {
  const { app } = setup({ extraRoutes: (a) => a.get("/demo/", (c) => c.text("demo page")) });
  assert.is(await (await app.request("/demo/")).text(), "demo page");
  assert.is((await app.request("/demo/missing")).status, 404);
});

test.run();
