// The defenses with real models: a tfjs victim (TfjsClassifier) behind MAD whose proxy is a scratch model
// from the zoo, in both Jacobian modes, through the DefendedModel the service and the evaluation use.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadCore } from "../../src/core/index.js";
import { createDefense, DefendedModel } from "../../src/defenses/index.js";
import { initBackend } from "../../src/models/backend.js";
import { Proxy } from "../../src/models/proxy.js";
import { TfjsClassifier } from "../../src/models/tfjs-model.js";
import type { InputBatch } from "../../src/models/types.js";
import { buildModel, type ModelSpec } from "../../src/models/zoo.js";
import { argmax, l1, lcg, rowOf } from "./helpers.js";

await initBackend();
const core = await loadCore();
const K = 5;
const spec: ModelSpec = { arch: "mlp", numClasses: K, inputShape: [4, 4, 1], seed: 1 };
const victim = new TfjsClassifier(buildModel({ ...spec, seed: 2 }));
const rnd = lcg(3);
const batch: InputBatch = { data: Float32Array.from({ length: 6 * 16 }, () => rnd()), batchSize: 6, inputShape: [4, 4, 1] };

test("MAD-argmax with a scratch proxy (last layer): the core's answer for the proxy's probabilities", async () => {
  const proxy = Proxy.scratch(spec);
  const model = new DefendedModel(victim, createDefense("mad-argmax", { epsilon: 0.5 }, { core, proxy }));
  const answer = await model.answer(batch);
  const expected = core
    .createPerturber({ oracle: "argmax", objective: "angular", distance: "l1", epsilon: 0.5 })
    .perturb(answer.victimProbs, K, { kind: "probs", proxyProbs: await proxy.probs(batch) });
  assert.equal(Array.from(answer.probs), Array.from(expected));
  for (let i = 0; i < batch.batchSize; i++) {
    assert.is(argmax(rowOf(answer.probs, i, K)), argmax(rowOf(answer.victimProbs, i, K)));
    assert.ok(l1(rowOf(answer.probs, i, K), rowOf(answer.victimProbs, i, K)) <= 0.5 + 1e-5);
  }
  assert.is(model.stats().top1Agreement, 1);
  assert.is(model.numClasses, K);
});

test("MAD over several proxy layers (Gram matrices) answers within budget; the modes differ", async () => {
  const proxy = Proxy.scratch(spec);
  const layers = createDefense("mad", { epsilon: 0.6, jacobian: "layers", layers: ["fc2", "logits"] }, { core, proxy });
  const lastLayer = createDefense("mad", { epsilon: 0.6 }, { core, proxy });
  const a = await new DefendedModel(victim, layers).answer(batch);
  const b = await new DefendedModel(victim, lastLayer).answer(batch);
  for (let i = 0; i < batch.batchSize; i++) {
    const y = rowOf(a.victimProbs, i, K);
    assert.ok(l1(rowOf(a.probs, i, K), y) <= 0.6 + 1e-5, `row ${i}`);
    assert.ok(Math.abs(rowOf(a.probs, i, K).reduce((s, v) => s + v, 0) - 1) < 1e-5);
  }
  // With the last layer alone H does not depend on the features; more layers change the geometry.
  assert.not.equal(Array.from(a.probs), Array.from(b.probs));
});

test.run();
