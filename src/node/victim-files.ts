// "Train on first use, cache in a directory": a victim model in DIR (model.json, weights.bin,
// victim.json metadata), retrained when missing or when its metadata does not match the request.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type * as tf from "@tensorflow/tfjs";
import { loadMnist, type Split } from "../models/datasets.js";
import { trainVictim, VICTIM_DEFAULTS, type VictimMetadata, type VictimOptions } from "../models/victim.js";
import { loadFashionMnist } from "./fashion-mnist.js";
import { loadLayersModelFromDir, modelExists, saveModelToDir } from "./model-files.js";
import { FileError } from "./errors.js";
import { ModelConfigError } from "../models/errors.js";

export type VictimDataset = "mnist" | "fashion-mnist";
export const victimDatasets: readonly VictimDataset[] = ["mnist", "fashion-mnist"];

const METADATA_FILE = "victim.json";

/** The data a victim trains and is tested on: MNIST's seeded 8,000/2,000 split, or Fashion-MNIST's own split. */
export function victimData(dataset: VictimDataset, options: { seed?: number; fashionMnistDir?: string } = {}): Split {
  if (dataset === "mnist") return loadMnist({ seed: options.seed ?? 0 });
  if (dataset === "fashion-mnist") return loadFashionMnist({ dir: options.fashionMnistDir });
  throw new ModelConfigError(`unknown dataset "${String(dataset)}"; expected one of ${victimDatasets.join(", ")}`);
}

export function readVictimMetadata(dir: string): VictimMetadata | null {
  const path = join(dir, METADATA_FILE);
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as VictimMetadata;
  } catch (err) {
    throw new FileError(path, `${path} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Writes a trained victim (model + victim.json) to `dir`. */
export async function saveVictimToDir(dir: string, model: tf.LayersModel, metadata: VictimMetadata): Promise<void> {
  await saveModelToDir(model, dir);
  writeFileSync(join(dir, METADATA_FILE), JSON.stringify(metadata, null, 2) + "\n");
}

/** Trains a victim and writes it (model + metadata) to `dir`. */
export async function trainVictimToDir(dir: string, options: VictimOptions & { dataset: VictimDataset; fashionMnistDir?: string }): Promise<{ model: tf.LayersModel; metadata: VictimMetadata }> {
  const split = victimData(options.dataset, { fashionMnistDir: options.fashionMnistDir });
  const trained = await trainVictim(split, options);
  await saveVictimToDir(dir, trained.model, trained.metadata);
  return trained;
}

function matches(meta: VictimMetadata, options: VictimOptions): boolean {
  const o = { ...VICTIM_DEFAULTS, ...options };
  return meta.arch === o.arch && meta.dataset === o.dataset && meta.seed === o.seed && meta.epochs === o.epochs &&
    meta.batchSize === o.batchSize && meta.learningRate === o.learningRate && meta.momentum === o.momentum &&
    (o.trainCount === undefined || meta.trainCount === o.trainCount);
}

/** The cached victim in `dir` if it matches `options`, else a freshly trained (and cached) one. */
export async function loadOrTrainVictim(dir: string, options: VictimOptions & { dataset: VictimDataset; fashionMnistDir?: string }): Promise<{ model: tf.LayersModel; metadata: VictimMetadata; cached: boolean }> {
  const meta = readVictimMetadata(dir);
  if (meta && modelExists(dir) && matches(meta, options)) {
    return { model: await loadLayersModelFromDir(dir), metadata: meta, cached: true };
  }
  return { ...(await trainVictimToDir(dir, options)), cached: false };
}
