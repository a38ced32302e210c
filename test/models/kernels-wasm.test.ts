// The AssemblyScript training kernels (assembly/kernels/, via src/models/kernels/kernels-wasm.ts)
// against plain JavaScript loops (the oracles below) on random shapes, strides and paddings, on a
// memory of the test's own, plain and shared (tfjs' threaded build). Copies and sums happen in the
// same order in both, so the results must agree exactly.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { kernelsFor, type KernelsWasm } from "../../src/models/kernels/kernels-wasm.js";
import { seeded } from "../../src/models/random.js";
import { randomArray, randomInt, tf } from "./helpers.js";

interface Geometry {
  height: number; width: number; channels: number; filterHeight: number; filterWidth: number;
  outHeight: number; outWidth: number; strideHeight: number; strideWidth: number; padTop: number; padLeft: number;
}
const args = (g: Geometry) =>
  [g.height, g.width, g.channels, g.filterHeight, g.filterWidth, g.outHeight, g.outWidth, g.strideHeight, g.strideWidth, g.padTop, g.padLeft] as const;

// ---- oracles: the straightforward loops ----

function im2colOracle(src: Float32Array, count: number, g: Geometry): Float32Array {
  const cols = count * g.outHeight * g.outWidth;
  const dst = new Float32Array(g.filterHeight * g.filterWidth * g.channels * cols);
  let p = 0;
  for (let kh = 0; kh < g.filterHeight; kh++)
    for (let kw = 0; kw < g.filterWidth; kw++)
      for (let c = 0; c < g.channels; c++)
        for (let n = 0; n < count; n++)
          for (let oh = 0; oh < g.outHeight; oh++)
            for (let ow = 0; ow < g.outWidth; ow++, p++) {
              const ih = oh * g.strideHeight + kh - g.padTop;
              const iw = ow * g.strideWidth + kw - g.padLeft;
              const inside = ih >= 0 && ih < g.height && iw >= 0 && iw < g.width;
              dst[p] = inside ? src[((n * g.height + ih) * g.width + iw) * g.channels + c] : 0;
            }
  return dst;
}

function col2imOracle(columns: Float32Array, dx: Float32Array, count: number, g: Geometry): void {
  let p = 0;
  for (let n = 0; n < count; n++)
    for (let oh = 0; oh < g.outHeight; oh++)
      for (let ow = 0; ow < g.outWidth; ow++)
        for (let kh = 0; kh < g.filterHeight; kh++)
          for (let kw = 0; kw < g.filterWidth; kw++)
            for (let c = 0; c < g.channels; c++, p++) {
              const ih = oh * g.strideHeight + kh - g.padTop;
              const iw = ow * g.strideWidth + kw - g.padLeft;
              if (ih >= 0 && ih < g.height && iw >= 0 && iw < g.width) dx[((n * g.height + ih) * g.width + iw) * g.channels + c] += columns[p];
            }
}

function maxPoolGradOracle(x: Float32Array, dy: Float32Array, batch: number, g: Geometry): Float32Array {
  const dx = new Float32Array(x.length);
  let d = 0;
  for (let n = 0; n < batch; n++)
    for (let oh = 0; oh < g.outHeight; oh++)
      for (let ow = 0; ow < g.outWidth; ow++)
        for (let c = 0; c < g.channels; c++, d++) {
          let best = -Infinity;
          let at = -1;
          for (let r = oh * g.strideHeight - g.padTop, i = 0; i < g.filterHeight; i++, r++)
            for (let col = ow * g.strideWidth - g.padLeft, j = 0; j < g.filterWidth; j++, col++) {
              if (r < 0 || r >= g.height || col < 0 || col >= g.width) continue;
              const q = ((n * g.height + r) * g.width + col) * g.channels + c;
              if (x[q] > best) {
                best = x[q];
                at = q;
              }
            }
          if (at >= 0) dx[at] += dy[d];
        }
  return dx;
}

// ---- cases ----

