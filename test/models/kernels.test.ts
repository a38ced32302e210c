// The kernels src/models/kernels adds to tfjs-backend-wasm, against tfjs's cpu kernels on random
// shapes, strides and paddings (relative error <= 1e-5), without leaking tensors.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { initBackend } from "../../src/models/backend.js";
import { trainingKernelNames } from "../../src/models/kernels/index.js";
import { seeded } from "../../src/models/random.js";
import { memorySnapshot, onCpu, onWasm, randomArray, randomInt, relativeError, tf } from "./helpers.js";

const TOLERANCE = 1e-5;
type Pad = "valid" | "same" | number | tf.backend_util.ExplicitPadding;
type Shape4 = [number, number, number, number];

interface ConvCase {
  x: number[];
  filter: number[];
  strides: [number, number];
  pad: Pad;
  seed: number;
}

function randomConvCases(count: number, seed: number): ConvCase[] {
  const r = seeded(seed, "splitmix32").uniform;
  // LeNet's first layer (one channel, stride 1: the contiguous patch-row path), valid and same
  const cases: ConvCase[] = [
    { x: [2, 12, 12, 1], filter: [5, 5, 1, 3], strides: [1, 1], pad: "valid", seed: seed + 900 },
    { x: [2, 9, 7, 1], filter: [3, 3, 1, 2], strides: [1, 1], pad: "same", seed: seed + 901 },
  ];
  while (cases.length < count) {
    const kh = randomInt(r, 1, 5), kw = randomInt(r, 1, 5);
    const h = randomInt(r, kh, 13), w = randomInt(r, kw, 13);
    const ci = randomInt(r, 1, 6), co = randomInt(r, 1, 7);
    const strides: [number, number] = [randomInt(r, 1, 3), randomInt(r, 1, 3)];
    const padKinds: Pad[] = ["valid", "same", randomInt(r, 0, 2), [[0, 0], [randomInt(r, 0, 2), randomInt(r, 0, 2)], [randomInt(r, 0, 2), randomInt(r, 0, 2)], [0, 0]]];
    const pad = padKinds[randomInt(r, 0, padKinds.length - 1)];
    if (typeof pad === "number" && (h + 2 * pad < kh || w + 2 * pad < kw)) continue;
    cases.push({ x: [randomInt(r, 1, 4), h, w, ci], filter: [kh, kw, ci, co], strides, pad, seed: cases.length + seed });
  }
  return cases;
}

// from tfjs's shape arithmetic (the shipped wasm forward conv2d corrupts memory for some numeric pads)
const outputShape = (c: ConvCase) =>
  tf.backend_util.computeConv2DInfo(c.x as [number, number, number, number], c.filter as [number, number, number, number], c.strides, 1, c.pad).outShape;
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const describe = (c: ConvCase) => `x [${c.x}] filter [${c.filter}] strides [${c.strides}] pad ${JSON.stringify(c.pad)}`;

test.before(async () => {
  await initBackend();
});

/** `run` on wasm matches the cpu kernel (relative error <= TOLERANCE) and leaves no tensor or buffer behind. */
async function assertMatchesCpu(run: () => tf.Tensor, label: string): Promise<void> {
  const expected = await onCpu(run);
  const before = memorySnapshot();
  const actual = await onWasm(run);
  assert.equal(memorySnapshot(), before, `no leak: ${label}`);
  assert.ok(relativeError(actual, expected) <= TOLERANCE, `${label}: rel err ${relativeError(actual, expected)}`);
}

test("initBackend runs on wasm, registers every added kernel", () => {
  assert.is(tf.getBackend(), "wasm");
  for (const name of trainingKernelNames) assert.ok(tf.getKernel(name, "wasm"), `${name} registered for wasm`);
});

test("Conv2DBackpropFilter matches the cpu kernel on random shapes, strides and paddings", async () => {
  for (const c of randomConvCases(24, 11)) {
    const xv = randomArray(size(c.x), c.seed);
    const out = outputShape(c);
    const dyv = randomArray(size(out), c.seed + 1000);
    const run = () => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x: tf.tensor(xv, c.x), dy: tf.tensor(dyv, out) }, {
      strides: c.strides, pad: c.pad, dataFormat: "NHWC", filterShape: c.filter,
    } as unknown as tf.NamedAttrMap) as tf.Tensor;
    await assertMatchesCpu(() => tf.tidy(run), describe(c));
  }
});

