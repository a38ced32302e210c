// End to end: `serve --defense none --watermark 0.05 --watermark-log DIR` (2 workers) in front of a small MLP;
// a top-1 thief steals it over HTTP with 600 queries; `verify` finds the watermark in the stolen copy (and in
// the server itself, by URL) and no evidence in a model trained independently on true labels. Also the
// key file, that the key and the log stay out of /v1/model, determinism across workers, and clear errors;
// and soft marks (--watermark-soft): every top-1 kept, a soft-label thief's copy identified by verify.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "../../src/models/backend.js";
import { loadMnist, subset } from "../../src/models/datasets.js";
import { softLabels, trainModel } from "../../src/models/training.js";
import { buildModel } from "../../src/models/zoo.js";
import { saveModelToDir } from "../../src/node/model-files.js";
import { encodeFloat32Base64 } from "../../src/service/schema.js";
import { createThief } from "../../src/thieves/registry.js";
import type { BlackBox } from "../../src/thieves/thief.js";
import { readWatermarkDir } from "../../src/service/node/watermark-log.js";
import { startRedis } from "../service/redis-server.js";
import { needs } from "../tools.js";
import { startServe } from "./serve-process.js";

const dir = mkdtempSync(join(tmpdir(), "pp-wm-"));
const victimDir = join(dir, "victim");
const stolenDir = join(dir, "stolen");
const independentDir = join(dir, "independent");
const logDir = join(dir, "wmlog");
const keyFile = join(dir, "keys", "defense.key");
const BUDGET = 600;
const children: ChildProcess[] = [];

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/index.ts", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr })));
}

const serve = (args: string[]) => startServe(args, children);

/** The thief's view of the server: a BlackBox over POST /v1/predict. */
/** fetch, retried once on a network error: a pooled keep-alive socket the server closed while the thief trained. */
async function fetchRetry(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch {
    return fetch(url, init);
  }
}

function httpBlackBox(url: string): BlackBox {
  return {
    inputShape: [28, 28, 1],
    numClasses: 10,
    async predict(batch) {
      const res = await fetchRetry(`${url}/v1/predict`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ data: encodeFloat32Base64(batch.data), shape: [batch.batchSize, ...batch.inputShape] }),
      });
      assert.is(res.status, 200);
      const body = (await res.json()) as { probabilities: number[][] };
      return Float32Array.from(body.probabilities.flat());
    },
  };
}

const mlp = (seed: number) => buildModel({ arch: "mlp", numClasses: 10, inputShape: [28, 28, 1], seed });
let pool: { images: Float32Array; count: number; inputShape: number[] };

test.before(async () => {
  await initBackend();
  const { train, test: held } = loadMnist({ seed: 0 });
  const victim = mlp(1);
  await trainModel(victim, softLabels(subset(train, Array.from({ length: 1024 }, (_, i) => i))), { epochs: 3, batchSize: 64, optimizer: "adam", learningRate: 0.002, seed: 1 });
  await saveModelToDir(victim, victimDir);
  // The independent model: same architecture, other digits, true labels, never saw the server's answers.
  const independent = mlp(2);
  await trainModel(independent, softLabels(subset(train, Array.from({ length: 1024 }, (_, i) => 2000 + i))), { epochs: 20, batchSize: 64, optimizer: "adam", learningRate: 0.002, seed: 2 });
  await saveModelToDir(independent, independentDir);
  pool = { images: held.images.slice(0, BUDGET * 784), count: BUDGET, inputShape: [28, 28, 1] };
});

