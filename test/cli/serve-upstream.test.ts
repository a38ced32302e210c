// `serve --upstream` as a sidecar in front of real model servers, all child processes: a KServe v2 server, a
// TF Serving-shaped server and a home-grown JSON API (Basic auth and a token in the query), each a Python
// standard-library script in test/fixtures/upstreams/ computing a fixed linear model the test computes too.
// Checks: mad-argmax keeps the upstream's own top-1 and answers on the simplex within ε; what is forwarded in
// each protocol; the KServe v2 face (--protocol kserve-v2); every failure (down, slow, HTTP 500, not JSON, NaN,
// wrong K or rows, negative or unnormalised probabilities) is a 502/504 naming it, without the upstream's
// values, with the budget refunded; the upstream's credentials are never shown; bad flag combinations exit 2.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { needs, toolAvailable } from "../tools.js";
import { startServe } from "./serve-process.js";
import type { ServeProcess } from "./serve-process.js";

const run = needs("python3", test);
const children: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), "pp-serve-upstream-"));
const keysFile = join(dir, "keys.txt");
const KEY = { "x-api-key": "tester" };
const EPSILON = 0.5;
const TIMEOUT_MS = 1000;
const SECRET_PASSWORD = "s3cret-pw-9f2c";
const SECRET_TOKEN = "tok-abc123-77e1";

// The fixed linear model of test/fixtures/upstreams/linear_model.py: 4 x 4 x 1 inputs, 4 classes.
const D = 16;
const K = 4;
const logitsOf = (x: readonly number[]) => Array.from({ length: K }, (_, k) => x.reduce((s, v, d) => s + ((((k + 1) * (d + 2)) % 7) - 3) / 4 * v, k / 4));
const softmax = (z: readonly number[]) => {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
const argmax = (row: readonly number[]) => row.indexOf(Math.max(...row));

// Six seeded inputs, multiples of 1/64 (exact in float32 and in JSON), each with a clear top-1.
const inputs: number[][] = [];
for (let seed = 7; inputs.length < 6; seed++) {
  let x = seed;
  const row = Array.from({ length: D }, () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0), Math.round((x / 2 ** 32) * 64) / 64));
  const z = [...logitsOf(row)].sort((a, b) => b - a);
  if (z[0] - z[1] > 0.1) inputs.push(row);
}
const nested = (x: readonly number[]) => Array.from({ length: 4 }, (_, i) => Array.from({ length: 4 }, (_, j) => [x[i * 4 + j]]));
const truth = inputs.map((x) => softmax(logitsOf(x)));
/** The upstream's raw values as its JSON would print them (those with digits enough not to occur by chance). */
const rawValues = inputs.flatMap((x) => [...logitsOf(x), ...softmax(logitsOf(x))]).map(String).filter((s) => s.replace(/\D/g, "").length >= 4);

interface Upstream {
  readonly url: string;
  readonly child: ChildProcess;
}

// The interpreter itself: a version manager's python3 shim may run it as a child, which a kill would miss.
let python = "python3";