test("Conv2DBackpropInput matches the cpu kernel on random shapes, strides and paddings", async () => {
  for (const c of randomConvCases(24, 23)) {
    const wv = randomArray(size(c.filter), c.seed);
    const out = outputShape(c);
    const dyv = randomArray(size(out), c.seed + 2000);
    const run = () => tf.engine().runKernel(tf.Conv2DBackpropInput, { dy: tf.tensor(dyv, out), filter: tf.tensor(wv, c.filter) }, {
      strides: c.strides, pad: c.pad, dataFormat: "NHWC", inputShape: c.x,
    } as unknown as tf.NamedAttrMap) as tf.Tensor;
    await assertMatchesCpu(() => tf.tidy(run), describe(c));
  }
});

test("conv gradients from a mostly-zero dy (the sparse paths, and the dense ones where padding rules them out) match the cpu kernels", async () => {
  const cases: ConvCase[] = [
    { x: [3, 12, 12, 20], filter: [5, 5, 20, 50], strides: [1, 1], pad: "valid", seed: 1800 }, // LeNet's conv2
    { x: [2, 9, 11, 8], filter: [3, 3, 8, 5], strides: [2, 1], pad: "valid", seed: 1801 },
    { x: [2, 10, 9, 16], filter: [2, 4, 16, 3], strides: [1, 2], pad: "valid", seed: 1802 },
    { x: [2, 8, 8, 8], filter: [3, 3, 8, 7], strides: [1, 1], pad: "same", seed: 1803 },
    { x: [1, 7, 7, 9], filter: [3, 3, 9, 4], strides: [2, 2], pad: [[0, 0], [1, 0], [0, 1], [0, 0]], seed: 1804 },
  ];
  for (const c of cases) {
    const out = outputShape(c);
    // three quarters zero, as behind ReLU and a 2x2 max pool
    const dyv = randomArray(size(out), c.seed).map((v) => (v < 0.5 ? 0 : v));
    const xv = randomArray(size(c.x), c.seed + 1), wv = randomArray(size(c.filter), c.seed + 2);
    const dW = () => tf.tidy(() => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x: tf.tensor(xv, c.x), dy: tf.tensor(dyv, out) }, {
      strides: c.strides, pad: c.pad, dataFormat: "NHWC", filterShape: c.filter,
    } as unknown as tf.NamedAttrMap) as tf.Tensor);
    const dX = () => tf.tidy(() => tf.engine().runKernel(tf.Conv2DBackpropInput, { dy: tf.tensor(dyv, out), filter: tf.tensor(wv, c.filter) }, {
      strides: c.strides, pad: c.pad, dataFormat: "NHWC", inputShape: c.x,
    } as unknown as tf.NamedAttrMap) as tf.Tensor);
    await assertMatchesCpu(dW, `filter gradient, sparse dy: ${describe(c)}`);
    await assertMatchesCpu(dX, `input gradient, sparse dy: ${describe(c)}`);
  }
});

