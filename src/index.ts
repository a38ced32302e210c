// The package entry point: the public API of each layer.
export * from "./core/index.js";
export * from "./defenses/index.js";
export * from "./service/index.js";
