// Models on the local file system in the standard tfjs layout: DIR/model.json + DIR/weights.bin.
// Node only (browsers load from URLs through src/models/serialization.ts).
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { loadModel, loadLayersModel, saveModel } from "../models/serialization.js";
import { FileError } from "./errors.js";

const WEIGHTS_FILE = "weights.bin";

function toDirectory(dirOrUrl: string): string {
  const path = dirOrUrl.startsWith("file://") ? fileURLToPath(dirOrUrl) : dirOrUrl;
  return path.endsWith("model.json") ? dirname(path) : path;
}

/** A tf.io.IOHandler reading and writing DIR/model.json and its weight files. */
export function fileSystemHandler(dir: string): tf.io.IOHandler {
  const directory = toDirectory(dir);
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) throw new Error("saving binary model topologies is not supported");
      mkdirSync(directory, { recursive: true });
      const weights = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const manifest: tf.io.WeightsManifestConfig = [{ paths: [`./${WEIGHTS_FILE}`], weights: artifacts.weightSpecs ?? [] }];
      const json: tf.io.ModelJSON = { modelTopology: artifacts.modelTopology ?? {}, weightsManifest: manifest };
      if (artifacts.format !== undefined) json.format = artifacts.format;
      if (artifacts.generatedBy !== undefined) json.generatedBy = artifacts.generatedBy;
      if (artifacts.convertedBy !== undefined) json.convertedBy = artifacts.convertedBy;
      if (artifacts.trainingConfig !== undefined) json.trainingConfig = artifacts.trainingConfig;
      if (artifacts.signature !== undefined) json.signature = artifacts.signature;
      if (artifacts.userDefinedMetadata !== undefined) json.userDefinedMetadata = artifacts.userDefinedMetadata;
      if (artifacts.modelInitializer !== undefined) json.modelInitializer = artifacts.modelInitializer;
      writeFileSync(join(directory, WEIGHTS_FILE), new Uint8Array(weights));
      writeFileSync(join(directory, "model.json"), JSON.stringify(json));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const jsonPath = join(directory, "model.json");
      if (!existsSync(jsonPath)) throw new FileError(jsonPath, `no tfjs model at ${directory}: ${jsonPath} does not exist`, "not-found");
      let json: tf.io.ModelJSON;
      try {
        json = JSON.parse(readFileSync(jsonPath, "utf8")) as tf.io.ModelJSON;
      } catch (err) {
        throw new FileError(jsonPath, `${jsonPath} is not valid JSON: ${(err as Error).message}`);
      }
      if (!json.modelTopology) throw new FileError(jsonPath, `${jsonPath} has no modelTopology: not a tfjs model.json`);
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const p of group.paths) {
            const file = join(directory, p);
            if (!existsSync(file)) throw new FileError(file, `weights file ${file} (listed in ${jsonPath}) is missing`, "not-found");
            const bytes = readFileSync(file);
            buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
          }
        }
        const data = tf.io.concatenateArrayBuffers(buffers);
        const needed = specs.reduce((n, s) => n + tf.util.sizeFromShape(s.shape) * (s.dtype === "float32" || s.dtype === "int32" ? 4 : 1), 0);
        if (!specs.some((s) => s.quantization) && data.byteLength !== needed) {
          throw new FileError(directory, `weights in ${directory} have ${data.byteLength} bytes, the manifest describes ${needed} (truncated or mismatched files)`);
        }
        return [specs, data];
      });
    },
  };
}

/** Saves a LayersModel to DIR (model.json + weights.bin), creating DIR. */
export async function saveModelToDir(model: tf.LayersModel, dir: string): Promise<void> {
  await saveModel(model, fileSystemHandler(dir));
}

/** Loads a LayersModel or GraphModel from DIR (or DIR/model.json, or a file:// URL). */
export function loadModelFromDir(dir: string): Promise<tf.LayersModel | tf.GraphModel> {
  return loadModel(fileSystemHandler(dir));
}

export function loadLayersModelFromDir(dir: string): Promise<tf.LayersModel> {
  return loadLayersModel(fileSystemHandler(dir));
}

export function modelExists(dir: string): boolean {
  return existsSync(join(toDirectory(dir), "model.json"));
}
