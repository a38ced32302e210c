// The sidecar's upstream client in process, as an edge runtime runs it: the app over upstreamPredictor with a
// scripted fetch. Endpoints and credentials, each protocol's answer checks, and the failures (timeout,
// unreachable, redirect, oversized, ambiguous) as 502/504 with the budget refunded. The real servers, the
// worker threads and the CLI are in test/cli/serve-upstream.test.ts.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createDefense } from "../../src/defenses/registry.js";
import { createApp } from "../../src/service/app.js";
import { MemoryBudgetStore } from "../../src/service/budgets.js";
import { redactUpstreamUrl, upstreamEndpoint, upstreamPredictor } from "../../src/service/upstream.js";
import type { UpstreamOptions } from "../../src/service/upstream.js";

const base: UpstreamOptions = { url: "http://models.internal:8000", protocol: "kserve-v2", model: "m", outputs: "logits", inputShape: [2, 2, 1], numClasses: 3 };
const input = [[[0.1], [0.2]], [[0.3], [0.4]]];
const softmax = (z: number[]) => {
  const e = z.map((v) => Math.exp(v - Math.max(...z)));
  return e.map((v) => v / e.reduce((a, b) => a + b, 0));
};

type Script = (url: string, init: RequestInit) => Promise<Response>;
const json = (body: unknown, status = 200) => new Response(typeof body === "string" ? body : JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

function sidecar(upstream: Partial<UpstreamOptions>, script: Script) {
  const calls: { url: string; init: RequestInit }[] = [];
  const predictor = upstreamPredictor({
    upstream: { ...base, ...upstream },
    defense: createDefense("none"),
    fetch: (async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      return script(url, init);
    }) as typeof fetch,
  });
  const budgets = new MemoryBudgetStore({ limit: 100 });
  const app = createApp({ predictor, budgets: { store: budgets, keys: new Set(["k"]) } });
  const ask = async (rows = 1) => {
    const res = await app.request("/v1/predict", { method: "POST", headers: { "content-type": "application/json", "x-api-key": "k" }, body: JSON.stringify({ inputs: Array(rows).fill(input) }) });
    return { status: res.status, remaining: res.headers.get("x-budget-remaining"), body: (await res.json()) as { probabilities: number[][]; error: { kind: string; message: string; reason?: string } } };
  };
  return { app, ask, calls };
}

test("endpoints: the protocol's path under the base URL, userinfo as Basic auth, the query kept; redacted for display", () => {
  const withSecrets = "https://svc:p%40ss@models.internal/serving/?token=t0k#frag";
  const k = upstreamEndpoint({ ...base, url: withSecrets });
  assert.is(k.url, "https://models.internal/serving/v2/models/m/infer?token=t0k");
  assert.is(k.headers.authorization, `Basic ${btoa("svc:p@ss")}`);
  assert.is(upstreamEndpoint({ ...base, url: withSecrets, protocol: "tfserving" }).url, "https://models.internal/serving/v1/models/m:predict?token=t0k");
  assert.is(upstreamEndpoint({ ...base, url: "http://h/predict", protocol: "json", model: undefined }).url, "http://h/predict");
  assert.is(upstreamEndpoint(base).headers.authorization, undefined);
  assert.is(redactUpstreamUrl(withSecrets), "https://models.internal/serving/");
});

test("kserve-v2: the named output is read and softmaxed; /v1/model shows the upstream without its secrets", async () => {
  const { app, ask, calls } = sidecar({ url: "http://u:secretpw@h:1/?key=qk", outputName: "logits" }, async () =>
    json({ outputs: [{ name: "features", shape: [1, 5], datatype: "FP32", data: [1, 2, 3, 4, 5] }, { name: "logits", shape: [1, 3], datatype: "FP32", data: [[1, 2, 3]] }] }),
  );
  const answer = await ask();
  assert.is(answer.status, 200);
  softmax([1, 2, 3]).forEach((p, k) => assert.ok(Math.abs(answer.body.probabilities[0][k] - p) < 1e-6));
  const sent = JSON.parse(String(calls[0].init.body)) as Record<string, unknown>;
  assert.equal(sent, { inputs: [{ name: "input", shape: [1, 2, 2, 1], datatype: "FP32", data: Array.from(Float32Array.of(0.1, 0.2, 0.3, 0.4)) }], outputs: [{ name: "logits" }] });
  const info = await (await app.request("/v1/model")).text();
  assert.match(info, /"upstream":\{"protocol":"kserve-v2","url":"http:\/\/h:1\/","model":"m","outputs":"logits","timeoutMs":10000\}/);
  assert.not.ok(info.includes("secretpw") || info.includes("qk"));
});

test("json: the answer's key decides (logits or probabilities); both or neither is a 502", async () => {
  let answer: unknown = { probabilities: [[0.2, 0.3, 0.5]] };
  const { ask } = sidecar({ url: "http://h/predict", protocol: "json", model: undefined }, async () => json(answer));
  assert.equal((await ask()).body.probabilities.map((r) => r.map((p) => Number(p.toFixed(6)))), [[0.2, 0.3, 0.5]]);
  answer = { logits: [[0, 0, 0]] };
  assert.ok((await ask()).body.probabilities[0].every((p) => Math.abs(p - 1 / 3) < 1e-6));
  answer = { logits: [[0, 0, 0]], probabilities: [[0.2, 0.3, 0.5]] };
  assert.match((await ask()).body.error.message, /both "probabilities" and "logits"/);
  answer = { scores: [[0.2, 0.3, 0.5]] };
  assert.match((await ask()).body.error.message, /expected \{"probabilities"/);
});

test("failures: timeout (504), unreachable, redirect, oversized answer (502); the budget refunded each time", async () => {
  let mode = "slow";
  const { ask } = sidecar({ timeoutMs: 50, maxResponseBytes: 1000 }, (_url, init) => {
    if (mode === "slow") {
      return new Promise((_, reject) => init.signal!.addEventListener("abort", () => reject(init.signal!.reason)));
    }
    if (mode === "refused") return Promise.reject(Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } }));
    if (mode === "redirect") return Promise.resolve(new Response(null, { status: 302, headers: { location: "http://elsewhere/" } }));
    return Promise.resolve(json(" ".repeat(2000)));
  });
  const expected: Record<string, [number, string, string | undefined, RegExp]> = {
    slow: [504, "upstream_timeout", undefined, /did not answer within 50 ms/],
    refused: [502, "bad_upstream", "unreachable", /cannot be reached \(connection refused\)/],
    redirect: [502, "bad_upstream", "status", /answered HTTP 302/],
    oversized: [502, "bad_upstream", "malformed", /over 1000 bytes/],
  };
  // AbortSignal.timeout's timer does not keep Node alive (a server does): hold the loop open meanwhile.
  const alive = setInterval(() => {}, 1000);
  try {
    for (const [name, [status, kind, reason, message]] of Object.entries(expected)) {
      mode = name;
      const answer = await ask(3);
      assert.is(answer.status, status, name);
      assert.is(answer.body.error.kind, kind);
      assert.is(answer.body.error.reason, reason);
      assert.match(answer.body.error.message, message);
      assert.is(answer.remaining, "100", `${name}: refunded`);
    }
  } finally {
    clearInterval(alive);
  }
});

test.run();