function startUpstream(script: string, args: string[] = []): Promise<Upstream> {
  const child = spawn(python, ["-B", join("test/fixtures/upstreams", script), "0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let out = "";
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /listening on (\d+)/.exec(out);
      if (m) resolve({ url: `http://127.0.0.1:${m[1]}`, child });
    });
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}: ${err}`)));
  });
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
const setMode = async (upstream: Upstream, mode: string) => assert.is((await post(`${upstream.url}/control`, { mode })).status, 200);
const lastQuery = async (upstream: Upstream) =>
  (await (await fetch(`${upstream.url}/control/last`)).json()) as { path: string; query: string; authorization: string | null; body: Record<string, unknown> };

interface Answer {
  status: number;
  text: string;
  headers: Headers;
  body: { probabilities: number[][]; labels: number[]; error: { kind: string; message: string; reason?: string } };
}
async function predict(sidecar: ServeProcess, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await post(`${sidecar.url}/v1/predict`, { inputs: inputs.map(nested) }, headers);
  const text = await res.text();
  return { status: res.status, text, headers: res.headers, body: JSON.parse(text) };
}

/** Every row on the simplex, the upstream's own top-1 kept, within ε of the upstream's answer; returns how many moved. */
function checkDefended(answer: Answer): number {
  assert.is(answer.status, 200, answer.text);
  let moved = 0;
  answer.body.probabilities.forEach((row, i) => {
    assert.ok(row.every((p) => p >= 0 && Number.isFinite(p)), `row ${i} off the simplex`);
    assert.ok(Math.abs(row.reduce((s, p) => s + p, 0) - 1) < 1e-4, `row ${i} does not sum to 1`);
    assert.is(answer.body.labels[i], argmax(truth[i]), `row ${i}: top-1 changed`);
    const l1 = row.reduce((s, p, k) => s + Math.abs(p - truth[i][k]), 0);
    assert.ok(l1 <= EPSILON + 1e-4, `row ${i}: L1 ${l1} over ε`);
    if (l1 > 1e-3) moved++;
  });
  return moved;
}

function assertNoRawValues(text: string, what: string): void {
  for (const v of rawValues) assert.not.ok(text.includes(v), `${what} carries the upstream's value ${v}: ${text}`);
}

let kserveUpstream: Upstream;
let tfUpstream: Upstream;
let jsonUpstream: Upstream;
let kserveSidecar: ServeProcess;
let tfSidecar: ServeProcess;
let jsonSidecar: ServeProcess;

const common = ["--input-shape", "4,4,1", "--num-classes", "4", "--proxy-arch", "mlp", "--workers", "1", "--port", "0",
  "--upstream-timeout", String(TIMEOUT_MS), "--defense", "mad-argmax", "--epsilon", String(EPSILON)];

test.before(async () => {
  if (!toolAvailable("python3")) return;
  python = spawnSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).stdout.trim() || "python3";
  writeFileSync(keysFile, "tester\n");
  [kserveUpstream, tfUpstream, jsonUpstream] = await Promise.all([
    startUpstream("kserve_v2.py"),
    startUpstream("tfserving.py"),
    startUpstream("json_api.py", [`user:${SECRET_PASSWORD}`, SECRET_TOKEN]),
  ]);
  const jsonUrl = new URL(`${jsonUpstream.url}/predict?token=${SECRET_TOKEN}`);
  jsonUrl.username = "user";
  jsonUrl.password = SECRET_PASSWORD;
  [kserveSidecar, tfSidecar, jsonSidecar] = await Promise.all([
    startServe([...common, "--upstream", kserveUpstream.url, "--upstream-protocol", "kserve-v2", "--upstream-model", "linear",
      "--protocol", "kserve-v2", "--api-keys", keysFile, "--budget", "1000", "--access-log"], children),
    startServe([...common, "--upstream", tfUpstream.url, "--upstream-protocol", "tfserving", "--upstream-model", "linear", "--outputs", "probabilities"], children),
    startServe([...common, "--upstream", jsonUrl.toString(), "--upstream-protocol", "json"], children),
  ]);
});

