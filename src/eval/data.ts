// The evaluation's data: the victim's training images, the held-out images (JB seeds, and the
// in-distribution transfer pool), the test set, and Knockoff's transfer pool with its name. For a
// user's own victim (EvalConfig.user), the test set, pool and seeds come from the user's files.
import type { LabeledImages } from "../models/labeled-images.js";
import { subset } from "../models/labeled-images.js";
import { argmaxRows } from "../models/argmax.js";
import { seeded } from "../models/random.js";
import type { ProbabilityModel } from "../models/types.js";
import type { Architecture } from "../models/zoo.js";
import type * as tf from "@tensorflow/tfjs";
import { describeThief } from "../thieves/registry.js";
import type { ImageSet } from "../thieves/thief.js";
import { predictAll } from "./black-box.js";
import type { EvalConfig, UserRunConfig } from "./config.js";
import { runSeeds } from "./seeds.js";
import { EvalConfigError, EvalDataError } from "./errors.js";

export interface EvalData {
  readonly dataset: string;
  readonly numClasses: number;
  readonly inputShape: readonly number[];
  /** null for a user's own victim: it was trained elsewhere, on data the evaluation does not have. */
  readonly victimTrain: LabeledImages | null;
  /** The JB thieves' seeds (and the in-distribution transfer pool of the presets). */
  readonly heldOut: ImageSet;
  readonly test: LabeledImages;
  /**
   * "victim": the test set came without labels and is labelled with the victim's top-1, so every accuracy
   * measured on it is agreement with the victim (fidelity). Absent: "given".
   */
  readonly testLabels?: "given" | "victim";
  /** Knockoff's query pool and what it is ("fashion-mnist", "mnist-heldout", ...). */
  readonly pool: ImageSet;
  readonly poolName: string;
  /** What the JB thieves' seeds are, in points' transferSet; default "<dataset>-heldout seeds". */
  readonly seedsName?: string;
  /** What a user run's data are, for logs and reports (absent for the built-in data sets). */
  readonly described?: Readonly<Record<"test" | "transfer" | "seeds", string>>;
}

/** Images a user named (evaluate --test, --transfer, --seeds), as the environment loaded them. */
export type UserImages =
  | { readonly kind: "labeled"; readonly data: LabeledImages; readonly path: string; readonly format: string }
  | { readonly kind: "unlabeled"; readonly data: ImageSet & { readonly name: string }; readonly path: string; readonly format: string };

/** A user's own model to defend, loaded by the environment. */
export interface UserVictim {
  readonly model: ProbabilityModel;
  /** Hash of the model's files: names its answers in caches. */
  readonly hash: string;
  /** The name reports give it (the directory's, or victim.json's data set). */
  readonly name: string;
  /** Its zoo architecture and class names when its directory says (victim.json, written by train). */
  readonly arch?: Architecture;
  readonly classNames?: readonly string[];
  /** One line for logs: where it is and what it is. */
  readonly description: string;
}

/** Loading a user's files: the Node environment reads paths (src/node/eval-environment.ts). */
export interface UserDataSources {
  victim(ref: string, outputs: "logits" | "probabilities"): Promise<UserVictim>;
  /** Images resized to the victim's input; labelled ones checked against its classes. */
  images(ref: string, expect: { readonly inputShape: readonly number[]; readonly numClasses: number; readonly classNames?: readonly string[] }): Promise<UserImages>;
  /** A trained LayersModel with logits out (MAD's proxy, --proxy-model). */
  layersModel(ref: string): Promise<tf.LayersModel>;
}

/** Where images come from; Fashion-MNIST needs the file system, so the caller (Node) supplies it. */
export interface DataSources {
  mnist(splitSeed: number): { train: LabeledImages; test: LabeledImages };
  /** null when the Debian package dataset-fashion-mnist is not installed. */
  fashionMnist(): { train: LabeledImages; test: LabeledImages } | null;
  /** A user's own victim and images; absent where there is no file system. */
  user?: UserDataSources;
}

function range(start: number, end: number): Int32Array {
  return Int32Array.from({ length: end - start }, (_, i) => start + i);
}