test("conv gradients agree in NCHW layout and with dimRoundingMode", async () => {
  const xShape = [2, 3, 9, 8]; // NCHW
  const filter = [3, 2, 3, 4];
  const xv = randomArray(size(xShape), 5);
  const dyShape = [2, 4, 4, 4]; // N, Co, OH, OW for stride 2, valid
  const dyv = randomArray(size(dyShape), 6);
  const wv = randomArray(size(filter), 7);
  const dW = () => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x: tf.tensor(xv, xShape), dy: tf.tensor(dyv, dyShape) }, {
    strides: 2, pad: "valid", dataFormat: "NCHW", filterShape: filter,
  } as unknown as tf.NamedAttrMap) as tf.Tensor;
  const dX = () => tf.engine().runKernel(tf.Conv2DBackpropInput, { dy: tf.tensor(dyv, dyShape), filter: tf.tensor(wv, filter) }, {
    strides: 2, pad: "valid", dataFormat: "NCHW", inputShape: xShape,
  } as unknown as tf.NamedAttrMap) as tf.Tensor;
  for (const run of [dW, dX]) {
    const expected = await onCpu(() => tf.tidy(run));
    const actual = await onWasm(() => tf.tidy(run));
    assert.ok(relativeError(actual, expected) <= TOLERANCE, `NCHW rel err ${relativeError(actual, expected)}`);
  }
  // pad as a number with a rounding mode: the output size is rounded, not floored
  const x2 = [1, 7, 7, 2], f2 = [3, 3, 2, 3];
  const x2v = randomArray(size(x2), 8), dy2 = randomArray(size([1, 4, 4, 3]), 9);
  const run2 = () => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x: tf.tensor(x2v, x2), dy: tf.tensor(dy2, [1, 4, 4, 3]) }, {
    strides: 2, pad: 1, dataFormat: "NHWC", dimRoundingMode: "ceil", filterShape: f2,
  } as unknown as tf.NamedAttrMap) as tf.Tensor;
  assert.ok(relativeError(await onWasm(() => tf.tidy(run2)), await onCpu(() => tf.tidy(run2))) <= TOLERANCE);
});

test("Conv2D (forward) matches the cpu kernel on random shapes, strides and paddings (in place without padding)", async () => {
  // numeric pads and unequal strides included: the shipped wasm kernel got some of these wrong
  const cases = randomConvCases(40, 71);
  cases.push({ x: [3, 28, 28, 1], filter: [5, 5, 1, 20], strides: [1, 1], pad: "valid", seed: 990 }, { x: [2, 12, 12, 20], filter: [5, 5, 20, 50], strides: [1, 1], pad: "valid", seed: 991 });
  for (const c of cases) {
    const xv = randomArray(size(c.x), c.seed), wv = randomArray(size(c.filter), c.seed + 3000);
    const run = () => tf.tidy(() => tf.conv2d(tf.tensor4d(xv, c.x as Shape4), tf.tensor4d(wv, c.filter as Shape4), c.strides, c.pad as "valid"));
    await assertMatchesCpu(run, `conv2d ${describe(c)}`);
  }
});

test("Conv2DBackpropFilter rejects a dy whose shape does not fit the convolution", async () => {
  await onWasm(() => tf.zeros([1]));
  assert.throws(
    () => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x: tf.zeros([1, 6, 6, 1]), dy: tf.zeros([1, 3, 3, 2]) }, {
      strides: 1, pad: "valid", dataFormat: "NHWC", filterShape: [3, 3, 1, 2],
    } as unknown as tf.NamedAttrMap),
    /dy has shape \[1,3,3,2\].*\[1,4,4,2\]/,
  );
});

test("MaxPoolGrad matches the cpu kernel, ties included", async () => {
  const r = seeded(31, "splitmix32").uniform;
  for (let i = 0; i < 24; i++) {
    const f: [number, number] = [randomInt(r, 1, 3), randomInt(r, 1, 3)];
    const s: [number, number] = [randomInt(r, 1, 3), randomInt(r, 1, 3)];
    const shape: [number, number, number, number] = [randomInt(r, 1, 3), randomInt(r, f[0], 10), randomInt(r, f[1], 10), randomInt(r, 1, 5)];
    const pad = (["valid", "same"] as const)[i % 2];
    // values on a coarse grid, clipped at 0 like ReLU outputs: many ties within a window
    const xv = randomArray(size(shape), 100 + i).map((v) => Math.max(0, Math.round(v * 3) / 3));
    const outShape: number[] = tf.tidy(() => tf.maxPool(tf.zeros(shape) as tf.Tensor4D, f, s, pad).shape);
    const dyv = randomArray(size(outShape), 200 + i);
    const run = () => tf.tidy(() => {
      const x = tf.tensor(xv, shape) as tf.Tensor4D;
      const y = tf.maxPool(x, f, s, pad);
      return tf.engine().runKernel(tf.MaxPoolGrad, { dy: tf.tensor(dyv, outShape), input: x, output: y }, { filterSize: f, strides: s, pad } as unknown as tf.NamedAttrMap) as tf.Tensor;
    });
    await assertMatchesCpu(run, `shape [${shape}] filter [${f}] strides [${s}] ${pad}`);
  }
});

