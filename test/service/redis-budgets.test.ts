// Budgets shared through a real redis-server (started here on a free port): atomic across
// "replicas", windows, refunds, and two apps sharing one budget.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { RedisBudgetStore, redactUrl } from "../../src/service/node/redis-budgets.js";
import { createApp } from "../../src/service/app.js";
import { startRedis } from "./redis-server.js";
import type { TestRedis } from "./redis-server.js";
import { FakePredictor, input } from "./fake-predictor.js";

const test = suite("redis budgets");
let redis: TestRedis | null = null;
const stores: RedisBudgetStore[] = [];
let prefixCount = 0;

test.before(async () => {
  redis = await startRedis();
});
test.after(async () => {
  for (const s of stores) await s.close();
  await redis?.stop();
});

async function store(limit: number, windowSeconds?: number, prefix = `t${prefixCount++}:`) {
  const s = await RedisBudgetStore.connect({ url: redis!.url, limit, windowSeconds, prefix });
  stores.push(s);
  return s;
}

test("two replicas share one budget and never overspend under concurrency", async () => {
  if (!redis) return;
  const a = await store(20, undefined, "shared:");
  const b = await store(20, undefined, "shared:");
  const decisions = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).consume("alice", 1)));
  assert.is(decisions.filter((d) => d.allowed).length, 20);
  assert.is((await a.consume("bob", 20)).allowed, true);
  const refused = await b.consume("bob", 1);
  assert.equal([refused.allowed, refused.remaining, refused.limit], [false, 0, 20]);
});

test("a refused request spends nothing; refunds give inputs back", async () => {
  if (!redis) return;
  const s = await store(5);
  assert.is((await s.consume("k", 4)).remaining, 1);
  assert.is((await s.consume("k", 2)).allowed, false);
  assert.is((await s.consume("k", 1)).remaining, 0);
  await s.refund("k", 3);
  assert.is((await s.consume("k", 3)).allowed, true);
  assert.is((await s.consume("k", 1)).allowed, false);
});

test("windowed budgets reset after the window and report when", async () => {
  if (!redis) return;
  const s = await store(2, 1);
  const first = await s.consume("w", 2);
  assert.ok(first.allowed);
  const refused = await s.consume("w", 1);
  assert.is(refused.allowed, false);
  assert.is(refused.resetSeconds, 1);
  await new Promise((r) => setTimeout(r, 1100));
  assert.is((await s.consume("w", 2)).allowed, true);
});

test("two apps (replicas) with Redis budgets answer 429 once the shared budget is spent", async () => {
  if (!redis) return;
  const shared = `apps${prefixCount++}:`;
  const apps = [await store(3, undefined, shared), await store(3, undefined, shared)].map((s) =>
    createApp({ predictor: new FakePredictor(), budgets: { store: s, limit: 3 } }),
  );
  const post = (i: number, n: number) =>
    apps[i].request("/v1/predict", {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": "carol" },
      body: JSON.stringify({ inputs: Array.from({ length: n }, () => input(0.1)) }),
    });
  assert.is((await post(0, 2)).status, 200);
  const res = await post(1, 1);
  assert.is(res.status, 200);
  assert.is(res.headers.get("x-budget-remaining"), "0");
  assert.is((await post(0, 1)).status, 429);
  assert.is((await post(1, 1)).status, 429);
});

test("a wrong Redis URL fails at connect with a readable message and no password", async () => {
  const err = await RedisBudgetStore.connect({ url: "redis://user:hunter2@127.0.0.1:1", limit: 1 }).catch((e) => e);
  assert.instance(err, Error);
  assert.match(err.message, /cannot reach Redis at redis:\/\/user:\*\*\*@127\.0\.0\.1:1/);
  assert.not.match(err.message, /hunter2/);
  assert.is(redactUrl("redis://h:6379"), "redis://h:6379");
});

test.run();
