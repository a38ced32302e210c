// The package entry point: the public API of each layer.
export * from "./core/index.js";
export * from "./models/index.js";
export { loadModelFromDir, loadLayersModelFromDir, saveModelToDir, fileSystemHandler } from "./node/model-files.js";
export { loadOrTrainVictim, trainVictimToDir, readVictimMetadata } from "./node/victim-files.js";
export { loadFashionMnist, fashionMnistAvailable } from "./node/fashion-mnist.js";
export * from "./defenses/index.js";
export * from "./service/index.js";
