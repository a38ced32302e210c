// `prediction-poisoning serve --detect prada` for real, as child processes over a small MLP (trained for one
// epoch on 512 digits): a synthetic Jacobian-style thief key is blocked (403 with a JSON reason) while an
// honest key keeps getting answers, /metrics and the access log show it; two server processes sharing a
// real redis-server judge one client together. Without --api-keys, --detect is a usage error (exit 2).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
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
import { digitStreams } from "../service/detect-streams.js";
import { hashApiKey } from "../../src/service/node/redis-budgets.js";
import { startRedis } from "../service/redis-server.js";
import type { TestRedis } from "../service/redis-server.js";
import { needs } from "../tools.js";
import { startServe, type ServeProcess } from "./serve-process.js";

const DIM = 784;
const dir = mkdtempSync(join(tmpdir(), "pp-detect-"));
const modelDir = join(dir, "mlp");
const keysFile = join(dir, "keys.txt");
const servers: ChildProcess[] = [];
let redis: TestRedis | null = null;
let streams: { thief: Float32Array; honest: Float32Array };


const serve = (args: string[]) => startServe(args, servers);

const common = () => ["--model", modelDir, "--defense", "none", "--workers", "1", "--port", "0", "--api-keys", keysFile, "--detect", "prada", "--on-detect", "block", "--access-log"];

async function post(url: string, key: string, rows: Float32Array): Promise<Response> {
  return fetch(`${url}/v1/predict`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": key },
    body: JSON.stringify({ data: encodeFloat32Base64(rows), shape: [rows.length / DIM, 28, 28, 1] }),
  });
}
const rowsOf = (stream: Float32Array, from: number, n: number) => stream.slice(from * DIM, (from + n) * DIM);

test.before(async () => {
  await initBackend();
  const { train, test: held } = loadMnist({ seed: 0 });
  const model = buildModel({ arch: "mlp", numClasses: 10, inputShape: [28, 28, 1], seed: 1 });
  await trainModel(model, softLabels(subset(train, Array.from({ length: 512 }, (_, i) => i))), { epochs: 1, batchSize: 64, optimizer: "adam", learningRate: 0.002, seed: 1 });
  await saveModelToDir(model, modelDir);
  writeFileSync(keysFile, "thief\nhonest\nthief2\n");
  streams = digitStreams(held, (n: number, seed: number) => seeded(seed, "splitmix32").permutation(n), { rows: 500 });
  redis = await startRedis();
});

test.after(async () => {
  for (const s of servers) if (s.exitCode === null) s.kill("SIGKILL");
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("--detect without --api-keys is a usage error (exit 2)", () => {
  const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli/index.ts", "serve", "--model", modelDir, "--detect", "prada"], { encoding: "utf8" });
  assert.is(r.status, 2);
  assert.match(r.stderr, /--detect .*--api-keys/);
  const bad = spawnSync(process.execPath, ["--import", "tsx", "src/cli/index.ts", "serve", "--detect", "nope", "--api-keys", keysFile], { encoding: "utf8" });
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /prada/);
});

test("--on-detect block: the thief key gets 403 with a JSON reason, the honest key keeps getting 200; /metrics and the access log show it", async () => {
  const s = await serve(common());
  let blockedAfter = -1;
  for (let i = 0; i < 500; i += 10) {
    const res = await post(s.url, "thief", rowsOf(streams.thief, i, 10));
    if (res.status === 403) {
      blockedAfter = i;
      const body = (await res.json()) as { error: { kind: string; reason: string; field: string; message: string } };
      assert.equal([body.error.kind, body.error.reason, body.error.field], ["blocked", "prada", "x-api-key"]);
      assert.match(body.error.message, /PRADA/);
      break;
    }
    assert.is(res.status, 200);
    assert.is((await post(s.url, "honest", rowsOf(streams.honest, i, 10))).status, 200);
  }
  assert.ok(blockedAfter > 100, `blocked after ${blockedAfter} queries`);
  for (let i = 0; i < 5; i++) {
    assert.is((await post(s.url, "thief", rowsOf(streams.honest, i, 1))).status, 403, "later queries of the key are refused");
    assert.is((await post(s.url, "honest", rowsOf(streams.honest, 400 + i * 10, 10))).status, 200);
  }
  const metrics = await (await fetch(`${s.url}/metrics`)).text();
  assert.match(metrics, /^pp_detect_flagged_clients 1$/m);
  assert.ok(Number(/^pp_detections_total (\d+)$/m.exec(metrics)![1]) >= 1);
  assert.match(metrics, /^pp_errors_total\{kind="blocked"\} 6$/m);
  const lines = s.stdout().trim().split("\n").slice(1).map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(lines.some((l) => l.status === 200 && l.verdict === "blocked"), "the request that raised the alarm");
  assert.is(lines.filter((l) => l.status === 403 && l.verdict === "blocked").length, 6);
  assert.ok(lines.filter((l) => l.status === 200).every((l) => typeof l.verdict === "string"));
  assert.ok(lines.every((l) => Object.keys(l).every((k) => ["time", "method", "path", "status", "ms", "bodyMs", "rows", "error", "verdict", "w"].includes(k))));
  assert.match(s.stderr(), /detector prada \(on detect: block, δ = 0\.9\) with states in memory/);
  s.child.kill("SIGTERM");
});

needs("redis-server", test)("two server processes sharing Redis judge one client together", async () => {
  if (!redis) throw new Error("redis-server did not start");
  const [a, b] = await Promise.all([serve([...common(), "--redis", redis.url]), serve([...common(), "--redis", redis.url])]);
  let answered = 0;
  let blockedBy = -1;
  for (let i = 0, turn = 0; i < 500; i += 10, turn++) {
    const server = turn % 2 ? b : a;
    const res = await post(server.url, "thief2", rowsOf(streams.thief, i, 10));
    if (res.status === 403) {
      blockedBy = turn % 2;
      break;
    }
    assert.is(res.status, 200);
    answered += 10;
  }
  assert.ok(blockedBy >= 0, "blocked");
  // The other replica refuses the key too, and both count it among the flagged clients.
  for (const s of [a, b]) {
    assert.is((await post(s.url, "thief2", rowsOf(streams.honest, 0, 1))).status, 403);
    assert.is((await post(s.url, "honest", rowsOf(streams.honest, 0, 10))).status, 200);
    assert.match(await (await fetch(`${s.url}/metrics`)).text(), /^pp_detect_flagged_clients 1$/m);
  }
  // One state in Redis holds every query both replicas answered for the key.
  const raw = new Redis(redis.url);
  const meta = JSON.parse((await raw.hget(`pp:prada:c:${hashApiKey("thief2")}`, "meta"))!) as { queries: number; blocked: boolean };
  await raw.quit();
  assert.is(meta.queries, answered);
  assert.is(meta.blocked, true);
  const rowsA = a.stdout().split("\n").filter((l) => l.includes('"status":200')).length;
  const rowsB = b.stdout().split("\n").filter((l) => l.includes('"status":200')).length;
  assert.ok(rowsA > 0 && rowsB > 0, "both replicas answered the thief");
  a.child.kill("SIGTERM");
  b.child.kill("SIGTERM");
});

test.run();
