// Replicas of `prediction-poisoning serve` sharing per-client state through one real redis-server, as child
// processes over a small MLP (trained for one epoch on 512 digits): a key's budget spent on both replicas at
// once adds up (never more answers than the budget); a client blocked by PRADA through replica A is refused by
// replica B; both replicas' watermarked answers land in the one Redis list. Then Redis is killed mid-run (an
// append-only file, fsync always): both replicas fail closed (503 with a JSON error, /healthz 503 naming the
// store), and once redis-server is started again on the same port they answer again without a restart, with the
// budget spent before the crash still spent.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { initBackend } from "../../src/models/backend.js";
import { loadMnist, subset } from "../../src/models/datasets.js";
import { seeded } from "../../src/models/random.js";
import { softLabels, trainModel } from "../../src/models/training.js";
import { buildModel } from "../../src/models/zoo.js";
import { saveModelToDir } from "../../src/node/model-files.js";
import { encodeFloat32Base64 } from "../../src/service/schema.js";
import { hashApiKey } from "../../src/service/node/redis-budgets.js";
import { digitStreams } from "../service/detect-streams.js";
import { startRedis } from "../service/redis-server.js";
import type { TestRedis } from "../service/redis-server.js";
import { needs } from "../tools.js";
import { startServe } from "./serve-process.js";
import type { ServeProcess } from "./serve-process.js";

const DIM = 784;
const dir = mkdtempSync(join(tmpdir(), "pp-replicas-"));
const modelDir = join(dir, "mlp");
const keysFile = join(dir, "keys.txt");
const redisDir = join(dir, "redis");
const servers: ChildProcess[] = [];
let redis: TestRedis | null = null;
let streams: { thief: Float32Array; honest: Float32Array };
const run = needs("redis-server", test);

/** A seeded shuffle of 0..n-1 (the streams' digit order). */
function permutation(n: number, seed: number): Int32Array {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  let s = seed >>> 0;
  for (let i = n - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = Math.floor((s / 4294967296) * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

const rowsOf = (stream: Float32Array, from: number, n: number) => stream.slice(from * DIM, (from + n) * DIM);

function post(s: ServeProcess, key: string, rows: Float32Array): Promise<Response> {
  return fetch(`${s.url}/v1/predict`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": key },
    body: JSON.stringify({ data: encodeFloat32Base64(rows), shape: [rows.length / DIM, 28, 28, 1] }),
  });
}

/** Two replicas of the same command on the test's Redis. */
function replicas(flags: string[]): Promise<[ServeProcess, ServeProcess]> {
  const args = ["--model", modelDir, "--port", "0", "--workers", "1", "--api-keys", keysFile, "--redis", redis!.url, ...flags];
  return Promise.all([startServe(args, servers), startServe(args, servers)]);
}

const stop = (...ss: ServeProcess[]) => {
  for (const s of ss) s.child.kill("SIGTERM");
};

test.before(async () => {
  await initBackend();
  const { train, test: held } = loadMnist({ seed: 0 });
  const model = buildModel({ arch: "mlp", numClasses: 10, inputShape: [28, 28, 1], seed: 1 });
  await trainModel(model, softLabels(subset(train, Array.from({ length: 512 }, (_, i) => i))), { epochs: 1, batchSize: 64, optimizer: "adam", learningRate: 0.002, seed: 1 });
  await saveModelToDir(model, modelDir);
  model.dispose();
  writeFileSync(keysFile, "spender\nthief\nhonest\nmarked\nsurvivor\n");
  streams = digitStreams(held, (n: number, seed: number) => seeded(seed, "splitmix32").permutation(n), { rows: 500 });
  mkdirSync(redisDir);
  redis = await startRedis({ dir: redisDir });
});

test.after(async () => {
  for (const s of servers) if (s.exitCode === null) s.kill("SIGKILL");
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

run("a key's budget spent on two replicas at once adds up: exactly the budget is answered, the rest 429", async () => {
  const [a, b] = await replicas(["--defense", "none", "--budget", "40"]);
  const statuses: number[] = [];
  const answeredBy = [0, 0];
  let next = 0;
  // 8 concurrent clients, 60 one-digit queries, alternating replicas.
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < 60) {
        const i = next++;
        const res = await post(i % 2 ? b : a, "spender", rowsOf(streams.honest, i, 1));
        statuses.push(res.status);
        if (res.status === 200) answeredBy[i % 2]++;
        else assert.equal(((await res.json()) as { error: { kind: string } }).error.kind, "budget_exhausted");
      }
    }),
  );
  assert.is(statuses.filter((s) => s === 200).length, 40);
  assert.is(statuses.filter((s) => s === 429).length, 20);
  assert.ok(answeredBy[0] > 0 && answeredBy[1] > 0, `answered by A ${answeredBy[0]}, by B ${answeredBy[1]}`);
  const raw = new Redis(redis!.url);
  assert.is(await raw.get(`pp:budget:${hashApiKey("spender")}`), "40");
  await raw.quit();
  // Both replicas now refuse the key, whichever answered it.
  for (const s of [a, b]) {
    const res = await post(s, "spender", rowsOf(streams.honest, 100, 1));
    assert.is(res.status, 429);
    assert.is(res.headers.get("x-budget-remaining"), "0");
  }
  stop(a, b);
});

