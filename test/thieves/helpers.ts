// A tiny world for thief tests: 4x4 grey images, 3 classes, a fixed "victim" (softmax of a few pixel
// sums), and a small dense substitute, so a full steal takes well under a second.
import * as tf from "@tensorflow/tfjs";
import type { InputBatch } from "../../src/models/types.js";
import { seeded } from "../../src/models/random.js";
import type { BlackBox, ImageSet, ThiefDeps } from "../../src/thieves/thief.js";

export const inputShape = [4, 4, 1] as const;
export const numClasses = 3;
export const rowSize = 16;

export function randomImages(count: number, seed: number): ImageSet {
  const random = seeded(seed).uniform;
  const images = new Float32Array(count * rowSize);
  for (let i = 0; i < images.length; i++) images[i] = random();
  return { images, count, inputShape };
}

/** A deterministic black box that records every batch it is asked. */
export class RecordingBlackBox implements BlackBox {
  readonly inputShape = inputShape;
  readonly numClasses = numClasses;
  readonly batches: Float32Array[] = [];

  async predict(batch: InputBatch): Promise<Float32Array> {
    this.batches.push(batch.data.slice());
    const out = new Float32Array(batch.batchSize * numClasses);
    for (let r = 0; r < batch.batchSize; r++) {
      const x = batch.data.subarray(r * rowSize, (r + 1) * rowSize);
      const logits = [0, 1, 2].map((k) => 6 * (x[k * 5] + x[k * 5 + 1] - x[15 - k]));
      const max = Math.max(...logits);
      const e = logits.map((z) => Math.exp(z - max));
      const sum = e.reduce((a, b) => a + b, 0);
      e.forEach((v, k) => (out[r * numClasses + k] = v / sum));
    }
    return out;
  }

  get rows(): number {
    return this.batches.reduce((n, b) => n + b.length / rowSize, 0);
  }

  allQueries(): Float32Array {
    const out = new Float32Array(this.rows * rowSize);
    let offset = 0;
    for (const b of this.batches) {
      out.set(b, offset);
      offset += b.length;
    }
    return out;
  }
}

export function tinyModel(seed: number): tf.LayersModel {
  const init = (s: number) => tf.initializers.glorotUniform({ seed: s });
  return tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [...inputShape] }),
      tf.layers.dense({ units: 12, activation: "relu", kernelInitializer: init(seed), biasInitializer: "zeros" }),
      tf.layers.dense({ units: numClasses, kernelInitializer: init(seed + 7919), biasInitializer: "zeros" }),
    ],
  });
}

export function tinyDeps(): ThiefDeps {
  return { buildSubstitute: tinyModel, pool: randomImages(300, 11), seeds: randomImages(60, 12) };
}

export function weightsOf(model: tf.LayersModel): Float32Array {
  const parts = model.getWeights().map((w) => w.dataSync() as Float32Array);
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** uvu has no async throws: asserts that `fn` rejects with a message matching `pattern`. */
export async function rejects(fn: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (!pattern.test(message)) throw new Error(`rejected with "${message}", expected ${pattern}`);
    return;
  }
  throw new Error(`expected a rejection matching ${pattern}`);
}
