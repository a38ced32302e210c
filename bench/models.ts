// Speed of the models layer on the tfjs WASM backend (one thread): a LeNet SGD-momentum training
// step at batch 64 (ms per step), and the end-to-end cost per query of an undefended LeNet answer
// and of a MAD-argmax answer (victim forward + scratch-proxy forward + WASM core), ms per query.
import type { BenchResult } from "./run.js";
import { initBackend, tf } from "../src/models/backend.js";
import { loadMnist } from "../src/models/datasets.js";
import { Proxy } from "../src/models/proxy.js";
import { TfjsClassifier } from "../src/models/tfjs-model.js";
import { oneHot, trainableVariables, trainingStep } from "../src/models/training.js";
import { buildModel, type ModelSpec } from "../src/models/zoo.js";
import { loadCore } from "../src/core/index.js";

const BUDGET_MS = 3000;

/** Median wall time of `call` over repeated runs filling the budget (after warm-up). */
async function medianMs(call: () => Promise<void> | void, warmup = 3): Promise<number> {
  for (let i = 0; i < warmup; i++) await call();
  const times: number[] = [];
  const start = performance.now();
  while (performance.now() - start < BUDGET_MS || times.length < 5) {
    const t0 = performance.now();
    await call();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

export async function run(): Promise<BenchResult[]> {
  await initBackend();
  const results: BenchResult[] = [];
  const spec: ModelSpec = { arch: "lenet", numClasses: 10, inputShape: [28, 28, 1], seed: 0 };
  const { test: digits } = loadMnist({ seed: 0 });

  // training step, batch 64, SGD lr 0.01 momentum 0.5 (the victim protocol)
  const model = buildModel(spec);
  const variables = trainableVariables(model);
  const optimizer = tf.train.momentum(0.01, 0.5);
  const xs = tf.tensor(digits.images.subarray(0, 64 * 784), [64, 28, 28, 1]);
  const ys = tf.tensor2d(oneHot(digits.labels.subarray(0, 64), 10), [64, 10]);
  const step = await medianMs(() => {
    const loss = trainingStep(model, variables, optimizer, xs, ys);
    loss.dataSync();
    loss.dispose();
  });
  results.push({ name: "train.lenet.step.batch64", value: step, unit: "ms" });
  tf.dispose([xs, ys]);
  optimizer.dispose();

  // serving: the (untrained: speed does not depend on the weights) victim and a scratch proxy
  const victim = new TfjsClassifier(model);
  const proxy = Proxy.scratch({ ...spec, seed: 1 });
  const core = await loadCore();
  const perturber = core.createPerturber({ oracle: "argmax", objective: "angular", distance: "l1", epsilon: 1 });
  for (const batchSize of [1, 64]) {
    const batch = { data: digits.images.subarray(0, batchSize * 784), batchSize, inputShape: [28, 28, 1] };
    const predict = await medianMs(async () => {
      await victim.predict(batch);
    });
    results.push({ name: `e2e.lenet.predict.batch${batchSize}`, value: predict / batchSize, unit: "ms/query" });
    const mad = await medianMs(async () => {
      const probs = await victim.predict(batch);
      const proxyProbs = await proxy.probs(batch);
      perturber.perturb(probs, 10, { kind: "probs", proxyProbs });
    });
    results.push({ name: `e2e.lenet.mad-argmax.batch${batchSize}`, value: mad / batchSize, unit: "ms/query" });
  }
  victim.dispose();
  proxy.dispose();
  return results;
}
