// PRADA states in a real redis-server (started here on a free port): the same verdicts as in memory, no
// lost update when two "replicas" (two stores, two connections) update one key at once, blocks and the
// flagged count shared.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Redis } from "ioredis";
import { MemoryPradaStore, PradaDetector } from "../../src/defenses/prada.js";
import type { PradaStore, PradaVerdict } from "../../src/defenses/prada.js";
import { loadMnist } from "../../src/models/datasets.js";
import { seeded } from "../../src/models/random.js";
import { RedisPradaStore } from "../../src/service/node/redis-prada.js";
import { hashApiKey } from "../../src/service/node/redis-budgets.js";
import { PradaDetection } from "../../src/service/detection.js";
import { digitStreams } from "./detect-streams.js";
import { startRedis } from "./redis-server.js";
import type { TestRedis } from "./redis-server.js";
import { needs } from "../tools.js";

const test = suite("redis prada");
const withRedis = needs("redis-server", test);
const DIM = 784;
let redis: TestRedis | null = null;
const stores: RedisPradaStore[] = [];
const digits = loadMnist({ seed: 0 }).test;
const { thief, honest } = digitStreams(digits, (n: number, seed: number) => seeded(seed, "splitmix32").permutation(n), { rows: 300 });
const limits = { maxGrowing: 100, maxDistances: 500 };
let prefixes = 0;

test.before(async () => {
  redis = await startRedis();
});
test.after(async () => {
  for (const s of stores) await s.close();
  await redis?.stop();
});

async function store(prefix: string) {
  const s = await RedisPradaStore.connect({ url: redis!.url, prefix }, limits);
  stores.push(s);
  return s;
}

/** Labels: a fixed function of the input (the ink's mean row), as a model would give. */
function labelsOf(rows: Float32Array): Int32Array {
  const n = rows.length / DIM;
  const out = new Int32Array(n);
  for (let b = 0; b < n; b++) {
    let mass = 0;
    let at = 0;
    for (let i = 0; i < DIM; i++) if (rows[b * DIM + i] > 0.5) (mass++, (at += Math.floor(i / 28)));
    out[b] = mass ? Math.min(9, Math.floor(((at / mass) * 10) / 28)) : 0;
  }
  return out;
}

const detector = new PradaDetector();
function feed(s: PradaStore, client: string, rows: Float32Array, block = false): Promise<PradaVerdict> {
  const labels = labelsOf(rows);
  return s.update(client, DIM, new Set(labels), (state) => {
    const v = detector.observe(state, rows, labels);
    if (block && v.flagged) state.blocked = true;
    return { ...v, blocked: state.blocked };
  });
}
const slice = (stream: Float32Array, from: number, n: number) => stream.slice(from * DIM, (from + n) * DIM);

withRedis("Redis and memory give the same tests and verdicts for the same stream", async () => {
  if (!redis) throw new Error("redis-server did not start");
  const r = await store(`eq${prefixes++}:`);
  const m = new MemoryPradaStore();
  for (let i = 0; i < 300; i += 15) {
    const a = await feed(r, "k", slice(thief, i, 15));
    const b = await feed(m, "k", slice(thief, i, 15));
    assert.equal(a, b);
  }
  assert.is(await r.flaggedCount(), 1);
});

withRedis("two replicas updating one key at once lose no query (compare-and-set retries)", async () => {
  if (!redis) throw new Error("redis-server did not start");
  const prefix = `cc${prefixes++}:`;
  const [a, b] = [await store(prefix), await store(prefix)];
  await Promise.all(Array.from({ length: 40 }, (_, i) => feed(i % 2 ? a : b, "shared", slice(honest, i * 5, 5))));
  const raw = new Redis(redis.url);
  const meta = JSON.parse((await raw.hget(`${prefix}c:${hashApiKey("shared")}`, "meta"))!) as { queries: number; classes: unknown[] };
  assert.is(meta.queries, 200, "every query was recorded exactly once");
  // Whether the replicas conflicted depends on timing; what must hold is that no query was lost or doubled.
  const ttl = await raw.ttl(`${prefix}c:${hashApiKey("shared")}`);
  assert.ok(ttl > 0, "an idle state expires");
  await raw.quit();
});

withRedis("a block and the flagged count are shared; a blocked key's arrays are dropped", async () => {
  if (!redis) throw new Error("redis-server did not start");
  const prefix = `bl${prefixes++}:`;
  const [a, b] = [await store(prefix), await store(prefix)];
  let blocked = false;
  for (let i = 0; i < 300 && !blocked; i += 10) blocked = (await feed(i % 20 ? a : b, "thief", slice(thief, i, 10), true)).blocked;
  assert.ok(blocked);
  assert.ok(await a.isBlocked("thief"));
  assert.ok(await b.isBlocked("thief"));
  assert.not.ok(await a.isBlocked("honest"));
  assert.is(await b.flaggedCount(), 1);
  const raw = new Redis(redis.url);
  const fields = (await raw.hkeys(`${prefix}c:${hashApiKey("thief")}`)).sort();
  assert.equal(fields, ["blocked", "meta", "ver"]);
  assert.is(await raw.ttl(`${prefix}c:${hashApiKey("thief")}`), -1, "a block does not expire");
  // API keys are stored only as SHA-256 hashes: neither the state's name nor the flagged set holds one.
  assert.equal(await raw.keys(`${prefix}*thief*`), []);
  assert.equal(await raw.zrange(`${prefix}flagged`, 0, -1), [hashApiKey("thief")]);
  await raw.quit();
  // Through the service's glue: a blocked key stays blocked, the gauge reads the shared count.
  const detection = new PradaDetection({ store: a, onDetect: "block" });
  assert.ok(await detection.isBlocked("thief"));
  await detection.refresh();
  assert.is(detection.flaggedClients.get(), 1);
});

test("an unreachable Redis fails at connect, naming the URL without its password", async () => {
  const err = await RedisPradaStore.connect({ url: "redis://u:secret@127.0.0.1:1" }, limits).catch((e) => e);
  assert.instance(err, Error);
  assert.match(err.message, /cannot reach Redis at redis:\/\/u:\*\*\*@127\.0\.0\.1:1/);
});

test.run();
