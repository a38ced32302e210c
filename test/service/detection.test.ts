// `--detect prada` in the Hono app (app.request(), no sockets): a synthetic Jacobian-style thief key is
// flagged (flag: still answered, verdict in the log and /metrics) or blocked (block: 403 naming the reason,
// no budget spent), while an honest key streaming MNIST digits stays clear.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createApp } from "../../src/service/app.js";
import type { RequestLog } from "../../src/service/app.js";
import { MemoryBudgetStore } from "../../src/service/budgets.js";
import { PradaDetection } from "../../src/service/detection.js";
import { ServiceMetrics } from "../../src/service/metrics.js";
import { MemoryPradaStore } from "../../src/defenses/prada.js";
import { encodeFloat32Base64 } from "../../src/service/schema.js";
import { loadMnist } from "../../src/models/datasets.js";
import { seeded } from "../../src/models/random.js";
import type { InputBatch } from "../../src/models/types.js";
import type { Prediction, Predictor } from "../../src/service/predictor.js";
import { digitStreams } from "./detect-streams.js";

const DIM = 784;

/** Labels a digit by the row of its ink's centre of mass (pixels > 0.5): a stand-in for a classifier that small steps do not change. */
class InkPredictor implements Predictor {
  readonly info = { inputShape: [28, 28, 1], numClasses: 10, defense: { name: "none" } };
  async predict(batch: InputBatch): Promise<Prediction> {
    const K = 10;
    const probs = new Float32Array(batch.batchSize * K);
    const labels = new Int32Array(batch.batchSize);
    for (let b = 0; b < batch.batchSize; b++) {
      let mass = 0;
      let rows = 0;
      for (let i = 0; i < DIM; i++) {
        if (batch.data[b * DIM + i] > 0.5) {
          mass++;
          rows += Math.floor(i / 28);
        }
      }
      const label = mass ? Math.min(9, Math.floor(((rows / mass) * 10) / 28)) : 0;
      labels[b] = label;
      probs[b * K + label] = 1;
    }
    return { probs, labels, l1: new Float32Array(batch.batchSize) };
  }
}

const { thief, honest } = digitStreams(loadMnist({ seed: 0 }).test, (n: number, seed: number) => seeded(seed, "splitmix32").permutation(n));

function setup(onDetect: "flag" | "block", budget?: number) {
  const metrics = new ServiceMetrics();
  const logs: RequestLog[] = [];
  const detection = new PradaDetection({ store: new MemoryPradaStore(), onDetect, metrics });
  const keys = new Set(["thief", "honest"]);
  const app = createApp({
    predictor: new InkPredictor(),
    metrics,
    log: (l) => logs.push(l),
    detection,
    ...(budget ? { budgets: { store: new MemoryBudgetStore({ limit: budget }), keys } } : { apiKeys: { keys } }),
  });
  const post = (key: string, rows: Float32Array) =>
    app.request("/v1/predict", {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": key },
      body: JSON.stringify({ data: encodeFloat32Base64(rows), shape: [rows.length / DIM, 28, 28, 1] }),
    });
  return { app, metrics, logs, post, detection };
}

const rowsOf = (stream: Float32Array, from: number, count: number) => stream.slice(from * DIM, (from + count) * DIM);

test("flag: the thief key keeps its answers but is flagged in /metrics and the access log; the honest key is clear", async () => {
  const { app, logs, post } = setup("flag");
  for (let i = 0; i < 300; i += 10) {
    assert.is((await post("thief", rowsOf(thief, i, 10))).status, 200);
    assert.is((await post("honest", rowsOf(honest, i, 10))).status, 200);
  }
  const thiefLog = logs.filter((_, i) => i % 2 === 0);
  const honestLog = logs.filter((_, i) => i % 2 === 1);
  assert.is(thiefLog.at(-1)!.verdict, "flagged");
  assert.ok(thiefLog.at(-1)!.w! < 0.9);
  assert.ok(honestLog.every((l) => l.verdict === "clear"), JSON.stringify(honestLog.map((l) => [l.verdict, l.w])));
  assert.ok(honestLog.at(-1)!.w! > 0.9);
  // Log entries hold counts and the verdict, never pixel values.
  for (const l of logs) assert.equal(Object.keys(l).sort(), ["bodyMs", "method", "ms", "path", "rows", "status", "verdict", ...(l.w !== undefined ? ["w"] : [])].sort());
  const metrics = await (await app.request("/metrics")).text();
  assert.match(metrics, /^pp_detect_flagged_clients 1$/m);
  const detections = Number(/^pp_detections_total (\d+)$/m.exec(metrics)![1]);
  assert.ok(detections >= 1);
});

test("block: after the alarm the thief key gets 403 naming the reason, spends no budget; the honest key keeps getting 200", async () => {
  const { post, logs, metrics } = setup("block", 10_000);
  let blockedAt = -1;
  for (let i = 0; i < 300; i += 10) {
    const res = await post("thief", rowsOf(thief, i, 10));
    if (res.status === 403) {
      blockedAt = i;
      const body = (await res.json()) as { error: { kind: string; reason: string; message: string; field: string } };
      assert.is(body.error.kind, "blocked");
      assert.is(body.error.reason, "prada");
      assert.is(body.error.field, "x-api-key");
      assert.match(body.error.message, /blocked.*PRADA/);
      break;
    }
    assert.is(res.status, 200);
  }
  assert.ok(blockedAt > 100 && blockedAt <= 250, `blocked after ${blockedAt} queries`);
  const refused = await post("thief", rowsOf(honest, 0, 1));
  assert.is(refused.status, 403, "honest-looking queries of a blocked key are refused too");
  assert.is(refused.headers.get("x-budget-remaining"), null, "a blocked request spends nothing");
  for (let i = 0; i < 300; i += 20) assert.is((await post("honest", rowsOf(honest, i, 20))).status, 200);
  assert.is(logs.filter((l) => l.status === 403).every((l) => l.verdict === "blocked" && l.error === "blocked"), true);
  assert.is(metrics.errors.get({ kind: "blocked" }), 2);
});

test("detection needs API keys", () => {
  const detection = new PradaDetection({ store: new MemoryPradaStore(), onDetect: "flag" });
  assert.throws(() => createApp({ predictor: new InkPredictor(), detection }), /API keys/);
});

test.run();
