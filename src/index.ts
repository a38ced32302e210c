// The package entry point: the public API of each layer. Everything reachable from here imports
// nothing from `node:`, so it bundles for browsers and edge runtimes; Node-only adapters (files,
// worker threads, the HTTP server, Redis budgets) are in "prediction-poisoning/node".
export * from "./core/index.js";
export * from "./models/index.js";
export * from "./defenses/index.js";
export * from "./thieves/index.js";
export * from "./service/index.js";
