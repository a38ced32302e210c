// End to end with the real stack: a small MLP quickly trained on 512 digits is saved to a temporary
// directory, then `prediction-poisoning serve` runs it behind keyed mad-argmax (2 worker threads, each with
// its own WASM backend, sharing the key file serve creates) and behind `none`, as child processes. Checks
// the properties the service promises.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "../../src/models/backend.js";
import { loadMnist, subset } from "../../src/models/datasets.js";
import { softLabels, trainModel } from "../../src/models/training.js";
import { buildModel } from "../../src/models/zoo.js";
import { saveModelToDir } from "../../src/node/model-files.js";
import { encodeFloat32Base64 } from "../../src/service/schema.js";
import { startServe } from "./serve-process.js";

const dir = mkdtempSync(join(tmpdir(), "pp-serve-"));
const modelDir = join(dir, "mlp");
const EPSILON = 0.5;
let digits: Float32Array;
const servers: ChildProcess[] = [];

const serve = (args: string[]) => startServe(args, servers);

const KEY = { "x-api-key": "tester" };

async function predict(url: string, count: number) {
  const res = await fetch(`${url}/v1/predict`, {
    method: "POST",
    headers: { "content-type": "application/json", ...KEY },
    body: JSON.stringify({ data: encodeFloat32Base64(digits.subarray(0, count * 784)), shape: [count, 28, 28, 1] }),
  });
  assert.is(res.status, 200);
  const text = await res.text();
  return { text, body: JSON.parse(text) as { probabilities: number[][]; labels: number[] }, headers: JSON.stringify([...res.headers]) };
}

test.before(async () => {
  await initBackend();
  const { train, test: held } = loadMnist({ seed: 0 });
  const small = subset(train, Array.from({ length: 512 }, (_, i) => i));
  const model = buildModel({ arch: "mlp", numClasses: 10, inputShape: [28, 28, 1], seed: 1 });
  await trainModel(model, softLabels(small), { epochs: 1, batchSize: 64, optimizer: "adam", learningRate: 0.002, seed: 1 });
  await saveModelToDir(model, modelDir);
  digits = held.images.slice(0, 12 * 784);
});

