// The demo page's drawing-to-input step (pure, so it runs here without a browser).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { inkFromRgba, MNIST_SIDE, toMnistInput } from "../../src/browser/mnist-input.js";

function canvas(width: number, height: number, paint: (x: number, y: number) => number): Float32Array {
  const g = new Float32Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) g[y * width + x] = paint(x, y);
  return g;
}

function bbox(img: Float32Array, side = MNIST_SIDE) {
  let x0 = side, y0 = side, x1 = -1, y1 = -1;
  for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) {
    if (img[y * side + x] > 0.05) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
  }
  return { x0, y0, x1, y1, w: x1 - x0 + 1, h: y1 - y0 + 1 };
}

function centerOfMass(img: Float32Array, side = MNIST_SIDE) {
  let m = 0, cx = 0, cy = 0;
  for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) {
    const v = img[y * side + x];
    m += v; cx += v * (x + 0.5); cy += v * (y + 0.5);
  }
  return { x: cx / m, y: cy / m };
}

test("an empty drawing gives an all-zero input of 784 values", () => {
  const out = toMnistInput(new Float32Array(280 * 280), 280, 280);
  assert.is(out.length, 784);
  assert.ok(out.every((v) => v === 0));
});

test("a stroke in a corner is scaled into a 20-pixel box and centred by its mass", () => {
  // A vertical bar 20 px wide and 120 px tall in the top-left of a 280x280 canvas.
  const img = canvas(280, 280, (x, y) => (x >= 10 && x < 30 && y >= 5 && y < 125 ? 1 : 0));
  const out = toMnistInput(img, 280, 280);
  const box = bbox(out);
  assert.is(box.h, 20, "the long side fills the 20-pixel box");
  assert.ok(box.w >= 3 && box.w <= 4, `aspect ratio kept (width ${box.w})`);
  const com = centerOfMass(out);
  assert.ok(Math.abs(com.x - 14) <= 0.75 && Math.abs(com.y - 14) <= 0.75, `centre of mass near (14, 14): ${com.x}, ${com.y}`);
  assert.ok(out.every((v) => v >= 0 && v <= 1));
});

test("area resampling keeps the ink's total share (a full square stays full inside)", () => {
  const img = canvas(100, 100, (x, y) => (x >= 20 && x < 80 && y >= 20 && y < 80 ? 1 : 0));
  const out = toMnistInput(img, 100, 100);
  const box = bbox(out);
  assert.equal([box.w, box.h], [20, 20]);
  const inside = out.filter((v) => v > 0.05);
  assert.ok(inside.every((v) => Math.abs(v - 1) < 1e-6), "uniform ink stays uniform after area averaging");
});

test("a tall thin stroke near the border is clamped inside the frame", () => {
  const img = canvas(50, 50, (x, y) => (x === 49 ? 1 : 0)); // one column on the right edge
  const out = toMnistInput(img, 50, 50);
  const box = bbox(out);
  assert.ok(box.x0 >= 0 && box.x1 < MNIST_SIDE && box.y0 >= 0 && box.y1 < MNIST_SIDE);
  assert.is(box.h, 20);
});

test("bad input is refused with a message naming the problem", () => {
  assert.throws(() => toMnistInput(new Float32Array(10), 4, 4), /10 values, expected width x height = 16/);
  assert.throws(() => toMnistInput(new Float32Array(0), 0, 0), /positive integers/);
  const nan = new Float32Array(16);
  nan[5] = Number.NaN;
  assert.throws(() => toMnistInput(nan, 4, 4), /pixel \(1, 1\) is NaN/);
  const big = new Float32Array(16);
  big[0] = 2;
  assert.throws(() => toMnistInput(big, 4, 4), /pixel \(0, 0\) is 2/);
  assert.throws(() => inkFromRgba(new Uint8ClampedArray(15), 2, 2), /15 bytes, expected width x height x 4 = 16/);
});

test("canvas pixels become ink: white opaque = 1, black = 0, transparent = 0", () => {
  const rgba = new Uint8ClampedArray([255, 255, 255, 255, 0, 0, 0, 255, 255, 255, 255, 0, 128, 128, 128, 255]);
  const gray = inkFromRgba(rgba, 2, 2);
  assert.equal(Array.from(gray.subarray(0, 3)), [1, 0, 0]);
  assert.ok(Math.abs(gray[3] - 128 / 255) < 1e-6);
});

test.run();
