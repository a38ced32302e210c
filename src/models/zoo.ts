// The model zoo: LeNet (MAD.md section 7), a small MLP and a VGG-style CNN for 32x32x3. Models take
// raw pixels in [0, 1], normalise inside (a standard Rescaling layer, so saved models load in any
// tfjs) and output logits. Weights are PyTorch's default initialisation, seeded per layer.
import * as tf from "@tensorflow/tfjs";
import { deriveSeed } from "./random.js";
import { assertWasmBackend } from "./backend.js";
import { ModelConfigError } from "./errors.js";

export type Architecture = "lenet" | "mlp" | "vgg";
export const architectures: readonly Architecture[] = ["lenet", "mlp", "vgg"];

export interface ModelSpec {
  arch: Architecture;
  numClasses: number;
  /** Per-example input shape [height, width, channels]. */
  inputShape: readonly number[];
  seed: number;
  /** Input normalisation (x - mean) / std applied inside the model; default from the channel count. */
  normalization?: { mean: number; std: number };
}

/** MNIST statistics for one channel; for three channels, the usual mid-grey scaling. */
export function defaultNormalization(channels: number): { mean: number; std: number } {
  return channels === 1 ? { mean: 0.1307, std: 0.3081 } : { mean: 0.5, std: 0.25 };
}

function validateSpec(spec: ModelSpec): void {
  if (!architectures.includes(spec.arch)) throw new ModelConfigError(`unknown architecture "${spec.arch}"; expected one of ${architectures.join(", ")}`);
  if (!Number.isInteger(spec.numClasses) || spec.numClasses < 2) throw new ModelConfigError(`numClasses must be an integer >= 2, got ${spec.numClasses}`);
  if (spec.inputShape.length !== 3 || spec.inputShape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new ModelConfigError(`inputShape must be [height, width, channels] with positive integers, got [${spec.inputShape}]`);
  }
  if (!Number.isFinite(spec.seed)) throw new ModelConfigError(`seed must be a finite number, got ${spec.seed}`);
  const n = spec.normalization;
  if (n && (!Number.isFinite(n.mean) || !Number.isFinite(n.std) || n.std <= 0)) throw new ModelConfigError(`normalization needs a finite mean and a positive std, got ${JSON.stringify(n)}`);
}

/** Builds layers with seeded weights: layer i draws from deriveSeed(seed, i). */
class SeededLayers {
  private next = 0;
  constructor(private readonly seed: number) {}

  // PyTorch's default: U(-1/sqrt(fanIn), 1/sqrt(fanIn)) for weights and biases
  private init(fanIn: number) {
    const limit = 1 / Math.sqrt(fanIn);
    const k = this.next++;
    return {
      kernelInitializer: tf.initializers.randomUniform({ minval: -limit, maxval: limit, seed: deriveSeed(this.seed, 2 * k) }),
      biasInitializer: tf.initializers.randomUniform({ minval: -limit, maxval: limit, seed: deriveSeed(this.seed, 2 * k + 1) }),
    };
  }

  conv(name: string, inChannels: number, filters: number, kernelSize: number, padding: "valid" | "same", activation: "relu" | "linear" = "relu", inputShape?: number[]) {
    return tf.layers.conv2d({ name, filters, kernelSize, padding, activation, inputShape, ...this.init(inChannels * kernelSize * kernelSize) });
  }

  dense(name: string, inUnits: number, units: number, activation: "relu" | "linear") {
    return tf.layers.dense({ name, units, activation, ...this.init(inUnits) });
  }
}

function normalizer(spec: ModelSpec) {
  const { mean, std } = spec.normalization ?? defaultNormalization(spec.inputShape[2]);
  return tf.layers.rescaling({ name: "normalize", scale: 1 / std, offset: -mean / std, inputShape: [...spec.inputShape] });
}

/** The model's layers, without the model: shared by buildModel and the parameter count. */
function lenet(spec: ModelSpec, s: SeededLayers): tf.layers.Layer[] {
  const [h, w, c] = spec.inputShape;
  const h2 = Math.floor((h - 4) / 2), w2 = Math.floor((w - 4) / 2);
  const h4 = Math.floor((h2 - 4) / 2), w4 = Math.floor((w2 - 4) / 2);
  if (h4 < 1 || w4 < 1) throw new ModelConfigError(`lenet needs inputs of at least 16x16, got [${spec.inputShape}]`);
  return [
    normalizer(spec),
    s.conv("conv1", c, 20, 5, "valid"),
    tf.layers.maxPooling2d({ name: "pool1", poolSize: 2 }),
    s.conv("conv2", 20, 50, 5, "valid"),
    tf.layers.maxPooling2d({ name: "pool2", poolSize: 2 }),
    tf.layers.flatten({ name: "flatten" }),
    s.dense("fc1", h4 * w4 * 50, 500, "relu"),
    s.dense("logits", 500, spec.numClasses, "linear"),
  ];
}

