// A user's own victim and data for the evaluation (evaluate --victim --test --transfer --seeds): tfjs
// model directories and data files (./data-files.ts), resolved from the paths in EvalConfig.user.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type * as tf from "@tensorflow/tfjs";
import type { UserDataSources, UserImages, UserVictim } from "../eval/data.js";
import { TfjsClassifier } from "../models/tfjs-model.js";
import { architectures, type Architecture } from "../models/zoo.js";
import { loadImageData } from "./data-files.js";
import { loadLayersModelFromDir, loadModelFromDir, modelExists } from "./model-files.js";
import { readVictimMetadata } from "./victim-files.js";
import { FileError } from "./errors.js";

/** SHA-256 of model.json and the weight files it lists: equal hashes mean the same model. */
function modelHash(dir: string): string {
  const hash = createHash("sha256");
  const jsonPath = join(dir, "model.json");
  const text = readFileSync(jsonPath, "utf8");
  hash.update(text);
  let manifest: { paths?: string[] }[] = [];
  try {
    manifest = (JSON.parse(text) as { weightsManifest?: { paths?: string[] }[] }).weightsManifest ?? [];
  } catch {
    // loadModelFromDir reports the broken model.json
  }
  for (const group of manifest) {
    for (const p of group.paths ?? []) {
      const file = join(dir, p);
      if (existsSync(file)) hash.update(readFileSync(file));
    }
  }
  return hash.digest("hex").slice(0, 16);
}

function requireModelDir(ref: string, what: string): string {
  const dir = resolve(ref);
  if (!existsSync(dir)) throw new FileError(dir, `${what} ${dir}: does not exist`, "not-found");
  if (!modelExists(dir)) throw new FileError(dir, `${what} ${dir}: no model.json there (give a tfjs model directory: model.json + weights)`, "not-found");
  return dir.endsWith("model.json") ? resolve(dir, "..") : dir;
}

export function nodeUserSources(): UserDataSources {
  return {
    async victim(ref, outputs): Promise<UserVictim> {
      const dir = requireModelDir(ref, "victim");
      const loaded = await loadModelFromDir(dir);
      const model = new TfjsClassifier(loaded, { outputs });
      const meta = readVictimMetadata(dir);
      const kind = "layers" in loaded ? "LayersModel" : "GraphModel";
      const arch = meta && architectures.includes(meta.arch) ? (meta.arch as Architecture) : undefined;
      const classNames = meta?.classNames && meta.classNames.length === model.numClasses ? meta.classNames : undefined;
      const trained = meta
        ? `; victim.json: ${meta.arch} trained on ${meta.dataset}, test accuracy ${(meta.accuracy * 100).toFixed(1)} % on ${meta.testCount} images`
        : "";
      return {
        model,
        hash: modelHash(dir),
        name: basename(dir),
        arch,
        classNames,
        description: `${dir} (${kind}, input [${model.inputShape.join("x")}], ${model.numClasses} classes, outputs ${outputs}${trained})`,
      };
    },
    async images(ref, expect): Promise<UserImages> {
      const shape = expect.inputShape;
      if (shape.length !== 3 || (shape[2] !== 1 && shape[2] !== 3)) {
        throw new FileError(resolve(ref), `${resolve(ref)}: the victim takes inputs of shape [${shape}]; images can be given to models that take [height, width, 1 or 3]`);
      }
      const loaded = await loadImageData(ref, { inputShape: shape, numClasses: expect.numClasses, classNames: expect.classNames });
      return loaded.kind === "labeled"
        ? { kind: "labeled", data: loaded.data, path: loaded.path, format: loaded.format }
        : { kind: "unlabeled", data: loaded.data, path: loaded.path, format: loaded.format };
    },
    async layersModel(ref): Promise<tf.LayersModel> {
      return loadLayersModelFromDir(requireModelDir(ref, "proxy model"));
    },
  };
}