test("BatchMatMul with transposed operands and broadcast batch dims matches the cpu kernel", async () => {
  const r = seeded(41, "splitmix32").uniform;
  for (let i = 0; i < 16; i++) {
    const m = randomInt(r, 1, 9), k = randomInt(r, 1, 9), n = randomInt(r, 1, 9);
    const ta = i % 2 === 1, tb = (i >> 1) % 2 === 1;
    const batchA = i % 3 === 0 ? [] : [randomInt(r, 1, 3)];
    const batchB = batchA.length && i % 4 === 0 ? [1] : batchA;
    const aShape = [...batchA, ...(ta ? [k, m] : [m, k])];
    const bShape = [...batchB, ...(tb ? [n, k] : [k, n])];
    const av = randomArray(size(aShape), 300 + i), bv = randomArray(size(bShape), 400 + i);
    const run = () => tf.tidy(() => tf.matMul(tf.tensor(av, aShape), tf.tensor(bv, bShape), ta, tb));
    await assertMatchesCpu(run, `a [${aShape}]${ta ? "^T" : ""} b [${bShape}]${tb ? "^T" : ""}`);
  }
});

test("BatchMatMul a·bᵀ with a large b (taken as (b·aᵀ)ᵀ) matches the cpu kernel, broadcasting included", async () => {
  // the dense-layer input gradient's shape (dy [M, K] times W [N, K] transposed) and broadcast batches
  const cases: [number[], number[]][] = [
    [[4, 6], [40, 6]],
    [[1, 3], [9, 3]],
    [[2, 2, 5], [30, 5]],
    [[3, 7], [2, 25, 7]],
    [[1, 2, 4], [3, 20, 4]],
  ];
  for (const [i, [aShape, bShape]] of cases.entries()) {
    const av = randomArray(size(aShape), 700 + i), bv = randomArray(size(bShape), 800 + i);
    const run = () => tf.tidy(() => tf.matMul(tf.tensor(av, aShape), tf.tensor(bv, bShape), false, true));
    await assertMatchesCpu(run, `a [${aShape}] b [${bShape}]^T`);
  }
});

test("BatchMatMul at LeNet's shapes, the GEMM's tile tails and an empty inner dimension matches the cpu kernel", async () => {
  const cases: [number[], number[], boolean, boolean][] = [
    [[64, 800], [800, 500], false, false], // fc1 forward
    [[64, 800], [64, 500], true, false], // fc1 weight gradient
    [[64, 500], [800, 500], false, true], // fc1 input gradient
    [[4096, 50], [500, 50], false, true], // conv2's patch gradients
  ];
  const r = seeded(43, "splitmix32").uniform;
  for (let i = 0; i < 24; i++) {
    // rows around the 4-row tiles, columns around the 8-column strips (and the 1-4 column last strip)
    const m = randomInt(r, 1, 13), n = randomInt(r, 1, 21), k = randomInt(r, 1, 30);
    const ta = i % 2 === 1, tb = (i >> 1) % 2 === 1;
    cases.push([ta ? [k, m] : [m, k], tb ? [n, k] : [k, n], ta, tb]);
  }
  cases.push([[3, 0], [0, 5], false, false], [[2, 3, 0], [2, 0, 9], false, false]);
  for (const [aShape, bShape, ta, tb] of cases) {
    const av = randomArray(size(aShape), size(aShape) + 11), bv = randomArray(size(bShape), size(bShape) + 13);
    const run = () => tf.tidy(() => tf.matMul(tf.tensor(av, aShape), tf.tensor(bv, bShape), ta, tb));
    await assertMatchesCpu(run, `a [${aShape}]${ta ? "^T" : ""} b [${bShape}]${tb ? "^T" : ""}`);
  }
});