function mlp(spec: ModelSpec, s: SeededLayers): tf.layers.Layer[] {
  const inputs = spec.inputShape.reduce((a, b) => a * b, 1);
  return [
    normalizer(spec),
    tf.layers.flatten({ name: "flatten" }),
    s.dense("fc1", inputs, 256, "relu"),
    s.dense("fc2", 256, 128, "relu"),
    s.dense("logits", 128, spec.numClasses, "linear"),
  ];
}

function vgg(spec: ModelSpec, s: SeededLayers): tf.layers.Layer[] {
  const [h, w, c] = spec.inputShape;
  if (h % 8 !== 0 || w % 8 !== 0) throw new ModelConfigError(`vgg needs height and width divisible by 8, got [${spec.inputShape}]`);
  const layers: tf.layers.Layer[] = [normalizer(spec)];
  let channels = c;
  for (const [block, filters] of [[1, 32], [2, 64], [3, 128]] as const) {
    layers.push(s.conv(`conv${block}a`, channels, filters, 3, "same"));
    layers.push(s.conv(`conv${block}b`, filters, filters, 3, "same"));
    layers.push(tf.layers.maxPooling2d({ name: `pool${block}`, poolSize: 2 }));
    channels = filters;
  }
  layers.push(tf.layers.flatten({ name: "flatten" }));
  layers.push(s.dense("fc1", (h / 8) * (w / 8) * 128, 256, "relu"));
  layers.push(s.dense("logits", 256, spec.numClasses, "linear"));
  return layers;
}

/** Why `arch` cannot take inputs of `inputShape` (null when it can): the same checks buildModel makes. */
export function architectureMisfit(arch: Architecture, inputShape: readonly number[]): string | null {
  if (inputShape.length !== 3 || inputShape.some((d) => !Number.isInteger(d) || d < 1)) return `inputs must be [height, width, channels], got [${inputShape}]`;
  const [h, w] = inputShape;
  if (arch === "lenet" && (Math.floor((Math.floor((h - 4) / 2) - 4) / 2) < 1 || Math.floor((Math.floor((w - 4) / 2) - 4) / 2) < 1)) return `lenet needs inputs of at least 16x16, got [${inputShape}]`;
  if (arch === "vgg" && (h % 8 !== 0 || w % 8 !== 0)) return `vgg needs height and width divisible by 8, got [${inputShape}]`;
  return null;
}

/** The zoo's architectures that take inputs of `inputShape`. */
export function architecturesFor(inputShape: readonly number[]): Architecture[] {
  return architectures.filter((arch) => architectureMisfit(arch, inputShape) === null);
}

/**
 * The architecture chosen for inputs of `inputShape` when none is named: vgg for colour images whose sides
 * divide by 8 (the zoo's 32x32x3 network), else lenet (the paper's) from 16x16 up, else mlp (takes any shape).
 */
export function defaultArchitecture(inputShape: readonly number[]): Architecture {
  if (inputShape[2] === 3 && architectureMisfit("vgg", inputShape) === null) return "vgg";
  return architectureMisfit("lenet", inputShape) === null ? "lenet" : "mlp";
}

/** Throws, naming the architectures that fit, when `arch` cannot take inputs of `inputShape`. */
export function assertArchitectureFits(arch: Architecture, inputShape: readonly number[]): void {
  const misfit = architectureMisfit(arch, inputShape);
  if (misfit) throw new ModelConfigError(`${misfit}; architectures that take [${inputShape}]: ${architecturesFor(inputShape).join(", ") || "none"}`);
}

/** A fresh model with deterministic weights for (spec.arch, spec.inputShape, spec.numClasses, spec.seed). */
export function buildModel(spec: ModelSpec): tf.Sequential {
  validateSpec(spec);
  assertWasmBackend();
  const seeded = new SeededLayers(spec.seed);
  const layers = spec.arch === "lenet" ? lenet(spec, seeded) : spec.arch === "mlp" ? mlp(spec, seeded) : vgg(spec, seeded);
  return tf.sequential({ name: `${spec.arch}_k${spec.numClasses}`, layers });
}

/** Number of trainable and non-trainable scalars. */
export function countParameters(model: tf.LayersModel): number {
  return model.countParams();
}

/** The name of the layer whose output is the logits (the last layer). */
export function logitsLayerName(model: tf.LayersModel): string {
  return model.layers[model.layers.length - 1].name;
}
