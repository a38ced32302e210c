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

/** C (+)= A·B as the GEMM computes it: per element, float32 products added in k order from 0, then onto C. */
function gemmOracle(a: (i: number, k: number) => number, b: Float32Array, m: number, k: number, n: number, c: Float32Array | null): Float32Array {
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let t = 0; t < k; t++) sum = Math.fround(sum + Math.fround(a(i, t) * b[t * n + j]));
      out[i * n + j] = c ? Math.fround(c[i * n + j] + sum) : sum;
    }
  return out;
}

/** The sparse input gradient's order: per pixel, nonzero channels in pairs, each pair's sum added onto dx. */
function sparseInputGradientOracle(dy: Float32Array, wT: Float32Array, dx: Float32Array, count: number, co: number, g: Geometry): void {
  const run = g.filterWidth * g.channels, taps = g.filterHeight * run;
  const addPair = (n: number, oh: number, ow: number, c1: number, v1: number, c2: number, v2: number) => {
    for (let kh = 0; kh < g.filterHeight; kh++)
      for (let j = 0; j < run; j++) {
        const at = ((n * g.height + oh * g.strideHeight + kh) * g.width + ow * g.strideWidth) * g.channels + j;
        dx[at] = Math.fround(dx[at] + Math.fround(Math.fround(v1 * wT[c1 * taps + kh * run + j]) + Math.fround(v2 * wT[c2 * taps + kh * run + j])));
      }
  };
  let p = 0;
  for (let n = 0; n < count; n++)
    for (let oh = 0; oh < g.outHeight; oh++)
      for (let ow = 0; ow < g.outWidth; ow++, p += co) {
        const nonzero = Array.from({ length: co }, (_, c) => c).filter((c) => dy[p + c] !== 0);
        for (let i = 0; i < nonzero.length; i += 2) {
          const [c1, c2] = [nonzero[i], nonzero[i + 1] ?? nonzero[i]];
          addPair(n, oh, ow, c1, dy[p + c1], c2, i + 1 < nonzero.length ? dy[p + c2] : 0);
        }
      }
}