test("Add with a bias ([..., C] + [C], either order) matches the cpu kernel; other shapes and dtypes go to the shipped kernel", async () => {
  const cases: [number[], number[]][] = [
    [[64, 24, 24, 20], [20]], [[20], [7, 20]], [[5, 3], [3]], [[2, 2, 2, 50], [50]], [[9, 1], [1]], [[0, 4], [4]],
    [[3, 4], [3, 4]], [[3, 1], [1, 4]], [[4], [4]], [[2, 3], []],
  ];
  for (const [i, [aShape, bShape]] of cases.entries()) {
    const av = randomArray(size(aShape), 1200 + i), bv = randomArray(size(bShape), 1300 + i);
    await assertMatchesCpu(() => tf.tidy(() => tf.add(tf.tensor(av, aShape), tf.tensor(bv, bShape))), `add [${aShape}] + [${bShape}]`);
  }
  const ints = await onWasm(() => tf.tidy(() => tf.add(tf.tensor([[1, 2], [3, 4]], [2, 2], "int32"), tf.tensor1d([10, 20], "int32"))));
  assert.equal(Array.from(ints), [11, 22, 13, 24]);
});

test("Identity and a same-dtype Cast share the buffer: values survive the original, nothing leaks", async () => {
  await onWasm(() => tf.zeros([1]));
  const before = memorySnapshot();
  const x = tf.tensor([1.5, -2, 3], [3]);
  const copy = tf.clone(x);
  const same = tf.cast(x, "float32");
  const ints = tf.cast(x, "int32"); // a real cast: the shipped kernel
  x.dispose();
  assert.equal(Array.from(await copy.data()), [1.5, -2, 3]);
  assert.equal(Array.from(await same.data()), [1.5, -2, 3]);
  assert.equal(Array.from(await ints.data()), [1, -2, 3]);
  tf.dispose([copy, same, ints]);
  assert.equal(memorySnapshot(), before);
});

test("Sum matches the cpu kernel over leading axes (added path) and any other axes (shipped path)", async () => {
  const cases: [number[], number | number[], boolean][] = [
    [[64, 6, 6, 5], [0, 1, 2], false], // a conv bias gradient
    [[7, 9], 0, false],
    [[3, 4, 5], [1, 0], true],
    [[2, 3, 4, 9], [-4, -3], false],
    [[5, 6], 1, false],
    [[4, 5, 6], [0, 2], true],
    [[3, 4], [0, 1], false],
    [[0, 4], 0, false],
  ];
  for (const [i, [shape, axis, keepDims]] of cases.entries()) {
    const xv = randomArray(size(shape), 900 + i);
    const run = () => tf.tidy(() => tf.sum(tf.tensor(xv, shape), axis, keepDims));
    const expected = await onCpu(run);
    const before = memorySnapshot();
    const actual = await onWasm(run);
    assert.equal(memorySnapshot(), before);
    const expectedShape = await onCpu(() => tf.tidy(() => tf.tensor1d(run().shape)));
    assert.equal(Array.from(await onWasm(() => tf.tidy(() => tf.tensor1d(run().shape)))), Array.from(expectedShape), `shape of sum [${shape}] axis ${axis}`);
    assert.ok(relativeError(actual, expected) <= TOLERANCE, `sum [${shape}] axis ${axis}: rel err ${relativeError(actual, expected)}`);
  }
  const ints = await onWasm(() => tf.tidy(() => tf.sum(tf.tensor([[1, 2], [3, 4]], [2, 2], "int32"), 0)));
  assert.equal(Array.from(ints), [4, 6]);
});

test("UnsortedSegmentSum matches the cpu kernel and drops out-of-range ids", async () => {
  const r = seeded(51, "splitmix32").uniform;
  for (let i = 0; i < 8; i++) {
    const rows = randomInt(r, 1, 12), cols = randomInt(r, 1, 5), segments = randomInt(r, 1, 6);
    const xv = randomArray(rows * cols, 500 + i);
    const ids = Int32Array.from({ length: rows }, () => randomInt(r, 0, segments - 1));
    const run = () => tf.tidy(() => tf.unsortedSegmentSum(tf.tensor(xv, [rows, cols]), tf.tensor1d(ids, "int32"), segments));
    const expected = await onCpu(run);
    const before = memorySnapshot();
    const actual = await onWasm(run);
    assert.equal(memorySnapshot(), before);
    assert.ok(relativeError(actual, expected) <= TOLERANCE);
  }
  const dropped = await onWasm(() => tf.unsortedSegmentSum(tf.tensor1d([1, 2, 4, 8]), tf.tensor1d([0, -1, 2, 1], "int32"), 2));
  assert.equal(Array.from(dropped), [1, 8]);
  // the gradient of gather is an UnsortedSegmentSum: it now works on wasm
  const g = await onWasm(() => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.gather(x, tf.tensor1d([2, 0, 2], "int32")), tf.tensor([[1], [2], [3]]))))(tf.ones([3, 2])));
  assert.equal(Array.from(g), [2, 2, 0, 0, 4, 4]);
});

