// In-memory budgets: counting inputs, refusing without spending, windows, refunds, forgetting idle keys.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { MemoryBudgetStore } from "../../src/service/budgets.js";

test("spends inputs up to the limit; a refusal spends nothing; refunds never go below zero", async () => {
  const s = new MemoryBudgetStore({ limit: 10 });
  assert.equal(await s.consume("a", 7), { allowed: true, remaining: 3, limit: 10, resetSeconds: undefined });
  assert.equal(await s.consume("a", 4), { allowed: false, remaining: 3, limit: 10, resetSeconds: undefined });
  assert.is((await s.consume("a", 3)).remaining, 0);
  await s.refund("a", 20);
  assert.is((await s.consume("a", 10)).allowed, true);
  assert.is((await s.consume("b", 10)).allowed, true, "keys are independent");
});

test("windows reset counts and report the seconds left", async () => {
  let now = 0;
  const s = new MemoryBudgetStore({ limit: 2, windowSeconds: 60 }, () => now);
  await s.consume("k", 2);
  now = 45_500;
  const refused = await s.consume("k", 1);
  assert.equal([refused.allowed, refused.resetSeconds], [false, 15]);
  now = 60_000;
  assert.is((await s.consume("k", 2)).allowed, true);
});

test("expired windows of idle keys are forgotten as new keys arrive", async () => {
  let now = 0;
  const s = new MemoryBudgetStore({ limit: 5, windowSeconds: 1 }, () => now);
  for (let i = 0; i < 10_000; i++) await s.consume(`old${i}`, 1);
  assert.is(s.size, 10_000);
  now = 2000;
  await s.consume("new", 1);
  assert.is(s.size, 1);
});

test("the store is bounded: past maxKeys the least recently used key is forgotten", async () => {
  const s = new MemoryBudgetStore({ limit: 5, maxKeys: 3 });
  for (const k of ["a", "b", "c"]) await s.consume(k, 5);
  await s.consume("a", 1); // a refusal still counts as a use: "b" is now the least recently used
  await s.consume("d", 1);
  assert.is(s.size, 3);
  assert.is(s.evictions, 1);
  assert.is((await s.consume("a", 1)).allowed, false, "a's spending is remembered");
  assert.is((await s.consume("c", 1)).allowed, false);
  assert.is((await s.consume("b", 5)).allowed, true, "b was forgotten: its count started over");
  // Lifetime budgets of many minted keys no longer grow without bound.
  const big = new MemoryBudgetStore({ limit: 1 });
  for (let i = 0; i < 100_500; i++) await big.consume(`minted${i}`, 1);
  assert.is(big.size, 100_000);
});

test("invalid options are refused with the value", () => {
  assert.throws(() => new MemoryBudgetStore({ limit: 0 }), /positive integer, got 0/);
  assert.throws(() => new MemoryBudgetStore({ limit: 5, windowSeconds: 0.5 }), /window must be a positive whole number of seconds, got 0.5/);
  assert.throws(() => new MemoryBudgetStore({ limit: 5, maxKeys: 0 }), /maxKeys must be a positive integer, got 0/);
});

test.run();
