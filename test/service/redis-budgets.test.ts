// Budgets shared through a real redis-server (started here on a free port): atomic across
// "replicas", windows, refunds, and two apps sharing one budget.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { RedisBudgetStore, hashApiKey, redactUrl } from "../../src/service/node/redis-budgets.js";
import { createApp } from "../../src/service/app.js";
import { startRedis } from "./redis-server.js";
import type { TestRedis } from "./redis-server.js";
import { FakePredictor, input } from "./fake-predictor.js";
import { needs } from "../tools.js";

const test = suite("redis budgets");
const withRedis = needs("redis-server", test);
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

withRedis("two replicas share one budget and never overspend under concurrency", async () => {
  const a = await store(20, undefined, "shared:");
  const b = await store(20, undefined, "shared:");
  const decisions = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).consume("alice", 1)));
  assert.is(decisions.filter((d) => d.allowed).length, 20);
  assert.is((await a.consume("bob", 20)).allowed, true);
  const refused = await b.consume("bob", 1);
  assert.equal([refused.allowed, refused.remaining, refused.limit], [false, 0, 20]);
});

withRedis("a refused request spends nothing; refunds give inputs back", async () => {
  const s = await store(5);
  assert.is((await s.consume("k", 4)).remaining, 1);
  assert.is((await s.consume("k", 2)).allowed, false);
  assert.is((await s.consume("k", 1)).remaining, 0);
  await s.refund("k", 3);
  assert.is((await s.consume("k", 3)).allowed, true);
  assert.is((await s.consume("k", 1)).allowed, false);
});

withRedis("windowed budgets reset after the window and report when", async () => {
  const s = await store(2, 1);
  const first = await s.consume("w", 2);
  assert.ok(first.allowed);
  const refused = await s.consume("w", 1);
  assert.is(refused.allowed, false);
  assert.is(refused.resetSeconds, 1);
  await new Promise((r) => setTimeout(r, 1100));
  assert.is((await s.consume("w", 2)).allowed, true);
});

withRedis("a refund keeps a windowed key's expiry, even when it gives back everything", async () => {
  const s = await store(10, 5);
  assert.is((await s.consume("r", 4)).resetSeconds, 5);
  await new Promise((r) => setTimeout(r, 1100));
  await s.refund("r", 4);
  const after = await s.consume("r", 1);
  assert.ok(after.allowed);
  assert.ok(after.resetSeconds! <= 4, `the refund restarted the window: ${after.resetSeconds} s left`);
  await s.refund("gone", 3); // a key with no count (its window ended) stays without one
  assert.is((await s.consume("gone", 10)).allowed, true);
});

withRedis("API keys are stored as SHA-256 hashes, never in plaintext", async () => {
  const prefix = `h${prefixCount++}:`;
  const s = await store(5, 60, prefix);
  await s.consume("secret-key-of-alice", 2);
  const raw = new Redis(redis!.url);
  const names = await raw.keys(`${prefix}*`);
  await raw.quit();
  const digest = createHash("sha256").update("secret-key-of-alice").digest("hex");
  assert.equal(names, [prefix + digest]);
  assert.is(hashApiKey("secret-key-of-alice"), digest);
});

withRedis("two apps (replicas) with Redis budgets answer 429 once the shared budget is spent", async () => {
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