/** The sparse filter gradient's order: per chunk of images and channel, nonzero pixels in pairs. */
function sparseFilterGradientOracle(x: Float32Array, dy: Float32Array, dWT: Float32Array, count: number, chunk: number, co: number, g: Geometry): void {
  const run = g.filterWidth * g.channels, taps = g.filterHeight * run;
  const patch = (n: number, oh: number, ow: number) => ((n * g.height + oh * g.strideHeight) * g.width + ow * g.strideWidth) * g.channels;
  for (let first = 0; first < count; first += chunk)
    for (let c = 0; c < co; c++) {
      const hits: [number, number][] = [];
      for (let n = first; n < Math.min(count, first + chunk); n++)
        for (let oh = 0; oh < g.outHeight; oh++)
          for (let ow = 0; ow < g.outWidth; ow++) {
            const v = dy[((n * g.outHeight + oh) * g.outWidth + ow) * co + c];
            if (v !== 0) hits.push([patch(n, oh, ow), v]);
          }
      for (let i = 0; i < hits.length; i += 2) {
        const [p1, v1] = hits[i];
        const [p2, v2] = i + 1 < hits.length ? hits[i + 1] : [p1, 0];
        for (let kh = 0; kh < g.filterHeight; kh++)
          for (let j = 0; j < run; j++) {
            const q = kh * g.width * g.channels + j, at = c * taps + kh * run + j;
            dWT[at] = Math.fround(dWT[at] + Math.fround(Math.fround(v1 * x[p1 + q]) + Math.fround(v2 * x[p2 + q])));
          }
      }
    }
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
    // windows that tile the image exactly take the kernel's store-once path
    const tiled = Array.from({ length: 20 }, (_, i): Geometry => {
      const f = [randomInt(r, 1, 3), randomInt(r, 1, 3)], out = [randomInt(r, 1, 5), randomInt(r, 1, 5)];
      return { height: f[0] * out[0], width: f[1] * out[1], channels: [1, 3, 4, 5, 8, 9, 20, 50][i % 8], filterHeight: f[0], filterWidth: f[1],
        outHeight: out[0], outWidth: out[1], strideHeight: f[0], strideWidth: f[1], padTop: 0, padLeft: 0 };
    });
    const geometries = [...POOLS, ...tiled, ...Array.from({ length: 60 }, () => randomGeometry(r))];
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

for (const [label, makeMemory] of memories) {
  test(`gemm, gemmPlain and gemmNarrow (${label}) equal the float32 loop: tile tails, strides, walks, accumulation`, () => {
    const heap = new Heap(makeMemory());
    const kernels = kernelsFor(heap.memory);
    const r = seeded(35, "splitmix32").uniform;
    for (let i = 0; i < 60; i++) {
      const kind = (["plain", "transposed", "walk"] as const)[i % 3];
      const m = randomInt(r, 1, 13), n = randomInt(r, 1, 21);
      // the walk: A(i, k) = x[i2*s2 + i1*s1 + i0*s0 + k-offsets] like an implicit patch matrix
      const rowInner = randomInt(r, 1, 4), rowMiddle = randomInt(r, 1, 3);
      const colInner = randomInt(r, 1, 5), colMiddle = randomInt(r, 1, 3), colOuter = randomInt(r, 0, 2);
      const k = kind === "walk" ? colInner * colMiddle * colOuter : randomInt(r, 0, 40);
      const source = randomArray(kind === "walk" ? 4096 : m * k, 700 + i);
      const rs: [number, number, number] = [4, (rowInner * 2 + 1) * 4, (rowInner * rowMiddle * 3 + 7) * 4];
      const cs: [number, number, number] = [20, (colInner * 5 + 2) * 4, 301 * 4];
      const aAt = (row: number, col: number): number => {
        if (kind === "plain") return row * k + col;
        if (kind === "transposed") return col * m + row;
        const rowOffset = (row % rowInner) * rs[0] + (Math.floor(row / rowInner) % rowMiddle) * rs[1] + Math.floor(row / (rowInner * rowMiddle)) * rs[2];
        const colOffset = (col % colInner) * cs[0] + (Math.floor(col / colInner) % colMiddle) * cs[1] + Math.floor(col / (colInner * colMiddle)) * cs[2];
        return (rowOffset + colOffset) / 4;
      };
      if (kind === "walk" && aAt(m - 1, Math.max(0, k - 1)) >= source.length) continue;
      const b = randomArray(k * n, 800 + i);
      const accumulate = i % 4 === 3;
      const start = randomArray(m * n, 900 + i);
      const expected = gemmOracle((row, col) => source[aAt(row, col)], b, m, k, n, accumulate ? start : null);
      const transposedC = i % 5 === 4; // C written column-major: C(i, j) at j*m + i
      const aPtr = heap.put(source), bPtr = heap.put(b);
      const packed = heap.put(new Float32Array(Math.max(1, k * Math.ceil(n / 8) * 8)).fill(Number.NaN));
      kernels.packColumnStrips(bPtr, n * 4, 4, k, n, packed);
      const cInit = transposedC ? Float32Array.from({ length: m * n }, (_, q) => start[(q % m) * n + Math.floor(q / m)]) : start;
      const cPtr = heap.put(accumulate ? cInit : new Float32Array(m * n).fill(Number.NaN));
      const [cRow, cCol] = transposedC ? [4, m * 4] : [n * 4, 4];
      type Walk = [inner: number, middle: number, stride0: number, stride1: number, stride2: number];
      const rows: Walk = kind === "walk" ? [rowInner, rowMiddle, ...rs] : [m, 1, kind === "plain" ? k * 4 : 4, 0, 0];
      const cols: Walk = kind === "walk" ? [colInner, colMiddle, ...cs] : [Math.max(1, k), 1, kind === "plain" ? 4 : m * 4, 0, 0];
      const flag = accumulate ? 1 : 0;
      // the three entry points as gemm.ts uses them: full strips, then a last strip of 1-4 columns
      const wide = n % 8 >= 1 && n % 8 <= 4 ? n - (n % 8) : n;
      if (wide > 0) {
        if (kind === "walk") kernels.gemm(aPtr, m, ...rows, k, ...cols, packed, wide, cPtr, cRow, cCol, flag);
        else kernels.gemmPlain(aPtr, m, rows[2], k, cols[2], packed, wide, cPtr, cRow, cCol, flag);
      }
      if (wide < n) kernels.gemmNarrow(aPtr, m, ...rows, k, ...cols, packed + (wide / 8) * k * 32, n - wide, cPtr + wide * cCol, cRow, cCol, flag);
      const got = heap.get(cPtr, m * n);
      const actual = transposedC ? Float32Array.from({ length: m * n }, (_, q) => got[(q % n) * m + Math.floor(q / n)]) : got;
      assert.ok(same(actual, expected), `${kind} m ${m} k ${k} n ${n} accumulate ${accumulate} transposed C ${transposedC}`);
    }
  });
}

/** A geometry whose patches all lie inside the image (what the sparse kernels need). */
function insideGeometry(r: () => number, channels: number): Geometry {
  const filterHeight = randomInt(r, 1, 5), filterWidth = randomInt(r, 1, 5), strideHeight = randomInt(r, 1, 3), strideWidth = randomInt(r, 1, 3);
  const outHeight = randomInt(r, 1, 5), outWidth = randomInt(r, 1, 5);
  // sometimes a row or column left over past the last patch
  const height = (outHeight - 1) * strideHeight + filterHeight + randomInt(r, 0, 1), width = (outWidth - 1) * strideWidth + filterWidth + randomInt(r, 0, 1);
  return { height, width, channels, filterHeight, filterWidth, outHeight, outWidth, strideHeight, strideWidth, padTop: 0, padLeft: 0 };
}

test("countNonzero and transposeMatrix equal the JavaScript loops (NaN counts as nonzero)", () => {
  const heap = new Heap(new WebAssembly.Memory({ initial: 1 }));
  const kernels = kernelsFor(heap.memory);
  const r = seeded(37, "splitmix32").uniform;
  for (let i = 0; i < 20; i++) {
    const rows = randomInt(r, 0, 30), cols = randomInt(r, 1, 23);
    const x = randomArray(rows * cols, 1200 + i).map((v) => (v < 0.2 ? 0 : v));
    if (i % 3 === 0 && x.length) x[0] = Number.NaN;
    const at = heap.put(x);
    assert.is(kernels.countNonzero(at, x.length), x.filter((v) => v !== 0).length);
    const dst = heap.put(new Float32Array(x.length).fill(Number.NaN));
    kernels.transposeMatrix(at, rows, cols, dst);
    const expected = Float32Array.from({ length: x.length }, (_, q) => x[(q % rows) * cols + Math.floor(q / rows)]);
    assert.ok(same(heap.get(dst, x.length), expected) || x.some(Number.isNaN), `transpose ${rows}x${cols}`);
  }
});

test("the sparse input and filter gradients equal their JavaScript loops (pairs of nonzeros, odd counts, strides)", () => {
  const heap = new Heap(new WebAssembly.Memory({ initial: 1 }));
  const kernels = kernelsFor(heap.memory);
  const r = seeded(38, "splitmix32").uniform;
  for (let i = 0; i < 40; i++) {
    const g = insideGeometry(r, [1, 3, 4, 5, 8, 20][i % 6]);
    const count = randomInt(r, 1, 3), co = randomInt(r, 1, 9), chunk = randomInt(r, 1, 3);
    const taps = g.filterHeight * g.filterWidth * g.channels;
    // about three quarters zero, as behind ReLU and a 2x2 max pool
    const dy = randomArray(count * g.outHeight * g.outWidth * co, 1300 + i).map((v) => (v < 0.5 ? 0 : v));
    const wT = randomArray(co * taps, 1400 + i), x = randomArray(sizeOf(count, g), 1500 + i);
    const dx = randomArray(sizeOf(count, g), 1600 + i), dWT = randomArray(co * taps, 1700 + i);
    const expectedDx = dx.slice(), expectedDWT = dWT.slice();
    sparseInputGradientOracle(dy, wT, expectedDx, count, co, g);
    sparseFilterGradientOracle(x, dy, expectedDWT, count, chunk, co, g);
    const dyAt = heap.put(dy), wTAt = heap.put(wT), xAt = heap.put(x), dxAt = heap.put(dx), dWTAt = heap.put(dWT);
    const geometry = [g.height, g.width, g.channels, g.filterHeight, g.filterWidth, g.outHeight, g.outWidth, g.strideHeight, g.strideWidth] as const;
    kernels.sparseInputGradient(dyAt, wTAt, dxAt, count, ...geometry, co);
    kernels.sparseFilterGradient(xAt, dyAt, dWTAt, count, chunk, ...geometry, co);
    assert.ok(same(heap.get(dxAt, dx.length), expectedDx), `input gradient ${JSON.stringify(g)} count ${count} co ${co}`);
    assert.ok(same(heap.get(dWTAt, dWT.length), expectedDWT), `filter gradient ${JSON.stringify(g)} count ${count} co ${co} chunk ${chunk}`);
  }
});

test("addRowBias equals the JavaScript loop (any column count, in place too)", () => {
  const heap = new Heap(new WebAssembly.Memory({ initial: 1 }));
  const kernels = kernelsFor(heap.memory);
  const r = seeded(36, "splitmix32").uniform;
  for (let i = 0; i < 30; i++) {
    const rows = randomInt(r, 0, 40), cols = [1, 3, 4, 5, 8, 9, 20, 50][i % 8];
    const x = randomArray(rows * cols, 1000 + i), bias = randomArray(cols, 1100 + i);
    const expected = x.map((v, q) => Math.fround(v + bias[q % cols]));
    const src = heap.put(x), b = heap.put(bias), dst = i % 2 ? src : heap.put(new Float32Array(rows * cols).fill(Number.NaN));
    kernels.addRowBias(src, b, dst, rows, cols);
    assert.ok(same(heap.get(dst, rows * cols), expected), `rows ${rows} cols ${cols}`);
  }
});

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