test.after(() => {
  for (const s of servers) if (s.exitCode === null) s.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

test("serve: keyed mad-argmax keeps every top-1 label, stays within epsilon, hides y and the key, is deterministic across workers", async () => {
  // The config file says `none` on port 1; the flags override both (flags win over the file).
  const config = join(dir, "serve.json");
  writeFileSync(config, JSON.stringify({ model: modelDir, defense: "none", port: 1, workers: 2, "proxy-arch": "lenet", budget: 40, "access-log": true }));
  const keys = join(dir, "keys.txt");
  writeFileSync(keys, "# issued keys\ntester\n");
  const keyFile = join(dir, "keys", "defense.key");
  const mad = await serve([
    "--config", config, "--defense", "mad-argmax", "--epsilon", String(EPSILON), "--key-mix", "0.5", "--key-file", keyFile, "--public-params",
    "--port", "0", "--api-keys", keys,
  ]);
  const none = await serve(["--model", modelDir, "--defense", "none", "--port", "0", "--workers", "1"]);

  const infoText = await (await fetch(`${mad.url}/v1/model`)).text();
  const info = JSON.parse(infoText) as { inputShape: number[]; numClasses: number; defense: { name: string; keyed: boolean; params: Record<string, unknown> } };
  assert.equal(info.inputShape, [28, 28, 1]);
  assert.is(info.numClasses, 10);
  assert.is(info.defense.name, "mad-argmax");
  assert.is(info.defense.keyed, true);
  assert.is(info.defense.params.epsilon, EPSILON, "--public-params publishes ε");
  assert.is(info.defense.params.keyMix, 0.5);
  assert.not.ok("key" in info.defense.params);
  // serve created the key file (mode 0600) on first start; the key is nowhere the clients or the logs see.
  assert.is(statSync(keyFile).mode & 0o777, 0o600);
  const secret = readFileSync(keyFile, "utf8").trim();
  assert.match(secret, /^[0-9a-f]{64}$/);
  assert.not.ok(infoText.includes(secret), "the key in /v1/model");
  assert.match(mad.stderr(), /defense key: created .*defense\.key/);

  const truth = await predict(none.url, 12); // `none` answers y itself
  const [a, b, c] = await Promise.all([predict(mad.url, 12), predict(mad.url, 12), predict(mad.url, 12)]);
  assert.equal(a.body.labels, truth.body.labels, "top-1 labels preserved");
  assert.equal(b.text, a.text, "same query, same answer, whichever worker served it");
  assert.equal(c.text, a.text);
  let moved = 0;
  a.body.probabilities.forEach((row, i) => {
    const y = truth.body.probabilities[i];
    const sum = row.reduce((s, p) => s + p, 0);
    assert.ok(Math.abs(sum - 1) < 1e-4, `row ${i} sums to ${sum}`);
    assert.ok(row.every((p) => p >= 0 && Number.isFinite(p)));
    assert.is(a.body.labels[i], row.indexOf(Math.max(...row)));
    const l1 = row.reduce((s, p, k) => s + Math.abs(p - y[k]), 0);
    assert.ok(l1 <= EPSILON + 1e-4, `row ${i}: L1 ${l1} over epsilon`);
    if (l1 > 1e-3) moved++;
    // None of y's values (as the API would print them) appears in the defended answer or its headers.
    for (const p of y) if (p > 1e-3) assert.not.ok(a.text.includes(String(p)) || a.headers.includes(String(p)), `y value ${p} leaked`);
  });
  assert.ok(moved >= 6, `only ${moved} of 12 answers were perturbed`);

  const metrics = await (await fetch(`${mad.url}/metrics`)).text();
  const meanL1 = Number(/^pp_perturbation_l1_mean (\S+)$/m.exec(metrics)![1]);
  assert.ok(meanL1 > 0 && meanL1 <= EPSILON + 1e-4, `mean L1 ${meanL1}`);
  assert.match(metrics, /^pp_queries_total 36$/m);
  assert.match(metrics, /^pp_workers_ready 2$/m);

  // Bad input reaches neither the model nor a crash: a 400 naming the field, then normal service.
  const bad = await fetch(`${mad.url}/v1/predict`, { method: "POST", headers: KEY, body: JSON.stringify({ data: encodeFloat32Base64(new Float32Array(784).fill(NaN)), shape: [1, 28, 28, 1] }) });
  assert.is(bad.status, 400);
  assert.is(((await bad.json()) as { error: { field: string } }).error.field, "data");
  await predict(mad.url, 1);
  // The budget of 40 inputs per key (from the config file): 37 spent, 12 more are refused; unknown keys are refused.
  const spent = await fetch(`${mad.url}/v1/predict`, { method: "POST", headers: KEY, body: JSON.stringify({ data: encodeFloat32Base64(digits), shape: [12, 28, 28, 1] }) });
  assert.is(spent.status, 429);
  assert.is(spent.headers.get("x-budget-remaining"), "3");
  assert.is((await fetch(`${mad.url}/v1/predict`, { method: "POST", headers: { "x-api-key": "guess" }, body: "{}" })).status, 401);
  // The access log: one JSON line per request, without inputs or probabilities.
  const entries = mad.stdout().trim().split("\n").slice(1).map((l) => JSON.parse(l) as { status: number; rows?: number });
  assert.equal(entries.map((e) => e.status).filter((st) => st !== 200), [400, 429, 401]);
  assert.ok(entries.some((e) => e.rows === 12));

  for (const s of [mad, none]) {
    const exited = new Promise<number | null>((resolve) => s.child.once("exit", (code) => resolve(code)));
    s.child.kill("SIGTERM");
    assert.is(await exited, 0, "graceful exit on SIGTERM");
    for (const p of truth.body.probabilities.flat()) if (p > 1e-3) assert.not.ok((s.stderr() + s.stdout()).includes(String(p)), "y in the server's log");
    assert.not.ok((s.stderr() + s.stdout()).includes(secret), "the key in the server's log");
  }
  assert.not.ok(metrics.includes(secret), "the key in /metrics");
});

test("serve: grad2 (a scratch surrogate of --proxy-arch) and a modelguard-s>grad2 chain answer within their budgets", async () => {
  const none = await serve(["--model", modelDir, "--defense", "none", "--port", "0", "--workers", "1"]);
  const grad2 = await serve(["--model", modelDir, "--defense", "grad2", "--epsilon", "0.4", "--proxy-arch", "mlp", "--port", "0", "--workers", "1"]);
  const chain = await serve([
    "--model", modelDir, "--defense", "modelguard-s>grad2", "--param", "modelguard-s.epsilon=0.1", "--param", "grad2.epsilon=0.4",
    "--proxy-arch", "mlp", "--port", "0", "--workers", "1",
  ]);
  const truth = await predict(none.url, 12);
  const [a, b] = [await predict(grad2.url, 12), await predict(grad2.url, 12)];
  assert.equal(b.text, a.text, "deterministic");
  let moved = 0;
  a.body.probabilities.forEach((row, i) => {
    const y = truth.body.probabilities[i];
    assert.ok(Math.abs(row.reduce((x, p) => x + p, 0) - 1) < 1e-4);
    const l1 = row.reduce((x, p, k) => x + Math.abs(p - y[k]), 0);
    assert.ok(l1 <= 0.4 + 1e-4, `row ${i}: L1 ${l1}`);
    if (l1 > 1e-3) moved++;
  });
  assert.ok(moved >= 6, `grad2 moved only ${moved} of 12 answers`);
  // The chain's budgets add up: ModelGuard-S moves y by at most 0.1, GRAD² that answer by at most 0.4.
  const info = (await (await fetch(`${chain.url}/v1/model`)).json()) as { defense: { name: string; traits: { keepsTop1: boolean } } };
  assert.is(info.defense.name, "modelguard-s>grad2");
  assert.is(info.defense.traits.keepsTop1, false);
  const c = await predict(chain.url, 12);
  c.body.probabilities.forEach((row, i) => {
    const l1 = row.reduce((x, p, k) => x + Math.abs(p - truth.body.probabilities[i][k]), 0);
    assert.ok(l1 <= 0.5 + 1e-4, `chain row ${i}: L1 ${l1}`);
  });
  for (const s of servers) if (s.exitCode === null) s.kill("SIGTERM");
});

test("serve: adaptive-misinformation with models from `train --kind`; without --misinformation-model it refuses to start", async () => {
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", "src/cli/index.ts", ...args], { stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr!.on("data", (d) => (stderr += d));
      child.once("exit", (code) => resolve({ code, stderr }));
    });
  const missing = await run(["serve", "--model", modelDir, "--defense", "adaptive-misinformation", "--port", "0"]);
  assert.is(missing.code, 2);
  assert.match(missing.stderr, /--misinformation-model/);
  for (const kind of ["misinformation", "outlier-exposed"]) {
    const trained = await run(["train", "--kind", kind, "--arch", "mlp", "--epochs", "1", "--train-count", "300", "--out", join(dir, kind)]);
    assert.is(trained.code, 0, trained.stderr);
  }
  const none = await serve(["--model", modelDir, "--defense", "none", "--port", "0", "--workers", "1"]);
  const am = await serve([
    "--model", modelDir, "--defense", "adaptive-misinformation", "--tau", "0.99",
    "--misinformation-model", join(dir, "misinformation"), "--scorer-model", join(dir, "outlier-exposed"), "--port", "0", "--workers", "1",
  ]);
  const truth = await predict(none.url, 12);
  const answer = await predict(am.url, 12);
  assert.equal((await predict(am.url, 12)).text, answer.text, "deterministic");
  let misinformed = 0;
  answer.body.probabilities.forEach((row, i) => {
    assert.ok(Math.abs(row.reduce((x, p) => x + p, 0) - 1) < 1e-4);
    if (row.some((p, k) => Math.abs(p - truth.body.probabilities[i][k]) > 1e-3)) misinformed++;
  });
  // τ = 0.99 against a one-epoch scorer: most of these digits score below it and get the misinformation model's answer.
  assert.ok(misinformed >= 6, `only ${misinformed} of 12 answers changed`);
  for (const s of servers) if (s.exitCode === null) s.kill("SIGTERM");
});

test.run();