function randomGeometry(r: () => number): Geometry {
  const filterHeight = randomInt(r, 1, 5), filterWidth = randomInt(r, 1, 5);
  const strideHeight = randomInt(r, 1, 3), strideWidth = randomInt(r, 1, 3);
  const padTop = randomInt(r, 0, filterHeight - 1), padLeft = randomInt(r, 0, filterWidth - 1);
  const padBottom = randomInt(r, 0, filterHeight - 1), padRight = randomInt(r, 0, filterWidth - 1);
  const height = randomInt(r, Math.max(1, filterHeight - padTop - padBottom), 11);
  const width = randomInt(r, Math.max(1, filterWidth - padLeft - padRight), 11);
  // channels around the 4-lane groups: 1, 3, 4, 5, 8, 9, 20
  const channels = [1, 3, 4, 5, 8, 9, 20][randomInt(r, 0, 6)];
  const outHeight = Math.floor((height + padTop + padBottom - filterHeight) / strideHeight) + 1;
  const outWidth = Math.floor((width + padLeft + padRight - filterWidth) / strideWidth) + 1;
  return { height, width, channels, filterHeight, filterWidth, outHeight, outWidth, strideHeight, strideWidth, padTop, padLeft };
}

const LENET: Geometry[] = [
  { height: 28, width: 28, channels: 1, filterHeight: 5, filterWidth: 5, outHeight: 24, outWidth: 24, strideHeight: 1, strideWidth: 1, padTop: 0, padLeft: 0 },
  { height: 12, width: 12, channels: 20, filterHeight: 5, filterWidth: 5, outHeight: 8, outWidth: 8, strideHeight: 1, strideWidth: 1, padTop: 0, padLeft: 0 },
];
const POOLS: Geometry[] = [
  { height: 24, width: 24, channels: 20, filterHeight: 2, filterWidth: 2, outHeight: 12, outWidth: 12, strideHeight: 2, strideWidth: 2, padTop: 0, padLeft: 0 },
  { height: 8, width: 8, channels: 50, filterHeight: 2, filterWidth: 2, outHeight: 4, outWidth: 4, strideHeight: 2, strideWidth: 2, padTop: 0, padLeft: 0 },
];

/** A scratch heap on a memory: float arrays placed one after another at unaligned offsets. */
class Heap {
  private next = 4; // 4 bytes in: the SIMD loads and stores must not need 16-byte alignment
  constructor(readonly memory: WebAssembly.Memory) {}
  put(values: Float32Array): number {
    const at = this.next;
    const bytes = values.length * 4;
    const need = Math.ceil((at + bytes) / 65536) - this.memory.buffer.byteLength / 65536;
    if (need > 0) this.memory.grow(need);
    new Float32Array(this.memory.buffer, at, values.length).set(values);
    this.next = at + bytes + 4 * 3; // keep the next one off any 16-byte boundary
    return at;
  }
  get(at: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, at, length).slice();
  }
}

const memories: [string, () => WebAssembly.Memory][] = [
  ["plain memory", () => new WebAssembly.Memory({ initial: 1 })],
  ["shared memory", () => new WebAssembly.Memory({ initial: 1, maximum: 4096, shared: true })],
];

const sizeOf = (count: number, g: Geometry) => count * g.height * g.width * g.channels;
const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => v === b[i]);

