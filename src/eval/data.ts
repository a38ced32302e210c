// The evaluation's data: the victim's training images, the held-out images (JB seeds, and the
// in-distribution transfer pool), the test set, and Knockoff's transfer pool with its name.
import type { LabeledImages } from "../models/labeled-images.js";
import { subset } from "../models/labeled-images.js";
import type { ImageSet } from "../thieves/thief.js";
import type { EvalConfig } from "./config.js";
import { runSeeds } from "./seeds.js";

export interface EvalData {
  readonly dataset: string;
  readonly numClasses: number;
  readonly inputShape: readonly number[];
  readonly victimTrain: LabeledImages;
  readonly heldOut: LabeledImages;
  readonly test: LabeledImages;
  /** Knockoff's query pool and what it is ("fashion-mnist", "mnist-heldout", ...). */
  readonly pool: ImageSet;
  readonly poolName: string;
}

/** Where images come from; Fashion-MNIST needs the file system, so the caller (Node) supplies it. */
export interface DataSources {
  mnist(splitSeed: number): { train: LabeledImages; test: LabeledImages };
  /** null when the Debian package dataset-fashion-mnist is not installed. */
  fashionMnist(): { train: LabeledImages; test: LabeledImages } | null;
}

function range(start: number, end: number): Int32Array {
  return Int32Array.from({ length: end - start }, (_, i) => start + i);
}

/** The last `heldOutSize` images of `images` are held out; the rest are kept. */
function split(images: LabeledImages, heldOutSize: number, what: string): { kept: LabeledImages; heldOut: LabeledImages } {
  if (!Number.isInteger(heldOutSize) || heldOutSize < 1 || heldOutSize >= images.count) {
    throw new RangeError(`heldOutSize must be an integer in [1, ${images.count - 1}] (the ${what} has ${images.count} images), got ${heldOutSize}`);
  }
  const cut = images.count - heldOutSize;
  return { kept: subset(images, range(0, cut)), heldOut: subset(images, range(cut, images.count)) };
}

/**
 * Held out from the training set (the victim trains on the rest), or from the test set (the victim trains
 * on every training image, as in the paper, and accuracy is measured on the remaining test images).
 */
function holdOut(
  train: LabeledImages,
  test: LabeledImages,
  config: Pick<EvalConfig, "heldOutSize" | "heldOutFrom">,
): { victimTrain: LabeledImages; heldOut: LabeledImages; test: LabeledImages } {
  if ((config.heldOutFrom ?? "train") === "test") {
    const { kept, heldOut } = split(test, config.heldOutSize, "test set");
    return { victimTrain: train, heldOut, test: kept };
  }
  const { kept, heldOut } = split(train, config.heldOutSize, "training set");
  return { victimTrain: kept, heldOut, test };
}

export function prepareData(config: Pick<EvalConfig, "dataset" | "transfer" | "heldOutSize" | "heldOutFrom" | "seed">, sources: DataSources): EvalData {
  const splitSeed = runSeeds(config.seed).split;
  if (config.dataset === "mnist") {
    const { train, test: fullTest } = sources.mnist(splitSeed);
    const { victimTrain, heldOut, test } = holdOut(train, fullTest, config);
    let pool: ImageSet = heldOut;
    let poolName = "mnist-heldout";
    if (config.transfer === "fashion-mnist" || config.transfer === "auto") {
      const fashion = sources.fashionMnist();
      if (fashion) {
        pool = fashion.train;
        poolName = "fashion-mnist";
      } else if (config.transfer === "fashion-mnist") {
        throw new Error("transfer set fashion-mnist requested but it is not installed (apt-get install dataset-fashion-mnist)");
      }
    } else if (config.transfer !== "heldout") {
      throw new RangeError(`transfer set "${config.transfer}" does not apply to an MNIST victim (use auto, fashion-mnist or heldout)`);
    }
    return { dataset: "mnist", numClasses: train.numClasses, inputShape: train.inputShape, victimTrain, heldOut, test, pool, poolName };
  }
  if (config.dataset === "fashion-mnist") {
    const fashion = sources.fashionMnist();
    if (!fashion) throw new Error("dataset fashion-mnist is not installed (apt-get install dataset-fashion-mnist)");
    const { victimTrain, heldOut, test } = holdOut(fashion.train, fashion.test, config);
    let pool: ImageSet = heldOut;
    let poolName = "fashion-mnist-heldout";
    if (config.transfer === "auto" || config.transfer === "mnist") {
      // MNIST digits are the out-of-distribution pool for a Fashion-MNIST victim.
      const mnist = sources.mnist(splitSeed);
      const images = new Float32Array(mnist.train.images.length + mnist.test.images.length);
      images.set(mnist.train.images);
      images.set(mnist.test.images, mnist.train.images.length);
      pool = { images, count: mnist.train.count + mnist.test.count, inputShape: mnist.train.inputShape };
      poolName = "mnist";
    } else if (config.transfer !== "heldout") {
      throw new RangeError(`transfer set "${config.transfer}" does not apply to a Fashion-MNIST victim (use auto, mnist or heldout)`);
    }
    return { dataset: "fashion-mnist", numClasses: fashion.train.numClasses, inputShape: fashion.train.inputShape, victimTrain, heldOut, test, pool, poolName };
  }
  throw new RangeError(`unknown dataset "${config.dataset as string}" (known: mnist, fashion-mnist)`);
}
