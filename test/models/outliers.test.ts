// The synthetic outlier generator of outlier exposure: seeded, prefix-stable, in [0, 1], every kind what it says.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadMnist, subset } from "../../src/models/datasets.js";
import { generateOutliers, OUTLIER_KINDS, type OutlierKind } from "../../src/models/outliers.js";

const mnist = loadMnist({ seed: 0 });
const source = subset(mnist.train, Array.from({ length: 50 }, (_, i) => i));
const SIZE = 784;

const image = (images: Float32Array, i: number, size = SIZE) => images.subarray(i * size, (i + 1) * size);
const sorted = (a: ArrayLike<number>) => Array.from(a).sort((x, y) => x - y);

test("deterministic per seed, different across seeds, and a set's prefix is the smaller set", () => {
  const a = generateOutliers({ count: 16, seed: 7, source });
  const b = generateOutliers({ count: 16, seed: 7, source });
  const c = generateOutliers({ count: 16, seed: 8, source });
  const prefix = generateOutliers({ count: 6, seed: 7, source });
  assert.equal(Array.from(a.images), Array.from(b.images));
  assert.not.equal(Array.from(a.images), Array.from(c.images));
  assert.equal(Array.from(prefix.images), Array.from(a.images.subarray(0, 6 * SIZE)));
  for (let i = 0; i < 16; i++) assert.not.equal(Array.from(image(a.images, i)), Array.from(image(c.images, i)), `image ${i}`);
});

test("pixels in [0, 1], the kinds in equal shares, every image has ink and dark ground", () => {
  const set = generateOutliers({ count: 200, seed: 1, source });
  assert.equal(set.inputShape, [28, 28, 1]);
  assert.is(set.images.length, 200 * SIZE);
  for (const v of set.images) assert.ok(Number.isFinite(v) && v >= 0 && v <= 1, `pixel ${v}`);
  for (const kind of OUTLIER_KINDS) assert.is(set.kinds.filter((k) => k === kind).length, 50, kind);
  for (let i = 0; i < set.count; i++) {
    const px = image(set.images, i);
    const max = Math.max(...px);
    const dark = px.filter((v) => v < 0.1).length / SIZE;
    assert.ok(max > 0.3, `${set.kinds[i]} image ${i}: no ink (max ${max})`);
    assert.ok(dark > 0.2, `${set.kinds[i]} image ${i}: only ${dark} of the pixels dark`);
  }
  assert.match(set.name, /blurred-noise\+shapes\+pixel-shuffle\+patch-shuffle/);
});

test("the shuffles keep a source image's pixel values and move them", () => {
  const set = generateOutliers({ count: 20, seed: 3, source, kinds: ["pixel-shuffle", "patch-shuffle"] });
  const sources = Array.from({ length: source.count }, (_, j) => ({ raw: Array.from(image(source.images, j)), values: sorted(image(source.images, j)).join() }));
  for (let i = 0; i < set.count; i++) {
    const px = image(set.images, i);
    const match = sources.find((s) => s.values === sorted(px).join());
    assert.ok(match, `${set.kinds[i]} image ${i}: not a permutation of any source image`);
    assert.not.equal(Array.from(px), match!.raw, `${set.kinds[i]} image ${i}: left in place`);
  }
});

test("synthetic kinds need no source; any [height, width, channels] works", () => {
  for (const shape of [[32, 32, 3], [20, 24, 1], [3, 5, 2]]) {
    const set = generateOutliers({ count: 8, seed: 2, inputShape: shape, kinds: ["blurred-noise", "shapes"] });
    const size = shape[0] * shape[1] * shape[2];
    assert.is(set.images.length, 8 * size);
    for (const v of set.images) assert.ok(v >= 0 && v <= 1);
    for (let i = 0; i < 8; i++) assert.ok(Math.max(...image(set.images, i, size)) > 0, `[${shape}] image ${i} is black`);
  }
  const colour = { ...source, inputShape: [7, 7, 16] }; // 784 values per image, read as 7 x 7 x 16
  const shuffled = generateOutliers({ count: 4, seed: 2, source: colour, kinds: ["pixel-shuffle", "patch-shuffle"] });
  assert.equal(shuffled.inputShape, [7, 7, 16]);
});

test("never Math.random", () => {
  const original = Math.random;
  Math.random = () => {
    throw new Error("Math.random called");
  };
  try {
    generateOutliers({ count: 8, seed: 0, source });
  } finally {
    Math.random = original;
  }
});

test("bad options are rejected with the reason", () => {
  assert.throws(() => generateOutliers({ count: 4, seed: 0, inputShape: [28, 28, 1] }), /pixel-shuffle and patch-shuffle .* pass source/);
  assert.throws(() => generateOutliers({ count: 4, seed: 0, source, kinds: ["static" as OutlierKind] }), /unknown kind "static"/);
  assert.throws(() => generateOutliers({ count: 4, seed: 0, source, kinds: [] }), /kinds is empty/);
  assert.throws(() => generateOutliers({ count: 4, seed: 0 }), /give inputShape/);
  assert.throws(() => generateOutliers({ count: 4, seed: 0, inputShape: [28, 28] }), /inputShape must be \[height, width, channels\]/);
  assert.throws(() => generateOutliers({ count: 4, seed: 0, source, inputShape: [14, 56, 1] }), /source images are \[28,28,1\]/);
  assert.throws(() => generateOutliers({ count: -1, seed: 0, source }), /count must be an integer/);
  assert.throws(() => generateOutliers({ count: 4, seed: -1, source }), /seed must be an integer/);
  assert.is(generateOutliers({ count: 0, seed: 0, source }).images.length, 0);
});

test.run();
