// The Node host over real sockets: worker pool behind HTTP, a crashed worker replaced while the server
// stays up, Redis-backed budgets across two server instances, and a graceful close.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startServer } from "../../src/service/node/server.js";
import { startRedis } from "./redis-server.js";
import { input } from "./fake-predictor.js";

const module = new URL("./fixtures/scripted-predictor.ts", import.meta.url).href;
const post = (url: string, inputs: unknown[], headers: Record<string, string> = {}) =>
  fetch(`${url}/v1/predict`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ inputs }) });

test("serves predictions from the pool; a crashing worker is replaced and the server stays up", async () => {
  const lines: string[] = [];
  const server = await startServer({ predictor: { module, options: {} }, port: 0, workers: 2, log: (l) => lines.push(l) });
  try {
    const ok = await post(server.url, [input(0.9), input(0.1)]);
    assert.is(ok.status, 200);
    const body = (await ok.json()) as { probabilities: number[][]; labels: number[] };
    assert.equal(body.labels, [0, 1]);
    assert.is(body.probabilities[0][0], Math.fround(0.9));

    const crash = await post(server.url, [input(0.25)]);
    assert.is(crash.status, 500);
    assert.equal(((await crash.json()) as { error: { kind: string } }).error.kind, "worker_crash");
    for (let i = 0; i < 4; i++) assert.is((await post(server.url, [input(0.3)])).status, 200);
    assert.is((await fetch(`${server.url}/healthz`)).status, 200);
    // the replacement comes up within a moment
    for (let i = 0; i < 50 && server.pool.readyCount < 2; i++) await new Promise((r) => setTimeout(r, 50));
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^pp_worker_restarts_total 1$/m);
    assert.match(metrics, /^pp_workers_ready 2$/m);
    assert.match(metrics, /^pp_errors_total\{kind="worker_crash"\} 1$/m);
    assert.match(metrics, /^pp_queries_total 6$/m);
    assert.ok(lines.some((l) => /starting a replacement/.test(l)));
    assert.is((await fetch(`${server.url}/nothing`)).status, 404);
  } finally {
    await server.close();
  }
});

test("graceful close finishes in-flight requests, then refuses connections", async () => {
  const server = await startServer({ predictor: { module, options: { delayMs: 300 } }, port: 0, workers: 1 });
  const inFlight = post(server.url, [input(0.6)]);
  await new Promise((r) => setTimeout(r, 100));
  const closed = server.close();
  const res = await inFlight;
  assert.is(res.status, 200);
  assert.equal(((await res.json()) as { labels: number[] }).labels, [0]);
  await closed;
  const after = await post(server.url, [input(0.6)]).then(
    () => "answered",
    () => "refused",
  );
  assert.is(after, "refused");
});

test("a model that cannot start fails startServer with its reason", async () => {
  const err = await startServer({ predictor: { module, options: { failStart: "model.json is missing" } }, port: 0, workers: 1 }).catch((e) => e);
  assert.match(String(err.message), /model\.json is missing/);
});

test("two servers share Redis budgets; --redis without a budget is refused", async () => {
  const refused = await startServer({ predictor: { module, options: {} }, port: 0, workers: 1, redis: "redis://127.0.0.1:1" }).catch((e) => e);
  assert.match(String(refused.message), /give a budget too/);
  const redis = await startRedis();
  if (!redis) return;
  const options = { predictor: { module, options: {} }, port: 0, workers: 1, redis: redis.url, budget: { limit: 3, keys: ["dana"] } };
  const [a, b] = [await startServer(options), await startServer(options)];
  try {
    const key = { "x-api-key": "dana" };
    assert.is((await post(a.url, [input(0.1), input(0.2)], key)).status, 200);
    assert.is((await post(b.url, [input(0.1)], key)).status, 200);
    const spent = await post(a.url, [input(0.1)], key);
    assert.is(spent.status, 429);
    assert.is(spent.headers.get("x-budget-remaining"), "0");
    assert.is((await post(b.url, [input(0.1)], key)).status, 429);
    assert.is((await post(b.url, [input(0.1)], { "x-api-key": "eve" })).status, 401);
  } finally {
    await a.close();
    await b.close();
    await redis.stop();
  }
});

test.run();
