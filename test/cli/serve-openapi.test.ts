// GET /openapi.json from a real `prediction-poisoning serve` process (a tiny untrained MLP behind keyed
// mad-argmax, API keys, a budget and the KServe v2 routes): the document names every route, a body that its
// schema accepts is answered 200 and a body it rejects 400, the answer conforms to the answer's schema, and
// neither the API keys nor the defense key appear in it.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "../../src/models/backend.js";
import { buildModel } from "../../src/models/zoo.js";
import { saveModelToDir } from "../../src/node/model-files.js";
import { violation } from "../service/json-schema-check.js";
import { startServe } from "./serve-process.js";

const dir = mkdtempSync(join(tmpdir(), "pp-serve-openapi-"));
const modelDir = join(dir, "mlp");
const keysFile = join(dir, "keys.txt");
const keyFile = join(dir, "defense.key");
const servers: ChildProcess[] = [];

test.before(async () => {
  await initBackend();
  const model = buildModel({ arch: "mlp", numClasses: 10, inputShape: [28, 28, 1], seed: 1 });
  await saveModelToDir(model, modelDir);
  model.dispose();
  writeFileSync(keysFile, "issued-key-one\nissued-key-two\n");
});

test.after(() => {
  for (const s of servers) if (s.exitCode === null) s.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

test("serve answers GET /openapi.json: every route, request schemas that match what it accepts, no secrets", async () => {
  const s = await startServe(
    ["--model", modelDir, "--port", "0", "--workers", "1", "--defense", "mad-argmax", "--epsilon", "1", "--key-mix", "0.5", "--key-file", keyFile,
      "--api-keys", keysFile, "--budget", "100", "--protocol", "kserve-v2", "--model-name", "digits"],
    servers,
  );
  const res = await fetch(`${s.url}/openapi.json`);
  assert.is(res.status, 200);
  const text = await res.text();
  const doc = JSON.parse(text) as { openapi: string; paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, unknown> } };
  assert.is(doc.openapi, "3.1.0");
  assert.equal(Object.keys(doc.paths).sort(), [
    "/healthz", "/metrics", "/openapi.json", "/v1/model", "/v1/predict",
    "/v2", "/v2/health/live", "/v2/health/ready", "/v2/models/{name}", "/v2/models/{name}/infer", "/v2/models/{name}/ready",
  ]);
  for (const secret of ["issued-key-one", "issued-key-two", readFileSync(keyFile, "utf8").trim()]) assert.not.ok(text.includes(secret), "a secret in the document");

  const request = { oneOf: [{ $ref: "#/components/schemas/PredictInputs" }, { $ref: "#/components/schemas/PredictBase64" }] };
  const digit = Array.from({ length: 28 }, (_, r) => Array.from({ length: 28 }, (_, c) => [((r * 28 + c) % 10) / 10]));
  const good = { inputs: [digit, digit] };
  const outside = { inputs: [digit.map((row, r) => row.map((px, c) => (r === 3 && c === 4 ? [1.5] : px)))] };
  const wrongShape = { inputs: [digit.slice(0, 27)] };
  const post = (body: unknown) => fetch(`${s.url}/v1/predict`, { method: "POST", headers: { "content-type": "application/json", "x-api-key": "issued-key-one" }, body: JSON.stringify(body) });
  assert.is(violation(good, request, doc), null);
  const answer = await post(good);
  assert.is(answer.status, 200);
  assert.is(violation(await answer.json(), { $ref: "#/components/schemas/PredictAnswer" }, doc), null);
  for (const bad of [outside, wrongShape]) {
    assert.ok(violation(bad, request, doc), "the schema rejects it");
    const refused = await post(bad);
    assert.is(refused.status, 400);
    assert.is(violation(await refused.json(), { $ref: "#/components/schemas/Error" }, doc), null);
  }
  const infer = { inputs: [{ name: "input", shape: [1, 28, 28, 1], datatype: "FP32", data: digit.flat(2) }] };
  assert.is(violation(infer, { $ref: "#/components/schemas/KserveInferRequest" }, doc), null);
  const kserve = await fetch(`${s.url}/v2/models/digits/infer`, { method: "POST", headers: { "x-api-key": "issued-key-two" }, body: JSON.stringify(infer) });
  assert.is(kserve.status, 200);
  assert.is(violation(await kserve.json(), { $ref: "#/components/schemas/KserveInferResponse" }, doc), null);
  s.child.kill("SIGTERM");
});

test.run();