test.after(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

test("watermark end to end: serve --watermark, a top-1 thief steals over HTTP, verify says stolen / no evidence", async () => {
  // The log directory does not exist yet: serve creates it.
  const server = await serve(["--model", victimDir, "--defense", "none", "--watermark", "0.05", "--watermark-log", logDir, "--key-file", keyFile, "--workers", "2", "--port", "0"]);
  assert.is(statSync(keyFile).mode & 0o777, 0o600);
  const secret = readFileSync(keyFile, "utf8").trim();
  const infoText = await (await fetchRetry(`${server.url}/v1/model`)).text();
  assert.not.ok(infoText.includes(secret), "the key in /v1/model");

  const box = httpBlackBox(server.url);
  // The same query answers alike whichever worker serves it.
  const probe = { data: pool.images.subarray(0, 64 * 784), batchSize: 64, inputShape: [28, 28, 1] };
  const [p1, p2, p3] = await Promise.all([box.predict(probe), box.predict(probe), box.predict(probe)]);
  assert.equal(Array.from(p2), Array.from(p1));
  assert.equal(Array.from(p3), Array.from(p1));

  const thief = createThief("top1", { epochs: 40, optimizer: "adam", learningRate: 0.002 }, { buildSubstitute: (seed) => mlp(seed), pool });
  const stolen = await thief.steal(box, { budget: BUDGET, seed: 3 });
  await saveModelToDir(stolen.model, stolenDir);

  const metrics = await (await fetchRetry(`${server.url}/metrics`)).text();
  assert.not.ok(metrics.includes(secret), "the key in /metrics");
  const logged = readWatermarkDir(logDir);
  const distinct = new Set(logged.entries.map((e) => Buffer.from(e.input.buffer).toString("base64"))).size;
  // 600 distinct pool images + the probe (64 of them, asked 3 times): ~5 % of 600 distinct inputs.
  assert.ok(distinct >= 12 && distinct <= 60, `${distinct} distinct watermarked inputs of ${BUDGET}`);
  assert.ok(logged.files >= 1 && logged.files <= 2, `${logged.files} log files`);
  assert.ok(logged.entries.every((e) => e.label !== e.victimLabel));

  const verify = async (suspect: string) => {
    const r = await cli(["verify", "--watermark-log", logDir, "--suspect", suspect, "--json"]);
    assert.is(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { queries: number; matches: number; pValue: number; verdict: string; log10PValue: number };
  };
  const [onStolen, onIndependent, onServer] = await Promise.all([verify(stolenDir), verify(independentDir), verify(server.url)]);
  console.log(`  watermarked inputs: ${distinct}; stolen: ${JSON.stringify(onStolen)}; independent: ${JSON.stringify(onIndependent)}; server: ${JSON.stringify(onServer)}`);
  assert.is(onStolen.queries, distinct);
  assert.is(onStolen.verdict, "stolen");
  assert.is(onIndependent.verdict, "no evidence");
  assert.is(onServer.verdict, "stolen");
  assert.is(onServer.matches, onServer.queries, "the watermarking server itself matches every logged label");

  // The text output names the null rate and the p-value.
  const text = await cli(["verify", "--watermark-log", logDir, "--suspect", independentDir, "--max-queries", "5"]);
  assert.is(text.code, 0, text.stderr);
  assert.match(text.stdout, /queries used: 5\n/);
  assert.match(text.stdout, /null rate: 1\/\(K − 1\)/);
  assert.match(text.stdout, /p-value: /);

  const exited = new Promise<number | null>((resolve) => server.child.once("exit", (code) => resolve(code)));
  server.child.kill("SIGTERM");
  assert.is(await exited, 0);
  assert.not.ok(server.stderr().includes(secret), "the key in the server's log");
});

test("soft marks end to end: serve --watermark-soft keeps every top-1, a soft-label thief's copy is identified, an independent model is not", async () => {
  const softLog = join(dir, "softlog");
  const server = await serve([
    "--model", victimDir, "--defense", "none", "--watermark-soft", "0.9", "--watermark-soft-log", "0.3", "--watermark-log", softLog, "--key-file", keyFile, "--port", "0",
  ]);
  const box = httpBlackBox(server.url);
  const { TfjsClassifier } = await import("../../src/models/tfjs-model.js");
  const { loadModelFromDir } = await import("../../src/node/model-files.js");
  const { argmaxRows } = await import("../../src/models/argmax.js");
  const victim = new TfjsClassifier(await loadModelFromDir(victimDir), { outputs: "logits" });
  const probe = { data: pool.images.subarray(0, 256 * 784), batchSize: 256, inputShape: [28, 28, 1] };
  const served = argmaxRows(await box.predict(probe), 256, 10);
  const own = argmaxRows(await victim.predict(probe), 256, 10);
  victim.dispose();
  assert.equal(Array.from(served), Array.from(own), "soft marks keep every top-1");

  const thief = createThief("knockoff", { epochs: 30, optimizer: "adam", learningRate: 0.002 }, { buildSubstitute: (seed) => mlp(seed), pool });
  const stolen = await thief.steal(box, { budget: BUDGET, seed: 4 });
  const softStolen = join(dir, "soft-stolen");
  await saveModelToDir(stolen.model, softStolen);
  const logged = readWatermarkDir(softLog).entries;
  assert.ok(logged.every((e) => e.kind === "soft" && e.keying === "class" && e.label !== e.victimLabel));
  // About 0.3 of the 600 distinct queries (plus the probe's) are recorded.
  assert.ok(logged.length >= 150 && logged.length <= 320, `${logged.length} soft marks recorded`);
  const verify = async (suspect: string) => {
    const r = await cli(["verify", "--watermark-log", softLog, "--suspect", suspect, "--json"]);
    assert.is(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { queries: number; verdict: string; pValue: number; softClass: { matches: number; queries: number } | null; label: unknown };
  };
  const [onStolen, onIndependent] = await Promise.all([verify(softStolen), verify(independentDir)]);
  console.log(`  soft marks: stolen ${JSON.stringify(onStolen)}; independent ${JSON.stringify(onIndependent)}`);
  assert.is(onStolen.label, null);
  // Distinct inputs only (the probe's 256 were asked again by the thief), at most 200.
  assert.ok(onStolen.queries >= 150 && onStolen.queries <= 200, `${onStolen.queries} verification queries`);
  assert.is(onStolen.verdict, "stolen");
  assert.is(onIndependent.verdict, "no evidence");
  server.child.kill("SIGTERM");
});

test("verify: clear errors for a missing or empty log, an unreachable suspect, a suspect of the wrong shape", async () => {
  const empty = join(dir, "empty");
  mkdirSync(empty, { recursive: true });
  const wrongShape = join(dir, "wrong");
  await saveModelToDir(buildModel({ arch: "mlp", numClasses: 10, inputShape: [8, 8, 1], seed: 1 }), wrongShape);
  const [missing, none, unreachable, shape, neither] = await Promise.all([
    cli(["verify", "--watermark-log", join(dir, "nope"), "--suspect", independentDir]),
    cli(["verify", "--watermark-log", empty, "--suspect", independentDir]),
    cli(["verify", "--watermark-log", logDir, "--suspect", "http://127.0.0.1:1"]),
    cli(["verify", "--watermark-log", logDir, "--suspect", wrongShape]),
    cli(["verify", "--suspect", independentDir]),
  ]);
  assert.is(missing.code, 1);
  assert.match(missing.stderr, /no such directory/);
  assert.is(none.code, 1);
  assert.match(none.stderr, /no log files/);
  assert.is(unreachable.code, 1);
  assert.match(unreachable.stderr, /cannot reach it/);
  assert.is(shape.code, 1);
  assert.match(shape.stderr, /shape \[8,8,1\]/);
  assert.is(neither.code, 2);
  const noLog = await cli(["serve", "--model", victimDir, "--defense", "none", "--watermark", "0.05", "--port", "0"]);
  assert.is(noLog.code, 2);
  assert.match(noLog.stderr, /--watermark-log/);
});

needs("redis-server", test)("watermark in Redis: serve --watermark --redis (no budget) logs to the shared list; verify --redis reads it", async () => {
  const redis = await startRedis();
  if (!redis) throw new Error("redis-server did not start");
  try {
    const server = await serve(["--model", victimDir, "--defense", "none", "--watermark", "0.2", "--redis", redis.url, "--key-file", keyFile, "--workers", "1", "--port", "0"]);
    await httpBlackBox(server.url).predict({ data: pool.images.subarray(0, 100 * 784), batchSize: 100, inputShape: [28, 28, 1] });
    const r = await cli(["verify", "--redis", redis.url, "--suspect", server.url, "--json"]);
    assert.is(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { queries: number; matches: number; verdict: string };
    console.log(`  redis: ${r.stdout.trim()}`);
    assert.ok(out.queries >= 8 && out.queries <= 40, `${out.queries} watermarked of 100 at rate 0.2`);
    assert.is(out.matches, out.queries);
    assert.is(out.verdict, "stolen");
    server.child.kill("SIGTERM");
  } finally {
    await redis.stop();
  }
});

test.run();
