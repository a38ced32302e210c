// `prediction-poisoning serve` under operational stress, measured from outside as child processes over a
// tiny untrained MLP: a flood against a bounded queue (503 + Retry-After, admitted queries all 200, the
// queue and memory bounded, the server up); SIGTERM while an accepted upload is still arriving (answered,
// /healthz 503 "draining" meanwhile, exit 0); API keys enforced without a budget; float32 overflow with
// --input-range none; --outputs probabilities on a logits model refused at start; /metrics through
// `promtool check metrics` (skipped, not passed, when promtool is not installed).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import http from "node:http";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "../../src/models/backend.js";
import { buildModel } from "../../src/models/zoo.js";
import { saveModelToDir } from "../../src/node/model-files.js";
import { encodeFloat32Base64 } from "../../src/service/schema.js";

const dir = mkdtempSync(join(tmpdir(), "pp-serve-ops-"));
const modelDir = join(dir, "mlp");
const keysFile = join(dir, "keys.txt");
const children: ChildProcess[] = [];

interface Served {
  url: string;
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

function serve(args: string[]): Promise<Served> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/index.ts", "serve", "--model", modelDir, "--port", "0", "--workers", "1", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve({ url: m[1], child, stderr: () => err, exited });
    });
    void exited.then((code) => reject(new Error(`serve exited with ${code}: ${err}`)));
  });
}

/** Runs serve expecting it to refuse to start; resolves with its exit code and stderr ("listening" if it started). */
async function serveFails(args: string[]): Promise<{ code: number | null | "listening"; stderr: string }> {
  const s = serve(args);
  const child = children.at(-1)!;
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null | "listening">((resolve) => {
    child.once("exit", resolve);
    s.then(
      () => resolve("listening"),
      () => {},
    );
  });
  if (code === "listening") child.kill("SIGKILL");
  return { code, stderr };
}

const rssBytes = (pid: number): number => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024;
const metric = (text: string, name: string): number => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)![1]);

/** B digits of seeded noise as the base64 body form. */
function body(rows: number, seed = 1): string {
  const data = new Float32Array(rows * 784);
  let x = seed;
  for (let i = 0; i < data.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    data[i] = x / 2 ** 32;
  }
  return JSON.stringify({ data: encodeFloat32Base64(data), shape: [rows, 28, 28, 1] });
}

const predict = (url: string, text: string, headers: Record<string, string> = {}) =>
  fetch(`${url}/v1/predict`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: text });

test.before(async () => {
  await initBackend();
  const model = buildModel({ arch: "mlp", numClasses: 10, inputShape: [28, 28, 1], seed: 1 });
  await saveModelToDir(model, modelDir);
  model.dispose();
  writeFileSync(keysFile, "# issued keys\nalice\n");
});

test.after(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

test("a flood against one worker with --max-queue 64: 503 + Retry-After when full, every admitted query 200, queue and memory bounded", async () => {
  const s = await serve(["--defense", "mad-argmax", "--epsilon", "1", "--max-queue", "64"]);
  const flood = body(64);
  for (let i = 0; i < 3; i++) assert.is((await predict(s.url, flood)).status, 200); // warm-up: kernels compiled
  const baseline = rssBytes(s.child.pid!);
  let peakRss = baseline;
  let peakQueue = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peakRss = Math.max(peakRss, rssBytes(s.child.pid!));
      const text = await (await fetch(`${s.url}/metrics`)).text();
      peakQueue = Math.max(peakQueue, metric(text, "pp_queue_rows"));
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  // 64 connections, 320 requests of 64 digits each.
  const statuses = new Map<number, number>();
  const bad: string[] = [];
  let closed = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < 320) {
        next++;
        const res = await predict(s.url, flood);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const text = await res.text();
        if (res.status === 503) {
          const error = (JSON.parse(text) as { error: { kind: string } }).error;
          if (res.headers.get("retry-after") !== "1" || error.kind !== "overloaded") bad.push(`${res.headers.get("retry-after")} ${text}`);
          // Refused before its body was read: the connection closes (after the answer: the client sees the 503, not a reset).
          if (res.headers.get("connection") === "close") closed++;
        } else if (res.status !== 200) bad.push(`${res.status} ${text}`);
      }
    }),
  );
  sampling = false;
  await sampler;
  console.log(`flood: ${JSON.stringify(Object.fromEntries(statuses))}, queue peak ${peakQueue} inputs, RSS +${((peakRss - baseline) / 2 ** 20).toFixed(0)} MB`);
  assert.equal(bad, [], "only 200s and 503 overloaded with Retry-After: 1");
  assert.ok((statuses.get(503) ?? 0) > 0, `no 503 in ${JSON.stringify([...statuses])}`);
  assert.ok(closed > 0.5 * (statuses.get(503) ?? 0), `${closed} of the 503s closed their connection`);
  assert.ok((statuses.get(200) ?? 0) > 0);
  assert.is((statuses.get(200) ?? 0) + (statuses.get(503) ?? 0), 320);
  assert.ok(peakQueue <= 64, `queue reached ${peakQueue} inputs`);
  assert.ok(peakRss - baseline < 200 * 2 ** 20, `resident memory grew by ${((peakRss - baseline) / 2 ** 20).toFixed(0)} MB`);
  // Still up and answering; the refusals are counted.
  assert.is((await fetch(`${s.url}/healthz`)).status, 200);
  assert.is((await predict(s.url, body(1))).status, 200);
  const text = await (await fetch(`${s.url}/metrics`)).text();
  assert.ok(metric(text, 'pp_errors_total\\{kind="overloaded"\\}') > 0);
  assert.is(metric(text, 'pp_errors_total\\{kind="internal"\\}'), 0);
  assert.match(s.stderr(), /queue of 64 inputs per worker/);
  s.child.kill("SIGTERM");
  assert.is(await s.exited, 0);
});