/** The last `heldOutSize` images of `images` are held out; the rest are kept. */
function split(images: LabeledImages, heldOutSize: number, what: string): { kept: LabeledImages; heldOut: LabeledImages } {
  if (!Number.isInteger(heldOutSize) || heldOutSize < 1 || heldOutSize >= images.count) {
    throw new EvalConfigError(`heldOutSize must be an integer in [1, ${images.count - 1}] (the ${what} has ${images.count} images), got ${heldOutSize}`);
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
  if (config.dataset === "user") throw new EvalConfigError('dataset "user" is a user\'s own victim and data: prepareUserData loads them');
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
        throw new EvalDataError("transfer set fashion-mnist requested but it is not installed (apt-get install dataset-fashion-mnist)", undefined, "not-found");
      }
    } else if (config.transfer !== "heldout") {
      throw new EvalConfigError(`transfer set "${config.transfer}" does not apply to an MNIST victim (use auto, fashion-mnist or heldout)`);
    }
    return { dataset: "mnist", numClasses: train.numClasses, inputShape: train.inputShape, victimTrain, heldOut, test, pool, poolName };
  }
  if (config.dataset === "fashion-mnist") {
    const fashion = sources.fashionMnist();
    if (!fashion) throw new EvalDataError("dataset fashion-mnist is not installed (apt-get install dataset-fashion-mnist)", undefined, "not-found");
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
      throw new EvalConfigError(`transfer set "${config.transfer}" does not apply to a Fashion-MNIST victim (use auto, mnist or heldout)`);
    }
    return { dataset: "fashion-mnist", numClasses: fashion.train.numClasses, inputShape: fashion.train.inputShape, victimTrain, heldOut, test, pool, poolName };
  }
  throw new EvalConfigError(`unknown dataset "${config.dataset as string}" (known: mnist, fashion-mnist)`);
}

const describeImages = (images: UserImages) =>
  `${images.path} (${images.data.count} images, ${images.format}${images.kind === "labeled" ? `, ${images.data.numClasses} classes` : ", unlabeled"})`;

/**
 * A user run's data: the test set (labelled, or labelled here with the victim's top-1), Knockoff's pool
 * (--transfer) and the JB seeds (--seeds, else a seeded share of the test set, withheld from it, when a
 * JB thief runs). All images are resized to the victim's input by the sources.
 */
export async function prepareUserData(
  config: Pick<EvalConfig, "attacks" | "heldOutSize" | "seed"> & { readonly user: UserRunConfig },
  sources: UserDataSources,
  victim: UserVictim,
  log: (message: string) => void = () => {},
): Promise<EvalData> {
  const { user } = config;
  const expect = { inputShape: victim.model.inputShape, numClasses: victim.model.numClasses, classNames: victim.classNames };
  const loaded = await sources.images(user.test, expect);
  if (loaded.data.count < 1) throw new EvalDataError(`test set ${loaded.path}: holds no images`);
  let test: LabeledImages;
  let testLabels: "given" | "victim" = "given";
  if (loaded.kind === "labeled") test = { ...loaded.data, numClasses: victim.model.numClasses };
  else {
    // No labels: the victim's top-1 stands in, so accuracy on this set is agreement with the victim.
    const probs = await predictAll(victim.model, loaded.data.images, loaded.data.count, victim.model.inputShape);
    const labels = argmaxRows(probs, loaded.data.count, victim.model.numClasses);
    test = { ...loaded.data, labels, numClasses: victim.model.numClasses };
    testLabels = "victim";
    log(`test set ${loaded.path} has no labels: accuracies are reported as agreement with the victim's top-1 (fidelity)`);
  }
  const transfer = await sources.images(user.transfer, expect);
  const pool: ImageSet = { images: transfer.data.images, count: transfer.data.count, inputShape: transfer.data.inputShape };
  const needsSeeds = config.attacks.some((a) => describeThief(a).data === "seeds");
  let heldOut: ImageSet;
  let seedsText: string;
  let seedsName = `${test.name} seeds`;
  if (user.seeds) {
    const seeds = await sources.images(user.seeds, expect);
    heldOut = { images: seeds.data.images, count: seeds.data.count, inputShape: seeds.data.inputShape };
    seedsText = describeImages(seeds);
    seedsName = `${seeds.data.name} seeds`;
  } else if (needsSeeds) {
    // A seeded shuffle first: an image folder lists its classes one after another.
    const size = Math.min(config.heldOutSize, Math.floor(test.count / 5));
    if (size < 1) throw new EvalDataError(`test set ${loaded.path}: ${test.count} images are too few to withhold JB seeds from (at least 5 needed; or give --seeds)`);
    const order = seeded(runSeeds(config.seed).split, "splitmix32").permutation(test.count); // splitmix32: the split cached results were computed on
    const seeds = subset(test, order.subarray(test.count - size));
    test = { ...subset(test, order.subarray(0, test.count - size)), name: test.name };
    heldOut = seeds;
    seedsText = `${size} images of the test set (seeded choice), withheld from it: the test set keeps ${test.count}`;
  } else {
    heldOut = { images: new Float32Array(0), count: 0, inputShape: test.inputShape };
    seedsText = "none (no JB thief)";
  }
  return {
    dataset: victim.name,
    numClasses: victim.model.numClasses,
    inputShape: victim.model.inputShape,
    victimTrain: null,
    heldOut,
    test,
    testLabels,
    pool,
    poolName: transfer.data.name,
    seedsName,
    described: {
      test: `${describeImages(loaded)}${testLabels === "victim" ? "; labelled with the victim's top-1" : ""}`,
      transfer: describeImages(transfer),
      seeds: seedsText,
    },
  };
}
