// Shared by the models tests: seeded random arrays, relative error, a cpu-backend oracle, expected
// rejections and temporary directories.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import * as assert from "uvu/assert";
import { initBackend } from "../../src/models/backend.js";
import { seeded } from "../../src/models/random.js";

export { tf };

export function randomArray(n: number, seed: number, scale = 1): Float32Array {
  const r = seeded(seed, "splitmix32").uniform;
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

export function randomInt(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}

/** max |a - b| / max |b| (0 when both are 0). */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

/** Runs `f` on the cpu backend (the oracle) and returns its output values, then switches back to wasm. */
export async function onCpu(f: () => tf.Tensor): Promise<Float32Array> {
  await tf.setBackend("cpu");
  try {
    const t = f();
    const v = (await t.data()) as Float32Array;
    t.dispose();
    return v;
  } finally {
    await tf.setBackend("wasm");
  }
}

export async function onWasm(f: () => tf.Tensor): Promise<Float32Array> {
  await initBackend();
  if (tf.getBackend() !== "wasm") await tf.setBackend("wasm");
  const t = f();
  const v = (await t.data()) as Float32Array;
  t.dispose();
  return v;
}

/** Tensors, bytes and backend buffers alive now. */
export function memorySnapshot(): { tensors: number; bytes: number; dataIds: number } {
  const m = tf.memory();
  return { tensors: m.numTensors, bytes: m.numBytes, dataIds: tf.engine().backend.numDataIds() };
}

/** Asserts that `promise` rejects with a message matching `pattern`. */
export async function rejects(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await promise;
  } catch (err) {
    assert.match((err as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected a rejection matching ${pattern}`);
}

/** `make()` creates a fresh temporary directory; `removeAll()` (for test.after) deletes every one made. */
export function tempDirs(prefix: string): { make: () => string; removeAll: () => void } {
  const dirs: string[] = [];
  return {
    make: () => {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
    removeAll: () => {
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}