test("--api-keys alone is enforced; 1e39 with --input-range none is a 400; SIGTERM finishes an accepted upload, /healthz says draining, exit 0", async () => {
  const s = await serve(["--defense", "none", "--api-keys", keysFile, "--input-range", "none"]);
  const KEY = { "x-api-key": "alice" };
  // 2. Keys are enforced without --budget.
  for (const headers of [{}, { "x-api-key": "mallory" }] as Record<string, string>[]) {
    const res = await predict(s.url, body(1), headers);
    assert.is(res.status, 401);
    assert.is(((await res.json()) as { error: { field: string } }).error.field, "x-api-key");
  }
  assert.is((await predict(s.url, body(1), KEY)).status, 200);
  assert.not.match(s.stderr(), /takes effect only/);
  // 6. A double beyond float32 names its field.
  const nested = Array.from({ length: 28 }, () => Array.from({ length: 28 }, () => [0.5]));
  nested[3][4][0] = 1e39;
  const overflow = await predict(s.url, JSON.stringify({ inputs: [nested] }), KEY);
  assert.is(overflow.status, 400);
  assert.is(((await overflow.json()) as { error: { field: string } }).error.field, "inputs[0][3][4][0]");

  // 5. An upload under way when SIGTERM arrives.
  const text = body(8);
  const u = new URL(s.url);
  const req = http.request({ host: u.hostname, port: u.port, path: "/v1/predict", method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...KEY } });
  const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
    req.on("response", (res) => {
      let t = "";
      res.on("data", (d) => (t += d));
      res.on("end", () => resolve({ status: res.statusCode!, text: t }));
    });
    req.on("error", reject);
  });
  req.write(text.slice(0, 1000));
  await new Promise((r) => setTimeout(r, 200));
  s.child.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 300));
  const health = await fetch(`${s.url}/healthz`);
  assert.is(health.status, 503);
  assert.is(((await health.json()) as { status: string }).status, "draining");
  const late = await predict(s.url, body(1), KEY);
  assert.is(late.status, 503);
  req.end(text.slice(1000));
  const done = await answer;
  assert.is(done.status, 200, done.text);
  assert.is((JSON.parse(done.text) as { labels: number[] }).labels.length, 8);
  assert.is(await s.exited, 0);
});

test("--outputs probabilities on a logits model is refused at start; --budget without --api-keys is a usage error", async () => {
  const logits = await serveFails(["--outputs", "probabilities"]);
  assert.is(logits.code, 1);
  assert.match(logits.stderr, /--outputs probabilities, but the model's output on a probe input is not a probability distribution/);
  assert.match(logits.stderr, /logits model/);
  const budget = await serveFails(["--budget", "100"]);
  assert.is(budget.code, 2);
  assert.match(budget.stderr, /--budget counts inputs per API key: give the accepted keys with --api-keys/);
});

// promtool (Debian's prometheus package; .ci/run installs it) lints the exposition: decided at load, so a
// missing promtool is reported as a skip, never as a pass.
const promtool = spawnSync("which", ["promtool"], { stdio: "ignore" }).status === 0;
if (!promtool && process.env.PP_TEST_REQUIRE_TOOLS !== "1") console.log("SKIP: promtool not installed (apt-get install prometheus)");
(promtool || process.env.PP_TEST_REQUIRE_TOOLS === "1" ? test : test.skip)("promtool check metrics accepts a live /metrics", async () => {
  if (!promtool) throw new Error("promtool not installed (PP_TEST_REQUIRE_TOOLS=1)");
  const s = await serve(["--defense", "mad-argmax", "--epsilon", "1", "--api-keys", keysFile, "--detect", "prada"]);
  await predict(s.url, body(4), { "x-api-key": "alice" });
  await predict(s.url, body(1)); // 401
  const text = await (await fetch(`${s.url}/metrics`)).text();
  assert.match(text, /^pp_perturbation_l1_total /m);
  const check = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  assert.is(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
  s.child.kill("SIGTERM");
  assert.is(await s.exited, 0);
});

test.run();
