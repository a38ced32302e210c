// The browser build of the library: everything that runs without Node (the WASM core, the tfjs models on
// the WASM backend, the defenses), bundled by scripts/build-browser.mjs into dist/browser/prediction-poisoning.js.
// After bundling, tell the loaders where the .wasm files are served:
//   await initBackend({ wasmPaths: "/assets/" });            // tfjs-backend-wasm*.wasm
//   const core = await loadCore(new URL("/assets/core.wasm", location.href));
export { loadCore, CoreInputError } from "../core/index.js";
export type { Core, CoreSource, Jacobian, Perturber, PerturbOptions, Oracle, Objective, Distance, Step } from "../core/index.js";
export { initBackend, backendInfo } from "../models/backend.js";
export type { BackendInfo, BackendOptions } from "../models/backend.js";
export { buildModel, countParameters } from "../models/zoo.js";
export type { Architecture, ModelSpec } from "../models/zoo.js";
export { TfjsClassifier } from "../models/tfjs-model.js";
export { Proxy } from "../models/proxy.js";
export { loadModel, loadLayersModel, saveModel } from "../models/serialization.js";
export type { InputBatch, ProbabilityModel } from "../models/types.js";
export { createDefense, listDefenses, describeDefense } from "../defenses/registry.js";
export type { Defense, DefenseBatch, DefenseResult, DefenseTraits } from "../defenses/defense.js";
export { toMnistInput, inkFromRgba } from "./mnist-input.js";