for (const [label, makeMemory] of memories) {
  test(`im2col (${label}) equals the JavaScript loop on random shapes, strides and paddings, from any first image`, () => {
    const heap = new Heap(makeMemory());
    const kernels = kernelsFor(heap.memory);
    const r = seeded(31, "splitmix32").uniform;
    const geometries = [...LENET, ...Array.from({ length: 40 }, () => randomGeometry(r))];
    geometries.forEach((g, i) => {
      const batch = randomInt(r, 1, 3);
      const first = randomInt(r, 0, batch - 1);
      const count = batch - first;
      const x = randomArray(sizeOf(batch, g), 100 + i);
      const expected = im2colOracle(x.subarray(sizeOf(first, g)), count, g);
      const src = heap.put(x);
      const dst = heap.put(new Float32Array(expected.length).fill(Number.NaN)); // every element must be written
      kernels.transposedPatches(src + sizeOf(first, g) * 4, dst, count, ...args(g));
      assert.ok(same(heap.get(dst, expected.length), expected), `${JSON.stringify(g)} count ${count}`);
    });
  });

  test(`col2im (${label}) equals the JavaScript loop and adds onto what is there`, () => {
    const heap = new Heap(makeMemory());
    const kernels = kernelsFor(heap.memory);
    const r = seeded(32, "splitmix32").uniform;
    const geometries = [...LENET, ...Array.from({ length: 40 }, () => randomGeometry(r))];
    geometries.forEach((g, i) => {
      const count = randomInt(r, 1, 3);
      const columns = randomArray(count * g.outHeight * g.outWidth * g.filterHeight * g.filterWidth * g.channels, 200 + i);
      const dx = randomArray(sizeOf(count, g), 300 + i);
      const expected = dx.slice();
      col2imOracle(columns, expected, count, g);
      const src = heap.put(columns);
      const guard = heap.put(new Float32Array(4).fill(7)); // nothing is written past dx
      const dst = heap.put(dx);
      const after = heap.put(new Float32Array(4).fill(7));
      kernels.accumulatePatches(src, dst, count, ...args(g));
      assert.ok(same(heap.get(dst, expected.length), expected), JSON.stringify(g));
      assert.ok(same(heap.get(guard, 4), new Float32Array(4).fill(7)) && same(heap.get(after, 4), new Float32Array(4).fill(7)));
    });
  });

  test(`max-pool gradient (${label}) equals the JavaScript loop: ties, NaN, overlapping windows, padding`, () => {
    const heap = new Heap(makeMemory());
    const kernels = kernelsFor(heap.memory);
    const r = seeded(33, "splitmix32").uniform;
    const geometries = [...POOLS, ...Array.from({ length: 60 }, () => randomGeometry(r))];
    geometries.forEach((g, i) => {
      const batch = randomInt(r, 1, 3);
      // few distinct values, zeros as after ReLU: many ties; some NaN
      const x = randomArray(sizeOf(batch, g), 400 + i).map((v) => (v < -0.3 ? 0 : Math.round(v * 3) / 3));
      if (i % 3 === 0) for (let k = 0; k < x.length; k += 7) x[k] = Number.NaN;
      const dy = randomArray(batch * g.outHeight * g.outWidth * g.channels, 500 + i);
      const expected = maxPoolGradOracle(x, dy, batch, g);
      const xAt = heap.put(x), dyAt = heap.put(dy), dxAt = heap.put(new Float32Array(x.length).fill(Number.NaN));
      kernels.maxPoolGrad(xAt, dyAt, dxAt, batch, ...args(g));
      assert.ok(same(heap.get(dxAt, x.length), expected), JSON.stringify(g));
    });
  });
}

test("sum over leading axes equals the JavaScript loop (rows added in order)", () => {
  const heap = new Heap(new WebAssembly.Memory({ initial: 1 }));
  const kernels = kernelsFor(heap.memory);
  const r = seeded(34, "splitmix32").uniform;
  for (let i = 0; i < 30; i++) {
    const rows = randomInt(r, 1, 300), cols = i === 0 ? 20 : randomInt(r, 1, 23);
    const x = randomArray(rows * cols, 600 + i);
    const expected = new Float32Array(cols);
    for (let row = 0; row < rows; row++) for (let c = 0; c < cols; c++) expected[c] += x[row * cols + c];
    const src = heap.put(x), dst = heap.put(new Float32Array(cols).fill(Number.NaN));
    kernels.sumLeadingAxes(src, dst, rows, cols);
    assert.ok(same(heap.get(dst, cols), expected), `rows ${rows} cols ${cols}`);
  }
});

test("the kernels module writes nothing into the memory it is given when instantiated (it owns no data)", () => {
  const memory = new WebAssembly.Memory({ initial: 2 });
  new Uint8Array(memory.buffer).fill(0xab);
  const kernels: KernelsWasm = kernelsFor(memory);
  assert.ok(new Uint8Array(memory.buffer).every((b) => b === 0xab));
  assert.is(kernelsFor(memory), kernels, "one instance per memory");
});

test("the kernels run on the tfjs backend's own memory", async () => {
  const { initBackend } = await import("../../src/models/backend.js");
  await initBackend();
  const { backendKernels } = await import("../../src/models/kernels/kernels-wasm.js");
  const module = (tf.backend() as unknown as { wasm: { asm: { memory: WebAssembly.Memory } } }).wasm;
  assert.is(backendKernels(tf.backend()), kernelsFor(module.asm.memory));
});

test.run();