test("a conv/pool/dense network's gradients on wasm match cpu (training and input gradients)", async () => {
  const xv = randomArray(2 * 12 * 12 * 1, 61, 0.5).map((v) => v + 0.5);
  const w1 = randomArray(3 * 3 * 1 * 4, 62, 0.5), w2 = randomArray(3 * 3 * 4 * 6, 63, 0.3), w3 = randomArray(6 * 3, 64, 0.3);
  const labels = tf.tidy(() => tf.oneHot(tf.tensor1d([1, 2], "int32"), 3).arraySync());
  const net = (x: tf.Tensor, a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => {
    let h = tf.relu(tf.conv2d(x as tf.Tensor4D, a as tf.Tensor4D, 1, "valid"));
    h = tf.maxPool(h as tf.Tensor4D, 2, 2, "valid");
    h = tf.relu(tf.conv2d(h as tf.Tensor4D, b as tf.Tensor4D, 2, "same"));
    h = tf.maxPool(h as tf.Tensor4D, 2, 2, "valid");
    const logits = tf.matMul(tf.reshape(h, [2, -1]), c);
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.tensor(labels), tf.logSoftmax(logits)), 1))) as tf.Scalar;
  };
  const grads = () => tf.tidy(() => {
    const gs = tf.grads(net)([tf.tensor(xv, [2, 12, 12, 1]), tf.tensor(w1, [3, 3, 1, 4]), tf.tensor(w2, [3, 3, 4, 6]), tf.tensor(w3, [6, 3])]);
    return tf.concat(gs.map((g) => g.reshape([-1])));
  });
  const expected = await onCpu(grads);
  const actual = await onWasm(grads);
  assert.ok(relativeError(actual, expected) <= TOLERANCE, `rel err ${relativeError(actual, expected)}`);
});

test("LeNet's gradients (zoo shapes, batch 4) on wasm match cpu", async () => {
  const shapes = [[5, 5, 1, 20], [20], [5, 5, 20, 50], [50], [800, 500], [500], [500, 10], [10]];
  const weights = shapes.map((s, i) => randomArray(size(s), 1400 + i, 0.2));
  const xv = randomArray(4 * 28 * 28, 1500, 0.5).map((v) => v + 0.5);
  const labels = tf.tidy(() => tf.oneHot(tf.tensor1d([3, 1, 4, 1], "int32"), 10).arraySync());
  const net = (x: tf.Tensor, ...w: tf.Tensor[]) => {
    let h = tf.relu(tf.add(tf.conv2d(x as tf.Tensor4D, w[0] as tf.Tensor4D, 1, "valid"), w[1]));
    h = tf.maxPool(h as tf.Tensor4D, 2, 2, "valid");
    h = tf.relu(tf.add(tf.conv2d(h as tf.Tensor4D, w[2] as tf.Tensor4D, 1, "valid"), w[3]));
    h = tf.maxPool(h as tf.Tensor4D, 2, 2, "valid");
    h = tf.relu(tf.add(tf.matMul(tf.reshape(h, [4, 800]), w[4]), w[5]));
    const logits = tf.add(tf.matMul(h, w[6]), w[7]);
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.tensor(labels), tf.logSoftmax(logits)), 1))) as tf.Scalar;
  };
  const grads = () => tf.tidy(() => {
    const gs = tf.grads(net)([tf.tensor(xv, [4, 28, 28, 1]), ...weights.map((w, i) => tf.tensor(w, shapes[i]))]);
    return tf.concat(gs.map((g) => g.reshape([-1])));
  });
  await assertMatchesCpu(grads, "LeNet gradients");
});

test.run();
