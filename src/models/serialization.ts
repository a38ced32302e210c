// Saving and loading models in the standard tfjs format (model.json + binary weights). Anywhere:
// URLs (tf.io.http) or any tf.io.IOHandler; Node's file system handler lives in src/node/model-files.ts.
// Loading detects whether the artifacts are a LayersModel or a GraphModel.
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "./backend.js";
// the Rescaling layer's class must be registered before a zoo model is deserialised
import "./zoo.js";
import { ModelConfigError, ModelDataError } from "./errors.js";

export type ModelLocation = string | tf.io.IOHandler;

function handlerFor(location: ModelLocation, purpose: "save" | "load"): tf.io.IOHandler {
  if (typeof location !== "string") return location;
  if (/^(https?:)?\/\//.test(location) || location.startsWith("/") || location.startsWith(".")) {
    // URL of model.json (load) or of the endpoint that accepts the multipart upload (save)
    return tf.io.http(location);
  }
  const routed = purpose === "save" ? tf.io.getSaveHandlers(location) : tf.io.getLoadHandlers(location);
  if (routed.length === 1) return routed[0];
  throw new ModelConfigError(`no tfjs IO handler for "${location}" (${purpose}); pass a URL, an IOHandler or, in Node, use src/node/model-files.ts`);
}

/** Saves a LayersModel (topology + weights) to a URL or an IOHandler. */
export async function saveModel(model: tf.LayersModel, location: ModelLocation): Promise<tf.io.SaveResult> {
  await initBackend();
  return model.save(handlerFor(location, "save"));
}

/** Whether tfjs artifacts describe a GraphModel (converted TensorFlow graph) rather than a LayersModel. */
export function isGraphModelArtifacts(artifacts: tf.io.ModelArtifacts): boolean {
  if (artifacts.format === "graph-model") return true;
  if (artifacts.format === "layers-model") return false;
  const topology = artifacts.modelTopology as { node?: unknown } | undefined;
  return !!topology && !(topology instanceof ArrayBuffer) && Array.isArray(topology.node);
}

/** Loads a LayersModel or a GraphModel from a model.json URL or an IOHandler. */
export async function loadModel(location: ModelLocation): Promise<tf.LayersModel | tf.GraphModel> {
  await initBackend();
  const handler = handlerFor(location, "load");
  if (!handler.load) throw new ModelConfigError("the IO handler cannot load");
  const artifacts = await handler.load();
  if (!artifacts.modelTopology) throw new ModelDataError(`no model topology in the artifacts loaded from ${typeof location === "string" ? location : "the IO handler"}`);
  return isGraphModelArtifacts(artifacts)
    ? tf.loadGraphModel(tf.io.fromMemory(artifacts))
    : tf.loadLayersModel(tf.io.fromMemory(artifacts));
}

/** Loads and insists on a LayersModel (needed to train it or use it as a proxy). */
export async function loadLayersModel(location: ModelLocation): Promise<tf.LayersModel> {
  const model = await loadModel(location);
  if (!(model instanceof tf.LayersModel)) throw new ModelDataError("expected a tfjs LayersModel but the artifacts hold a GraphModel");
  return model;
}