run("a client blocked by PRADA through replica A is refused by replica B, which counts it among its flagged clients", async () => {
  const [a, b] = await replicas(["--defense", "none", "--detect", "prada", "--on-detect", "block"]);
  let blockedAt = -1;
  for (let i = 0; i < 500; i += 10) {
    const res = await post(a, "thief", rowsOf(streams.thief, i, 10));
    if (res.status === 403) {
      blockedAt = i;
      break;
    }
    assert.is(res.status, 200);
  }
  assert.ok(blockedAt > 0, "replica A blocked the thief");
  const refused = await post(b, "thief", rowsOf(streams.honest, 0, 1));
  assert.is(refused.status, 403);
  assert.equal(((await refused.json()) as { error: { kind: string; reason: string } }).error, {
    kind: "blocked",
    reason: "prada",
    field: "x-api-key",
    message: "x-api-key: this API key is blocked: the PRADA detector flagged its queries as a model-stealing attack",
  });
  assert.match(await (await fetch(`${b.url}/metrics`)).text(), /^pp_detect_flagged_clients 1$/m);
  assert.is((await post(b, "honest", rowsOf(streams.honest, 0, 10))).status, 200, "other keys are answered");
  stop(a, b);
});

run("the watermark log in Redis gets the watermarked answers of both replicas", async () => {
  const [a, b] = await replicas(["--defense", "none", "--watermark", "0.5", "--key-file", join(dir, "defense.key"), "--budget", "1000"]);
  const raw = new Redis(redis!.url);
  const length = () => raw.llen("pp:watermarks");
  assert.is(await length(), 0);
  for (let i = 0; i < 40; i += 4) assert.is((await post(a, "marked", rowsOf(streams.honest, i, 4))).status, 200);
  const afterA = await length();
  assert.ok(afterA > 0, "replica A recorded marks");
  for (let i = 40; i < 80; i += 4) assert.is((await post(b, "marked", rowsOf(streams.honest, i, 4))).status, 200);
  const afterB = await length();
  assert.ok(afterB > afterA, `replica B recorded marks too (${afterA}, then ${afterB})`);
  // Each entry is one of the 80 inputs sent, at most once (a mark is keyed by the input).
  const inputs = (await raw.lrange("pp:watermarks", 0, -1)).map((l) => (JSON.parse(l) as { input: string }).input);
  await raw.quit();
  assert.is(new Set(inputs).size, inputs.length);
  const sent = new Set(Array.from({ length: 80 }, (_, i) => Buffer.from(rowsOf(streams.honest, i, 1).buffer).toString("base64")));
  assert.ok(inputs.every((x) => sent.has(x)));
  stop(a, b);
});

run("Redis killed mid-run: both replicas fail closed (503, /healthz 503), then answer again once it is back, the budget spent before still spent", async () => {
  const [a, b] = await replicas(["--defense", "none", "--budget", "30", "--detect", "prada"]);
  let answered = 0;
  for (let i = 0; i < 10; i++) {
    const res = await post(i % 2 ? b : a, "survivor", rowsOf(streams.honest, i, 1));
    assert.is(res.status, 200);
    answered++;
  }
  assert.is((await post(a, "survivor", rowsOf(streams.honest, 10, 1))).headers.get("x-budget-remaining"), "19");
  answered++;
  // Clients keep querying both replicas while Redis dies: every answer is a 200 (a 429 once their budget is
  // spent) or a JSON 503, none hangs.
  let loading = true;
  const during: number[] = [];
  const load = Promise.all(
    [a, b].map(async (s, k) => {
      for (let i = 0; loading; i++) {
        const res = await post(s, "honest", rowsOf(streams.honest, 200 + k * 100 + (i % 100), 1));
        during.push(res.status);
        if (res.status !== 200) assert.type(((await res.json()) as { error: { kind: string } }).error.kind, "string");
        await new Promise((r) => setTimeout(r, 50));
      }
    }),
  );
  await new Promise((r) => setTimeout(r, 300));
  await redis!.kill();
  await new Promise((r) => setTimeout(r, 500));
  loading = false;
  await load;
  assert.ok(during.every((s) => s === 200 || s === 429 || s === 503), `statuses while Redis died: ${[...new Set(during)]}`);
  assert.ok(during.includes(200) && during.includes(503), `statuses while Redis died: ${[...new Set(during)]}`);
  for (const s of [a, b]) {
    const res = await post(s, "survivor", rowsOf(streams.honest, 11, 1));
    assert.is(res.status, 503);
    const error = ((await res.json()) as { error: { kind: string; message: string } }).error;
    assert.is(error.kind, "unavailable");
    assert.match(error.message, /Redis/);
    const health = await fetch(`${s.url}/healthz`);
    assert.is(health.status, 503);
    const body = (await health.json()) as { status: string; reason: string };
    assert.is(body.status, "unavailable");
    assert.match(body.reason, /store \(Redis\) is unreachable/);
  }
  redis = await startRedis({ dir: redisDir, port: redis!.port });
  const restarted = Date.now();
  for (const s of [a, b]) {
    const deadline = Date.now() + 20_000;
    while ((await fetch(`${s.url}/healthz`)).status !== 200) {
      assert.ok(Date.now() < deadline, "the replica did not recover within 20 s");
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  console.log(`both replicas answered /healthz 200 ${Date.now() - restarted} ms after redis-server was back`);
  // The append-only file kept what was spent: the 11 answered inputs are still spent, on either replica.
  const res = await post(b, "survivor", rowsOf(streams.honest, 12, 1));
  assert.is(res.status, 200);
  answered++;
  assert.is(res.headers.get("x-budget-remaining"), "18");
  for (let i = 13; i < 40; i++) {
    const r = await post(i % 2 ? b : a, "survivor", rowsOf(streams.honest, i, 1));
    if (r.status === 200) answered++;
    else assert.is(r.status, 429);
  }
  assert.is(answered, 30);
  stop(a, b);
});

test.run();
