// The Node host over real sockets: worker pool behind HTTP, a crashed worker replaced while the server
// stays up, Redis-backed budgets across two server instances, a graceful close that drains (an upload
// under way is answered, /healthz says draining), aborted uploads, and a Redis outage on /healthz.
import http from "node:http";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startServer } from "../../src/service/node/server.js";
import { startRedis } from "./redis-server.js";
import { input } from "./fake-predictor.js";
import { needs } from "../tools.js";

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

test("--redis without a budget is refused", async () => {
  const refused = await startServer({ predictor: { module, options: {} }, port: 0, workers: 1, redis: "redis://127.0.0.1:1" }).catch((e) => e);
  assert.match(String(refused.message), /give a budget too/);
});

needs("redis-server", test)("two servers share Redis budgets", async () => {
  const redis = await startRedis();
  if (!redis) throw new Error("redis-server did not start");
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

/** A POST /v1/predict whose body is sent in two parts, the second when `finish()` is called. */
function slowUpload(url: string, body: string) {
  const u = new URL(url);
  const half = Math.floor(body.length / 2);
  let answer!: Promise<{ status: number; body: string }>;
  const req = http.request({ host: u.hostname, port: u.port, path: "/v1/predict", method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } });
  answer = new Promise((resolve, reject) => {
    req.on("response", (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on("error", reject);
  });
  req.write(body.slice(0, half));
  return { answer, finish: () => req.end(body.slice(half)), abort: () => req.destroy() };
}

const metric = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}"]/g, "\\$&")} (\\S+)$`, "m").exec(text)?.[1]);

test("a client that aborts its upload is counted as client_closed, not as an internal error (or bad JSON)", async () => {
  const server = await startServer({ predictor: { module, options: {} }, port: 0, workers: 1 });
  try {
    const body = JSON.stringify({ inputs: [input(0.6), input(0.4)] });
    for (const chunked of [false, true]) {
      const u = new URL(server.url);
      const req = http.request({ host: u.hostname, port: u.port, path: "/v1/predict", method: "POST", headers: { "content-type": "application/json", ...(chunked ? {} : { "content-length": 10_000 }) } });
      req.on("error", () => {});
      req.write(body.slice(0, 20));
      await new Promise((r) => setTimeout(r, 100));
      req.destroy();
    }
    await new Promise((r) => setTimeout(r, 300));
    const text = await (await fetch(`${server.url}/metrics`)).text();
    assert.is(metric(text, 'pp_errors_total{kind="internal"}'), 0);
    assert.is(metric(text, 'pp_errors_total{kind="bad_json"}'), 0);
    assert.is(metric(text, 'pp_errors_total{kind="client_closed"}'), 2);
    assert.is((await post(server.url, [input(0.6)])).status, 200, "the server keeps answering");
  } finally {
    await server.close();
  }
});

test("close() drains: an upload accepted before it is answered 200; /healthz says 503 draining meanwhile; then it stops", async () => {
  const server = await startServer({ predictor: { module, options: {} }, port: 0, workers: 1 });
  const upload = slowUpload(server.url, JSON.stringify({ inputs: [input(0.6)] }));
  await new Promise((r) => setTimeout(r, 100));
  const closed = server.close();
  await new Promise((r) => setTimeout(r, 100));
  const health = await fetch(`${server.url}/healthz`);
  assert.is(health.status, 503);
  assert.is(((await health.json()) as { status: string }).status, "draining");
  const late = await post(server.url, [input(0.6)]);
  assert.is(late.status, 503, "a query arriving while draining is refused");
  assert.is(((await late.json()) as { error: { reason: string } }).error.reason, "draining");
  upload.finish();
  const answer = await upload.answer;
  assert.is(answer.status, 200, answer.body);
  assert.equal((JSON.parse(answer.body) as { labels: number[] }).labels, [0]);
  await closed;
  const after = await fetch(`${server.url}/healthz`).then(
    () => "answered",
    () => "refused",
  );
  assert.is(after, "refused");
});

test("--budget without accepted keys is refused", async () => {
  const err = await startServer({ predictor: { module, options: {} }, port: 0, workers: 1, budget: { limit: 3 } }).catch((e) => e);
  assert.match(String(err.message), /--budget needs the accepted API keys \(--api-keys <file>/);
});

needs("redis-server", test)("a Redis outage shows on /healthz (503 with the reason), not only as 503s on queries", async () => {
  const redis = await startRedis();
  if (!redis) throw new Error("redis-server did not start");
  const server = await startServer({ predictor: { module, options: {} }, port: 0, workers: 1, redis: redis.url, budget: { limit: 10, keys: ["dana"] } });
  try {
    assert.is((await post(server.url, [input(0.1)], { "x-api-key": "dana" })).status, 200);
    assert.is((await fetch(`${server.url}/healthz`)).status, 200);
    await redis.stop();
    let health = await fetch(`${server.url}/healthz`);
    for (let i = 0; i < 40 && health.status === 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      health = await fetch(`${server.url}/healthz`);
    }
    assert.is(health.status, 503);
    const body = (await health.json()) as { status: string; reason: string };
    assert.is(body.status, "unavailable");
    assert.match(body.reason, /the budget store \(Redis\) is unreachable/);
    const q = await post(server.url, [input(0.1)], { "x-api-key": "dana" });
    assert.is(q.status, 503);
  } finally {
    await server.close();
  }
});

test.run();
