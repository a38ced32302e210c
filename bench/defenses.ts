// Speed of the defenses through the Defense interface (validation included): queries per second of
// every defense that needs no model, at K = 10 and 100, batches of 1 and 1024, on a confident victim
// (sharp random rows). MAD rows use the last-layer view (proxyProbs). ModelGuard-W is the exact
// WASM solver (assembly/modelguard.ts). Adaptive Misinformation, which runs two models, has one entry
// (LeNet scorer and misinformation model, K = 10, batch 1024), and so has GRAD² (a LeNet surrogate).
import type { BenchResult } from "./run.js";
import { loadCore } from "../src/core/index.js";
import { createDefense, type DefenseBatch } from "../src/defenses/index.js";
import { initBackend } from "../src/models/backend.js";
import { Proxy } from "../src/models/proxy.js";
import { createRng, randomSimplexPoint } from "../test/reference/random.js";

const BUDGET_MS = 400;
const CLASSES = [10, 100];
const BATCHES = [1, 1024];
// [result label, registry name, parameters]; the keyed row uses a fixed throwaway key (bench only).
const DEFENSES: [string, string, Record<string, unknown>][] = [
  ["topk", "topk", { k: 1 }],
  ["reverse-sigmoid", "reverse-sigmoid", { beta: 0.7, gamma: 0.2 }],
  ["random-noise", "random-noise", { mode: "logit-gaussian", epsilon: 1 }],
  ["mad-argmax", "mad-argmax", { epsilon: 1 }],
  ["mad-argmax-keyed", "mad-argmax", { epsilon: 1, keyMix: 0.5, key: "00112233445566778899aabbccddeeff" }],
  ["modelguard-w", "modelguard-w", { epsilon: 1 }],
  // Stateful: the codebooks fill during the warm-up and the first calls, so this is close to the steady state.
  ["modelguard-s", "modelguard-s", { epsilon: 1, capacity: 1024 }],
];

function rows(seed: number, B: number, K: number, sharpness: number): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(B * K);
  for (let r = 0; r < B; r++) out.set(randomSimplexPoint(rng, K, sharpness), r * K);
  return out;
}

async function measure(call: (i: number) => Promise<unknown>, perCall: number): Promise<number> {
  await call(0); // warm-up
  let calls = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    await call(calls++);
    elapsed = performance.now() - start;
  } while (elapsed < BUDGET_MS);
  return (calls * perCall) / (elapsed / 1000);
}

export async function run(): Promise<BenchResult[]> {
  const core = await loadCore();
  const results: BenchResult[] = [];
  for (const [label, name, params] of DEFENSES)
    for (const K of CLASSES)
      for (const B of BATCHES) {
        const pool = Math.max(B, 64);
        const probs = rows(1, pool, K, 4);
        const proxy = rows(2, pool, K, 0.5);
        const batches: DefenseBatch[] = Array.from({ length: pool / B }, (_, i) => ({
          probs: probs.subarray(i * B * K, (i + 1) * B * K),
          proxyProbs: proxy.subarray(i * B * K, (i + 1) * B * K),
          batchSize: B,
          numClasses: K,
        }));
        const defense = createDefense(name, params, { core });
        const value = await measure((i) => defense.apply(batches[i % batches.length]), B);
        results.push({ name: `defense.${label}.k${K}.batch${B}`, value, unit: "queries/s" });
      }
  results.push(await adaptiveMisinformation());
  results.push(await grad2());
  return results;
}

/**
 * Adaptive Misinformation with a LeNet scorer and a LeNet misinformation model (scratch weights: an untrained
 * scorer is never confident, so every row runs both forward passes, the defense's worst case), 28x28x1
 * inputs, K = 10, batches of 1024.
 */
export async function adaptiveMisinformation(): Promise<BenchResult> {
  await initBackend();
  const B = 1024, K = 10;
  const spec = { arch: "lenet" as const, numClasses: K, inputShape: [28, 28, 1] };
  const scorer = Proxy.scratch({ ...spec, seed: 1 });
  const misinformation = Proxy.scratch({ ...spec, seed: 2 });
  const rng = createRng(3);
  const inputs = { data: Float32Array.from({ length: B * 784 }, () => rng.uniform()), batchSize: B, inputShape: [28, 28, 1] };
  const batch: DefenseBatch = { probs: rows(4, B, K, 4), batchSize: B, numClasses: K, inputs };
  const defense = createDefense("adaptive-misinformation", {}, { scorer, misinformation });
  const value = await measure(() => defense.apply(batch), B);
  scorer.dispose();
  misinformation.dispose();
  return { name: `defense.adaptive-misinformation.k${K}.batch${B}`, value, unit: "queries/s" };
}

/**
 * GRAD² with a scratch LeNet surrogate (t = −𝟙 over all its weights: two forward passes of the
 * weight-shifted copies per batch, built during the warm-up), 28x28x1 inputs, K = 10, batches of 1024.
 */
export async function grad2(): Promise<BenchResult> {
  await initBackend();
  const B = 1024, K = 10;
  const surrogate = Proxy.scratch({ arch: "lenet", numClasses: K, inputShape: [28, 28, 1], seed: 5 });
  const rng = createRng(6);
  const inputs = { data: Float32Array.from({ length: B * 784 }, () => rng.uniform()), batchSize: B, inputShape: [28, 28, 1] };
  const batch: DefenseBatch = { probs: rows(7, B, K, 4), batchSize: B, numClasses: K, inputs };
  const defense = createDefense("grad2", { epsilon: 1 }, { proxy: surrogate });
  const value = await measure(() => defense.apply(batch), B);
  defense.dispose?.();
  surrogate.dispose();
  return { name: `defense.grad2.k${K}.batch${B}`, value, unit: "queries/s" };
}
