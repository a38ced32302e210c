// A keyed defense behind the HTTP app: GET /v1/model says it is keyed and never carries the key (nor,
// unless the operator publishes them, the parameters); the key file `serve` keeps (src/node/key-file.ts).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCore } from "../../src/core/index.js";
import { createDefense, DefendedModel } from "../../src/defenses/index.js";
import { ensureKeyFile, readKeyFile } from "../../src/node/key-file.js";
import { createApp } from "../../src/service/app.js";
import { defendedPredictor } from "../../src/service/defended.js";
import { encodeFloat32Base64 } from "../../src/service/schema.js";

const core = await loadCore();
const KEY = "73657276696365206b6579656420746573742121";
const K = 4;
const victim = async (batch: { batchSize: number }) => Float32Array.from({ length: batch.batchSize * K }, (_, i) => [0.61, 0.23, 0.11, 0.05][i % K]);
const dir = mkdtempSync(join(tmpdir(), "pp-keyed-"));

function appFor(publishParams: boolean, params: Record<string, unknown> = { epsilon: 0.5, keyMix: 0.5, key: KEY, jacobian: "identity" }) {
  const defended = new DefendedModel(victim, createDefense("mad-argmax", params, { core }), { numClasses: K, inputShape: [2] });
  return createApp({ predictor: defendedPredictor(defended, { model: "tiny", publishParams }) });
}

test("GET /v1/model: name and keyed, no key anywhere, no parameters unless published", async () => {
  const hidden = await (await appFor(false).request("/v1/model")).text();
  assert.not.ok(hidden.includes(KEY), "the key in /v1/model");
  const body = JSON.parse(hidden) as { defense: { name: string; keyed: boolean; params?: Record<string, unknown> } };
  assert.is(body.defense.name, "mad-argmax");
  assert.is(body.defense.keyed, true);
  assert.is(body.defense.params, undefined, "parameters are published only on request");

  const published = await (await appFor(true).request("/v1/model")).text();
  assert.not.ok(published.includes(KEY));
  const open = JSON.parse(published) as { defense: { keyed: boolean; params: Record<string, unknown> } };
  assert.equal(open.defense.params, { epsilon: 0.5, step: "linesearch", jacobian: "identity", keyMix: 0.5, keyJitter: 0, keyCell: 0.1, exactLimit: 20 });

  const unkeyed = JSON.parse(await (await appFor(true, { epsilon: 0.5, jacobian: "identity" }).request("/v1/model")).text()) as { defense: { keyed: boolean } };
  assert.is(unkeyed.defense.keyed, false);
});

test("the answers are keyed and deterministic; neither they nor the metrics carry the key", async () => {
  const app = appFor(false);
  const ask = () =>
    app.request("/v1/predict", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ data: encodeFloat32Base64(new Float32Array([0.1, 0.2, 0.3, 0.4])), shape: [2, 2] }) });
  const first = await (await ask()).text();
  assert.is(await (await ask()).text(), first, "the same query gets the same answer");
  const unkeyed = createDefense("mad-argmax", { epsilon: 0.5, jacobian: "identity" }, { core });
  const plain = await unkeyed.apply({ probs: await victim({ batchSize: 1 }), batchSize: 1, numClasses: K });
  const answer = (JSON.parse(first) as { probabilities: number[][] }).probabilities[0];
  assert.ok(answer.some((p, k) => Math.abs(p - plain.probs[k]) > 1e-4), "the key changed the answer");
  assert.not.ok(first.includes(KEY));
  assert.not.ok((await (await app.request("/metrics")).text()).includes(KEY));
});

test("the key file: created once with mode 0600 in a new directory, then read back; bad files named, never quoted", () => {
  const path = join(dir, "nested", "defense.key");
  const created = ensureKeyFile(path);
  assert.ok(created.created);
  assert.is(created.warning, undefined);
  assert.is(statSync(path).mode & 0o777, 0o600);
  const key = readKeyFile(path);
  assert.match(key, /^[0-9a-f]{64}$/);
  const again = ensureKeyFile(path);
  assert.not.ok(again.created, "an existing key is kept");
  assert.is(readKeyFile(path), key);
  assert.is(readFileSync(path, "utf8"), key + "\n");

  chmodSync(path, 0o644);
  assert.match(ensureKeyFile(path).warning ?? "", /readable by other users/);

  const bad = join(dir, "bad.key");
  writeFileSync(bad, "not-a-key-but-secret-text\n", { mode: 0o600 });
  assert.throws(() => readKeyFile(bad), (e: Error) => /not a key/.test(e.message) && !e.message.includes("secret-text"));
  assert.throws(() => readKeyFile(join(dir, "missing.key")), /cannot read it \(ENOENT\)/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
