// Speed of the defenses through the Defense interface (validation included): queries per second of
// every defense that needs no model, at K = 10 and 100, batches of 1 and 1024, on a confident victim
// (sharp random rows). MAD rows use the last-layer view (proxyProbs). ModelGuard-W is the exact
// WASM solver (assembly/modelguard.ts).
import type { BenchResult } from "./run.js";
import { loadCore } from "../src/core/index.js";
import { createDefense, type DefenseBatch } from "../src/defenses/index.js";
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
  return results;
}
