// Fashion-MNIST from the Debian package `dataset-fashion-mnist` (gzipped IDX files). Node only.
import { existsSync, readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import { labeledImagesFromIdx, type Split } from "../models/labeled-images.js";
import { FileError } from "./errors.js";

/** Where `apt-get install dataset-fashion-mnist` puts the files. */
export const FASHION_MNIST_DEFAULT_DIR = "/usr/share/datasets/fashion-mnist";

export const FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"] as const;

const FILES = {
  trainImages: "train-images-idx3-ubyte.gz",
  trainLabels: "train-labels-idx1-ubyte.gz",
  testImages: "t10k-images-idx3-ubyte.gz",
  testLabels: "t10k-labels-idx1-ubyte.gz",
};

/** The directory used: the option, else $FASHION_MNIST_DIR, else the Debian package's. */
export function fashionMnistDir(dir?: string): string {
  return dir ?? process.env.FASHION_MNIST_DIR ?? FASHION_MNIST_DEFAULT_DIR;
}

export function fashionMnistAvailable(dir?: string): boolean {
  const d = fashionMnistDir(dir);
  return Object.values(FILES).every((f) => existsSync(join(d, f)));
}

function readGzipped(path: string): Uint8Array {
  const packed = readFileSync(path);
  try {
    return new Uint8Array(gunzipSync(packed));
  } catch (err) {
    throw new FileError(path, `${path}: not a valid gzip file (${(err as Error).message}); reinstall with \`apt-get install --reinstall dataset-fashion-mnist\``);
  }
}

/** The 60,000 training and 10,000 test images of Fashion-MNIST, pixels in [0, 1]. */
export function loadFashionMnist(options: { dir?: string } = {}): Split {
  const dir = fashionMnistDir(options.dir);
  const missing = Object.values(FILES).filter((f) => !existsSync(join(dir, f)));
  if (missing.length) {
    throw new FileError(
      dir,
      `Fashion-MNIST not found: ${missing.map((f) => join(dir, f)).join(", ")} missing. ` +
        `Install it with \`apt-get install dataset-fashion-mnist\` (files go to ${FASHION_MNIST_DEFAULT_DIR}), ` +
        `or point to a directory holding the four *-ubyte.gz files.`,
      "not-found",
    );
  }
  const load = (images: string, labels: string, name: string) =>
    labeledImagesFromIdx(readGzipped(join(dir, images)), readGzipped(join(dir, labels)), { name, numClasses: 10 });
  return {
    train: load(FILES.trainImages, FILES.trainLabels, "fashion-mnist-train"),
    test: load(FILES.testImages, FILES.testLabels, "fashion-mnist-test"),
  };
}