test.after(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

run("kserve-v2 upstream: the upstream's own top-1 kept, on the simplex within ε; a v2 tensor forwarded; the KServe v2 face", async () => {
  // The upstream is the linear model the test computes.
  const direct = (await (await post(`${kserveUpstream.url}/v2/models/linear/infer`, {
    inputs: [{ name: "input", shape: [6, 4, 4, 1], datatype: "FP32", data: inputs.flat() }],
  })).json()) as { outputs: { data: number[] }[] };
  direct.outputs[0].data.forEach((z, i) => assert.ok(Math.abs(z - logitsOf(inputs[Math.floor(i / K)])[i % K]) < 1e-9));

  const answer = await predict(kserveSidecar, KEY);
  assert.ok(checkDefended(answer) >= 3, "mad-argmax moved too few answers");
  const last = await lastQuery(kserveUpstream);
  assert.is(last.path, "/v2/models/linear/infer");
  assert.equal(last.body.inputs, [{ name: "input", shape: [6, 4, 4, 1], datatype: "FP32", data: inputs.flat() }]);

  // The same query in KServe v2 form gets the same defended answer in KServe v2 form.
  const v2 = await post(`${kserveSidecar.url}/v2/models/linear/infer`, { id: "q-1", inputs: [{ name: "input", shape: [6, 4, 4, 1], datatype: "FP32", data: inputs.flat() }] }, KEY);
  assert.is(v2.status, 200);
  const v2Body = (await v2.json()) as Record<string, unknown>;
  assert.equal(v2Body, { model_name: "linear", id: "q-1", outputs: [{ name: "probabilities", shape: [6, 4], datatype: "FP32", data: answer.body.probabilities.flat() }] });
  const ready = await fetch(`${kserveSidecar.url}/v2/health/ready`);
  assert.is(ready.status, 200);
  assert.equal(await ready.json(), { ready: true });
  const meta = (await (await fetch(`${kserveSidecar.url}/v2/models/linear`)).json()) as { name: string; inputs: { shape: number[] }[]; outputs: { shape: number[] }[] };
  assert.is(meta.name, "linear");
  assert.equal(meta.inputs[0].shape, [-1, 4, 4, 1]);
  assert.equal(meta.outputs[0].shape, [-1, 4]);
  const unknown = await fetch(`${kserveSidecar.url}/v2/models/other`);
  assert.is(unknown.status, 404);
  assert.match(((await unknown.json()) as { error: string }).error, /no model named "other"/);
  const bad = await post(`${kserveSidecar.url}/v2/models/linear/infer`, { inputs: [{ name: "input", shape: [1, 4, 4, 3], datatype: "FP32", data: [] }] }, KEY);
  assert.is(bad.status, 400);
  assert.match(((await bad.json()) as { error: string }).error, /^inputs\[0\]\.shape\[3\]: expected 1/);

  const infoText = await (await fetch(`${kserveSidecar.url}/v1/model`)).text();
  const info = JSON.parse(infoText) as { upstream: Record<string, unknown>; inputShape: number[]; numClasses: number };
  assert.equal(info.upstream, { protocol: "kserve-v2", url: `${kserveUpstream.url}/`, model: "linear", outputs: "logits", timeoutMs: TIMEOUT_MS });
  assert.equal(info.inputShape, [4, 4, 1]);
  assert.is(info.numClasses, 4);
  assert.not.ok(/seed/i.test(infoText), "the proxy seed in /v1/model");
});

run("upstream failures: 502 or 504 naming what was wrong, none of the upstream's values, the budget refunded, then normal service", async () => {
  const before = await predict(kserveSidecar, KEY);
  assert.is(before.status, 200);
  const remaining = before.headers.get("x-budget-remaining");
  const cases: [mode: string, status: number, kind: string, reason: string | undefined, message: RegExp][] = [
    ["http500", 502, "bad_upstream", "status", /answered HTTP 500/],
    ["garbage", 502, "bad_upstream", "not_json", /answer is not JSON$/],
    ["nan", 502, "bad_upstream", "not_json", /not JSON \(it contains NaN or Infinity/],
    ["wrong-k", 502, "bad_upstream", "malformed", /outputs\[0\]\.shape is \[6, 5\], expected \[6, 4\]/],
    ["wrong-rows", 502, "bad_upstream", "malformed", /outputs\[0\]\.shape is \[5, 4\], expected \[6, 4\]/],
    ["string", 502, "bad_upstream", "malformed", /outputs\[0\]\.data\[1\] is a string, not a number/],
    ["slow", 504, "upstream_timeout", undefined, new RegExp(`did not answer within ${TIMEOUT_MS} ms`)],
  ];
  for (const [mode, status, kind, reason, message] of cases) {
    await setMode(kserveUpstream, mode);
    const started = Date.now();
    const answer = await predict(kserveSidecar, KEY);
    const ms = Date.now() - started;
    assert.is(answer.status, status, `${mode}: ${answer.text}`);
    assert.equal(Object.keys(answer.body), ["error"], `${mode}: only an error`);
    assert.is(answer.body.error.kind, kind);
    assert.is(answer.body.error.reason, reason);
    assert.match(answer.body.error.message, message);
    assertNoRawValues(answer.text, mode);
    assert.is(answer.headers.get("x-budget-remaining"), remaining, `${mode}: the failed query's inputs are refunded`);
    if (mode === "slow") assert.ok(ms >= TIMEOUT_MS - 50 && ms < TIMEOUT_MS + 1500, `504 after ${ms} ms`);
  }
  // The KServe v2 face reports failures in its own error format.
  await setMode(kserveUpstream, "http500");
  const v2 = await post(`${kserveSidecar.url}/v2/models/linear/infer`, { inputs: [{ name: "input", shape: [6, 4, 4, 1], datatype: "FP32", data: inputs.flat() }] }, KEY);
  assert.is(v2.status, 502);
  assert.equal(await v2.json(), { error: "the upstream model server answered HTTP 500" });

  await setMode(kserveUpstream, "ok");
  const after = await predict(kserveSidecar, KEY);
  checkDefended(after);
  assert.is(Number(after.headers.get("x-budget-remaining")), Number(remaining) - 6, "only the answered query is spent");
  const metrics = await (await fetch(`${kserveSidecar.url}/metrics`)).text();
  assert.match(metrics, /^pp_errors_total\{kind="bad_upstream"\} 7$/m);
  assert.match(metrics, /^pp_errors_total\{kind="upstream_timeout"\} 1$/m);
  assertNoRawValues(metrics, "/metrics");
  // The access log names the failure for the operator, without values either.
  const log = kserveSidecar.stdout().trim().split("\n").slice(1).map((l) => JSON.parse(l) as { status: number; error?: string; detail?: string });
  assert.ok(log.some((e) => e.status === 502 && e.error === "bad_upstream" && /shape is \[6, 5\]/.test(e.detail ?? "")));
  assertNoRawValues(kserveSidecar.stdout() + kserveSidecar.stderr(), "the logs");
});

run("tfserving upstream (probabilities): top-1 kept, instances forwarded as nested arrays; negative or unnormalised probabilities are a 502", async () => {
  const direct = (await (await post(`${tfUpstream.url}/v1/models/linear:predict`, { instances: inputs.map(nested) })).json()) as { predictions: number[][] };
  direct.predictions.forEach((row, i) => row.forEach((p, k) => assert.ok(Math.abs(p - truth[i][k]) < 1e-9)));
  assert.ok(checkDefended(await predict(tfSidecar)) >= 3);
  const last = await lastQuery(tfUpstream);
  assert.is(last.path, "/v1/models/linear:predict");
  assert.equal(last.body, { instances: inputs.map(nested) });
  for (const [mode, message] of [
    ["negative", /predictions\[0\]\[1\] is a negative probability/],
    ["not-simplex", /row 0 of probabilities does not sum to 1/],
    ["wrong-rows", /predictions has 5 rows, expected 6/],
  ] as const) {
    await setMode(tfUpstream, mode);
    const answer = await predict(tfSidecar);
    assert.is(answer.status, 502, answer.text);
    assert.match(answer.body.error.message, message);
    assertNoRawValues(answer.text, mode);
  }
  await setMode(tfUpstream, "ok");
  checkDefended(await predict(tfSidecar));
});

run("json upstream: credentials and token forwarded but never shown; down (connection refused) is a 502", async () => {
  // The upstream answers only with its Basic auth and token: a 200 shows both were forwarded.
  assert.ok(checkDefended(await predict(jsonSidecar)) >= 3);
  const last = await lastQuery(jsonUpstream);
  assert.is(last.path, "/predict");
  assert.is(last.query, `token=${SECRET_TOKEN}`);
  assert.is(last.authorization, `Basic ${Buffer.from(`user:${SECRET_PASSWORD}`).toString("base64")}`);
  assert.equal(last.body, { inputs: inputs.map(nested) });
  const infoText = await (await fetch(`${jsonSidecar.url}/v1/model`)).text();
  assert.equal((JSON.parse(infoText) as { upstream: unknown }).upstream, { protocol: "json", url: `${jsonUpstream.url}/predict`, model: null, outputs: "as answered", timeoutMs: TIMEOUT_MS });

  const exited = new Promise((resolve) => jsonUpstream.child.once("exit", resolve));
  jsonUpstream.child.kill("SIGKILL");
  await exited;
  const down = await predict(jsonSidecar);
  assert.is(down.status, 502);
  assert.equal(down.body.error, { kind: "bad_upstream", message: "the upstream model server cannot be reached (connection refused)", reason: "unreachable" });
  const metrics = await (await fetch(`${jsonSidecar.url}/metrics`)).text();
  for (const text of [infoText, metrics, down.text, jsonSidecar.stdout(), jsonSidecar.stderr()]) {
    assert.not.ok(text.includes(SECRET_PASSWORD) || text.includes(SECRET_TOKEN), `a secret shown: ${text.slice(0, 300)}`);
  }
});

test("serve --help lists the sidecar flags; bad combinations exit 2 with the reason before anything starts", async () => {
  const cli = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", "src/cli/index.ts", "serve", ...args], { stdio: ["ignore", "pipe", "pipe"] });
      children.push(child);
      let stdout = "";
      let stderr = "";
      child.stdout!.on("data", (d) => (stdout += d));
      child.stderr!.on("data", (d) => (stderr += d));
      child.once("exit", (code) => resolve({ code, stdout, stderr }));
    });
  const up = ["--upstream", "http://127.0.0.1:9", "--upstream-protocol", "tfserving", "--upstream-model", "m"];
  const cases: [args: string[], message: RegExp][] = [
    [[...up, "--input-shape", "4,4,1", "--num-classes", "4", "--model", "demo"], /--upstream and --model are two different victims/],
    [[...up, "--num-classes", "4"], /--upstream needs --input-shape H,W,C/],
    [[...up, "--input-shape", "4,4,1"], /--upstream needs --num-classes N/],
    [["--upstream", "http://127.0.0.1:9", "--upstream-protocol", "kserve-v2", "--input-shape", "4,4,1", "--num-classes", "4"], /addresses the model by name: give --upstream-model/],
    [["--upstream", "http://127.0.0.1:9", "--input-shape", "4,4,1", "--num-classes", "4"], /--upstream needs --upstream-protocol/],
    [["--input-shape", "4,4,1", "--num-classes", "4"], /--input-shape, --num-classes apply only with --upstream/],
    [[...up, "--input-shape", "4,4,1", "--num-classes", "4", "--upstream-timeout", "5000", "--job-timeout", "5000"], /--upstream-timeout 5000 must be below --job-timeout 5000/],
  ];
  const [help, ...results] = await Promise.all([cli(["--help"]), ...cases.map(([args]) => cli(args))]);
  assert.is(help.code, 0);
  for (const flag of ["--upstream <url>", "--upstream-protocol", "--upstream-model", "--upstream-timeout", "--input-shape", "--num-classes", "--protocol", "--outputs"]) {
    assert.ok(help.stdout.includes(flag), `--help lacks ${flag}`);
  }
  results.forEach((r, i) => {
    assert.is(r.code, 2, `${cases[i][0].join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, cases[i][1]);
    assert.not.ok(r.stdout.includes("listening"));
  });
});

test.run();
